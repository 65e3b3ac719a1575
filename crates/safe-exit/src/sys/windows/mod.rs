//! Windows: a console control handler (Ctrl-C, Ctrl-Break, close, logoff, shutdown), a hidden
//! window for logoff and shutdown in a process with user32, and the C runtime's `atexit`;
//! process handles, `WM_CLOSE` and console control events for safe_kill.

mod console;
mod job;
mod kill;
mod service;
mod session;
mod signal;

pub(crate) use job::{die_with_parent, prepare_for_spawn};
pub(crate) use kill::*;
pub(crate) use service::run_service;
pub(crate) use signal::*;

/// The signals whose default action stops a process, beside SIGSTOP: none here.
pub(crate) const KEYBOARD_STOPS: [i32; 0] = [];

/// This process's id.
pub(crate) fn process_id() -> u32 {
    std::process::id()
}

/// systemd's notification protocol has no counterpart here: nothing is sent.
pub(crate) fn notify(_state: &str) -> std::io::Result<bool> {
    Ok(false)
}

/// Reports `SERVICE_STOPPED` with `code` if this process is a service that has not yet (the
/// process is about to end with `exit(code)`).
pub(crate) fn report_service_stopped(code: i32) {
    service::report_stopped(code as u32);
}
