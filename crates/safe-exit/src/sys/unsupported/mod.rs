//! Platforms without signal support: every entry point compiles and reports `Unsupported`.

mod kill;
pub(crate) use kill::*;

use std::io;

use crate::{ConfigFlag, ExitReason};

/// No signals are handled here.
pub(crate) fn handled_signals(_flags: ConfigFlag) -> Vec<i32> {
    Vec::new()
}

/// Installation is not possible on this platform.
pub(crate) fn install(_flags: ConfigFlag) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "safe-exit has no signal support for this platform yet",
    ))
}

/// Ends the process with a failure status.
pub(crate) fn terminate(_reason: ExitReason) -> ! {
    std::process::abort()
}
