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
//! - `set_started()`, `set_ending()`, `set_force_on_repeat(bool)`: what the signal handler does
//!   with the next signal (a repeat; end at once; force on repeat).
//! - `end_now(reason) -> !`, `end_after_exit(reason) -> bool`, `arm_ending_alarm(reason, d)`:
//!   end the process the way `reason` says: now, after `exit` has done its work, or if the
//!   ending has not finished within `d`.
//! - `current_thread() -> u64`, `parked_in_exit(thread) -> bool`, `report(msg)`.
//! - `handled_signals(flags)`: the signal numbers `install` would handle.
//! - `notify(state) -> io::Result<bool>`: systemd's notification (`$NOTIFY_SOCKET`); `Ok(false)`
//!   where it is not set or has no meaning.
//! - `ServiceCore { stop, finish, budget }` and `run_service(name, main, core)`: run `main` as
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
