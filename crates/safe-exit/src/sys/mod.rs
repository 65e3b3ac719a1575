//! Platform code. Each platform module exposes the same internal functions; everything above
//! `sys` is platform-free.
//!
//! Exit hooks:
//! - `install(flags) -> io::Result<()>`: install the handlers for the signals that `flags`
//!   selects, start the watcher that calls [`crate::registry::on_termination`], and arrange for
//!   [`crate::registry::on_normal_exit`] to run when the process exits normally. Called once per
//!   process (again in a child forked without exec).
//! - `terminate(reason) -> !`: end the process the way `reason` says (by the same signal).
//! - `handled_signals(flags)`: the signal numbers `install` would handle.
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
