//! Which signals and events are handled, and the one-time installation. Platform-free.

use std::sync::{Mutex, PoisonError};

use crate::Error;

bitflags::bitflags! {
    /// Which signals and console events end the process through the exit hooks, beyond SIGINT
    /// and SIGTERM, which are always handled. Pass to [`config`](crate::config).
    ///
    /// Flags for the other platform are accepted and ignored, so one configuration serves
    /// both. `ConfigFlag::empty()` is valid: SIGINT and SIGTERM only.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct ConfigFlag: u32 {
        /// Handle SIGQUIT (unix). Its default action would otherwise dump core without hooks.
        const SIGQUIT = 1 << 0;
        /// Handle SIGHUP (unix): the terminal closed, or a supervisor asks to stop.
        const SIGHUP = 1 << 1;
        /// Handle SIGBREAK / CTRL_BREAK_EVENT (Windows).
        const SIGBREAK = 1 << 2;
        /// Handle CTRL_CLOSE_EVENT: the console window is closing (Windows).
        const CTRL_CLOSE = 1 << 3;
        /// Handle CTRL_SHUTDOWN_EVENT: the system is shutting down (Windows services).
        const CTRL_SHUTDOWN = 1 << 4;
        /// Handle CTRL_LOGOFF_EVENT: the user is logging off (Windows services).
        const CTRL_LOGOFF = 1 << 5;
        /// Allocate a hidden console when the process has none, so that it can receive console
        /// events and be asked to close (Windows).
        const AUTO_CREATE_CONSOLE = 1 << 6;
        /// Hide the process's console window (Windows).
        const FORCE_HIDE_CONSOLE = 1 << 7;
    }
}

/// The Windows console events that end a process: close, shutdown and logoff.
pub const CONFIG_CTRL_ALL: ConfigFlag = ConfigFlag::CTRL_CLOSE
    .union(ConfigFlag::CTRL_SHUTDOWN)
    .union(ConfigFlag::CTRL_LOGOFF);

/// What [`register`](crate::register) installs when [`config`](crate::config) was not called:
/// every signal and console event that ends a process, and no console changes.
pub const DEFAULT_CONFIG: ConfigFlag = ConfigFlag::SIGQUIT
    .union(ConfigFlag::SIGHUP)
    .union(ConfigFlag::SIGBREAK)
    .union(CONFIG_CTRL_ALL);

/// The configuration in force, and the process it was installed in.
static INSTALLED: Mutex<Option<(ConfigFlag, u32)>> = Mutex::new(None);

/// Installs `flags` unless this process is already configured. With `strict`, an existing
/// configuration that differs from `flags` is an error; without, the existing one stands.
pub(crate) fn install(flags: ConfigFlag, strict: bool) -> Result<(), Error> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    match *installed {
        Some((current, owner)) if owner == pid => {
            if strict && current != flags {
                return Err(Error::AlreadyConfigured {
                    current,
                    requested: flags,
                });
            }
            Ok(())
        }
        inherited => {
            if inherited.is_some() {
                // A child forked without exec sets itself up anew.
                crate::registry::reset_after_fork();
            }
            crate::sys::imp::install(flags).map_err(Error::Install)?;
            *installed = Some((flags, pid));
            Ok(())
        }
    }
}

/// The configuration in force in this process, if any.
pub(crate) fn current() -> Option<ConfigFlag> {
    let installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    match *installed {
        Some((flags, owner)) if owner == std::process::id() => Some(flags),
        _ => None,
    }
}
