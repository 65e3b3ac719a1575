//! Platform code. Each platform module exposes the same internal items; everything above `sys`
//! is platform-free, and nothing in `sys` calls above it (the core hands it function pointers).
//!
//! Exit hooks:
//! - `Event`: what the platform reports to the core: `Reason(ExitReason)` (a termination signal
//!   or console event) or `Wake` (see `wake`).
//! - `install(flags, on_event, on_exit) -> io::Result<()>`: install the handlers for the
//!   signals and events that `flags` selects, start what reports them to `on_event`, and
//!   arrange for `on_exit` to run when the process exits normally. Called once per process
//!   (again in a child forked without exec).
//! - `wake() -> bool`: have the platform's watcher thread call `on_event(Event::Wake)`; false
//!   where there is none.
//! - `unmask_for_hooks()`: before a hook runs on the calling thread, give it the program's
//!   usual signal mask if it is a watcher that blocks the handled signals (unix).
//! - `set_started()`, `set_ending()`, `set_force_on_repeat(bool)`: what the signal handler does
//!   with the next signal (a repeat; end at once; force on repeat).
//! - `end_now(reason) -> !`, `end_after_exit(reason) -> bool`, `arm_ending_alarm(reason, d)`:
//!   end the process the way `reason` says: now, after `exit` has done its work, or if the
//!   ending has not finished within `d`.
//! - `current_thread() -> u64`, `parked_in_exit(thread) -> bool`, `report(msg)`.
//! - `handled_signals(flags)`: the signal numbers `install` would handle.
//! - `notify(state) -> io::Result<bool>`: systemd's notification (`$NOTIFY_SOCKET`); `Ok(false)`
//!   where it is not set or has no meaning.
//! - `run_service(name, main, core)` (with [`ServiceCore`], defined here once): run `main` as
//!   a Windows service, calling the core's `stop(control)` for STOP/SHUTDOWN/PRESHUTDOWN and
//!   `finish()` after `main` returns; elsewhere `main` runs as the program.
//!   `report_service_stopped(code)`: the process is about to `exit(code)`; a service says so.
//!
//! safe_kill: see `kill` in each platform module.

#[cfg(unix)]
pub(crate) mod unix;
#[cfg(unix)]
pub(crate) use unix as imp;

#[cfg(windows)]
pub(crate) mod windows;
#[cfg(windows)]
pub(crate) use windows as imp;

#[cfg(not(any(unix, windows)))]
pub(crate) mod unsupported;
#[cfg(not(any(unix, windows)))]
pub(crate) use unsupported as imp;

/// What the core does for a Windows service: `stop(control)` when the service control manager
/// asks the service to stop (on the manager's thread: it does not wait), `finish()` after the
/// service's main function returned (runs the hooks), `budget()` what a stop may still take
/// under the policy. Only the Windows service code reads it.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) struct ServiceCore {
    pub(crate) stop: fn(u32),
    pub(crate) finish: fn(),
    pub(crate) budget: fn() -> Option<std::time::Duration>,
}

/// Where there is no service control manager.
#[cfg(not(windows))]
mod no_service {
    use super::ServiceCore;

    /// `service_main` runs as the program itself.
    pub(crate) fn run_service(
        _name: &str,
        service_main: Box<dyn FnOnce() -> i32 + Send>,
        _core: ServiceCore,
    ) -> std::io::Result<i32> {
        Ok(service_main())
    }

    /// Nothing to report.
    pub(crate) fn report_service_stopped(_code: i32) {}
}
