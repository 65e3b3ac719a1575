//! Platforms without signal support: every entry point compiles and reports `Unsupported`.

mod kill;
pub(crate) use kill::*;

use std::io;
use std::time::Duration;

use crate::{ConfigFlag, ExitReason};

/// What the platform reports to the core (nothing, here: the variants exist for the core's
/// `match`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum Event {
    /// A termination request.
    Reason(ExitReason),
    /// A wake-up.
    Wake,
}

/// No signals are handled here.
pub(crate) fn handled_signals(_flags: ConfigFlag) -> Vec<i32> {
    Vec::new()
}

/// Installation is not possible on this platform.
pub(crate) fn install(_flags: ConfigFlag, _on_event: fn(Event), _on_exit: fn()) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "safe-exit has no signal support for this platform yet",
    ))
}

/// No watcher here.
pub(crate) fn wake() -> bool {
    false
}

/// Nothing to tell a handler here.
pub(crate) fn set_started() {}

/// Before a hook runs on the calling thread: nothing to restore here.
pub(crate) fn unmask_for_hooks() {}

/// Nothing to tell a handler here.
pub(crate) fn set_ending() {}

/// Nothing to tell a handler here.
pub(crate) fn set_force_on_repeat(_force: bool) {}

/// No thread ids here.
pub(crate) fn current_thread() -> u64 {
    0
}

/// Cannot be known here.
pub(crate) fn parked_in_exit(_thread: u64) -> bool {
    false
}

/// Writes one line to stderr.
pub(crate) fn report(msg: &str) {
    use std::io::Write;
    let _ = writeln!(io::stderr(), "{msg}");
}

/// No alarm here.
pub(crate) fn arm_ending_alarm(_reason: ExitReason, _after: Duration) {}

/// Cannot be arranged here.
pub(crate) fn end_after_exit(_reason: ExitReason) -> bool {
    false
}

/// Ends the process with a failure status.
pub(crate) fn end_now(_reason: ExitReason) -> ! {
    std::process::abort()
}

/// No `fork` here; for the one platform-free caller.
pub(crate) fn exit_forked_child(code: i32) -> ! {
    std::process::exit(code)
}

/// No watcher thread here.
pub(crate) fn watcher_thread() -> Option<u64> {
    None
}

/// The signals whose default action stops a process, beside SIGSTOP: none here.
pub(crate) const KEYBOARD_STOPS: [i32; 0] = [];

/// No process ids here (`std::process::id` panics on such targets): one constant process.
pub(crate) fn process_id() -> u32 {
    0
}

/// Processes cannot be started on this platform: there is nothing to arrange.
pub(crate) fn die_with_parent(_cmd: &mut std::process::Command) {}

/// No means here.
pub(crate) fn prepare_for_spawn() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "die_with_parent is not supported on this platform",
    ))
}

/// systemd's notification protocol has no counterpart here: nothing is sent.
pub(crate) fn notify(_state: &str) -> std::io::Result<bool> {
    Ok(false)
}

pub(crate) use super::no_service::{report_service_stopped, run_service};
