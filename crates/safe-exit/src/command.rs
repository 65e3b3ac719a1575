//! [`CommandExt`]: children that die with this process, even when it dies without running
//! its hooks.

use std::process::Command;

use crate::sys::imp as sys;

/// Extends [`std::process::Command`] with [`die_with_parent`](CommandExt::die_with_parent).
///
/// Sealed: implemented for [`Command`] only.
pub trait CommandExt: sealed::Sealed {
    /// Makes the child die with this process, whatever way this process ends: also when it
    /// is killed with SIGKILL, aborts or crashes, when no hook can run.
    ///
    /// (Documented in full by the platform implementation.)
    fn die_with_parent(&mut self) -> &mut Self;
}

impl CommandExt for Command {
    fn die_with_parent(&mut self) -> &mut Self {
        sys::die_with_parent(self);
        self
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::process::Command {}
}
