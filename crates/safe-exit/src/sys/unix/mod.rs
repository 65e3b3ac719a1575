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

/// What the core does for a service (see `ServiceCore` in `sys/mod.rs`): only a Windows
/// service control manager calls it.
#[allow(dead_code)]
pub(crate) struct ServiceCore {
    pub(crate) stop: fn(u32),
    pub(crate) finish: fn(),
    pub(crate) budget: fn() -> Option<std::time::Duration>,
}

/// No service control manager here: `service_main` runs as the program itself.
pub(crate) fn run_service(
    _name: &str,
    service_main: Box<dyn FnOnce() -> i32 + Send>,
    _core: ServiceCore,
) -> std::io::Result<i32> {
    Ok(service_main())
}

/// No service control manager here: nothing to report.
pub(crate) fn report_service_stopped(_code: i32) {}
