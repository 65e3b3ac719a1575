//! Which signals and events are handled. Platform-free.

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

impl ConfigFlag {
    /// The Windows console events that end a process: close, shutdown and logoff.
    pub const CTRL_ALL: ConfigFlag = ConfigFlag::CTRL_CLOSE
        .union(ConfigFlag::CTRL_SHUTDOWN)
        .union(ConfigFlag::CTRL_LOGOFF);

    /// What [`register`](crate::register) installs when [`config`](crate::config) was not
    /// called: every signal and console event that ends a process, and no console changes.
    pub const DEFAULT: ConfigFlag = ConfigFlag::SIGQUIT
        .union(ConfigFlag::SIGHUP)
        .union(ConfigFlag::SIGBREAK)
        .union(ConfigFlag::CTRL_ALL);

    /// The signals these flags make safe-exit handle on this platform: SIGINT and SIGTERM
    /// always; SIGQUIT and SIGHUP by flag on unix, SIGBREAK by flag on Windows. For a program
    /// or binding that needs to know which signals [`config`](crate::config) will take over
    /// (the Python package installs its own handlers for exactly these).
    ///
    /// ```
    /// use safe_exit::{ConfigFlag, Signal};
    /// let sigs = ConfigFlag::empty().signals();
    /// assert_eq!(sigs, [Signal::INT, Signal::TERM]);
    /// ```
    pub fn signals(self) -> Vec<crate::Signal> {
        crate::sys::imp::handled_signals(self)
            .into_iter()
            .map(crate::Signal::from_platform)
            .collect()
    }
}

/// [`ConfigFlag::CTRL_ALL`], by the name the original Python package gives it.
pub const CONFIG_CTRL_ALL: ConfigFlag = ConfigFlag::CTRL_ALL;

/// [`ConfigFlag::DEFAULT`], by the name the original Python package gives it.
pub const DEFAULT_CONFIG: ConfigFlag = ConfigFlag::DEFAULT;
