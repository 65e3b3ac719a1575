//! Unix (Linux, macOS, the BSDs): signals through `signal-hook-registry`, a self-pipe watcher
//! thread, `atexit`; pidfd (Linux) or kqueue (macOS/BSD) for safe_kill.

mod kill;
mod signal;

#[allow(unused_imports)] // filled in by the safe_kill work
pub(crate) use kill::*;
pub(crate) use signal::*;
