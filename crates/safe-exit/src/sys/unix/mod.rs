//! Unix (Linux, macOS, the BSDs): signals through `signal-hook-registry`, a self-pipe watcher
//! thread, `atexit`; pidfd (Linux) or kqueue (macOS/BSD) for safe_kill.

mod exit;
mod guardian;
mod kill;
mod notify;
mod signal;

pub(crate) use exit::*;
pub(crate) use guardian::{die_with_parent, prepare_for_spawn, register_in_child};
pub(crate) use kill::*;
pub(crate) use notify::notify;
pub(crate) use signal::*;

/// The signal numbers that the platform-free code names (beside those of `kill`).
pub(crate) const SIGINT: i32 = libc::SIGINT;
pub(crate) const SIGHUP: i32 = libc::SIGHUP;
pub(crate) const SIGQUIT: i32 = libc::SIGQUIT;
pub(crate) const SIGUSR1: i32 = libc::SIGUSR1;
pub(crate) const SIGUSR2: i32 = libc::SIGUSR2;
/// The signals whose default action stops a process (beside SIGSTOP): they cannot end one.
pub(crate) const KEYBOARD_STOPS: [i32; 3] = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// This process's id.
pub(crate) fn process_id() -> u32 {
    std::process::id()
}

pub(crate) use super::no_service::{report_service_stopped, run_service};
