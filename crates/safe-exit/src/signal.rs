//! [`Signal`]: a signal that can ask a process to end.

use std::fmt;
use std::num::NonZeroI32;

use crate::sys::imp as sys;
use crate::KillError;

/// A signal that can ask a process to end, or that ended one (in
/// [`ExitReason::Signal`](crate::ExitReason::Signal)).
///
/// Never 0 (which tests whether a process exists and sends nothing), never a number that is
/// not a signal on this platform, never SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU or SIGCONT (which
/// stop and continue a process instead of ending it). The constants are the usual choices; any other signal of the
/// platform (a real-time signal on Linux, say) comes from its number with `TryFrom<i32>`,
/// which says why a number is refused:
///
/// ```
/// use safe_exit::{KillError, Signal};
///
/// assert_eq!(Signal::TERM.as_raw(), 15);
/// assert_eq!(Signal::try_from(2)?, Signal::INT);
/// assert!(matches!(Signal::try_from(0), Err(KillError::InvalidSignal { .. })));
/// # #[cfg(unix)]
/// assert!(Signal::try_from(libc::SIGSTOP).is_err());
/// # Ok::<(), KillError>(())
/// ```
///
/// On Windows the signal names the request that [`safe_kill_with`](crate::safe_kill_with)
/// makes: [`Signal::TERM`], [`Signal::INT`], `Signal::BREAK` and [`Signal::KILL`]; other
/// numbers up to 22 (the C runtime's) are refused when sent.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signal(NonZeroI32);

/// The number, as `{:?}` of the number itself: `ExitReason::Signal(Signal::TERM)` shows as
/// `Signal(15)` on Linux.
impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// For the constants: every one of them is a positive signal number.
const fn known(signal: i32) -> Signal {
    match NonZeroI32::new(signal) {
        Some(n) => Signal(n),
        None => panic!("signal numbers are positive"),
    }
}

impl Signal {
    /// SIGTERM: the polite request to end, what `kill`, Docker, Kubernetes and systemd send.
    /// On Windows, `WM_CLOSE` to the target's windows, else Ctrl-C on its console.
    pub const TERM: Signal = known(sys::SIGTERM);
    /// SIGINT: Ctrl-C at a terminal (on Windows, `CTRL_C_EVENT`).
    pub const INT: Signal = known(sys::SIGINT);
    /// SIGKILL: ends a process at once and cannot be caught (on Windows, `TerminateProcess`).
    pub const KILL: Signal = known(sys::SIGKILL);
    /// SIGHUP: the terminal closed; daemons often take it as "reload".
    #[cfg(unix)]
    pub const HUP: Signal = known(sys::SIGHUP);
    /// SIGQUIT: Ctrl-\ at a terminal; its default action dumps core.
    #[cfg(unix)]
    pub const QUIT: Signal = known(sys::SIGQUIT);
    /// SIGUSR1, for programs that give it a meaning of their own.
    #[cfg(unix)]
    pub const USR1: Signal = known(sys::SIGUSR1);
    /// SIGUSR2, for programs that give it a meaning of their own.
    #[cfg(unix)]
    pub const USR2: Signal = known(sys::SIGUSR2);
    /// SIGBREAK: Ctrl-Break on a Windows console (`CTRL_BREAK_EVENT`).
    #[cfg(windows)]
    pub const BREAK: Signal = known(sys::SIGBREAK);

    /// The signal's number on this platform.
    pub const fn as_raw(self) -> i32 {
        self.0.get()
    }

    /// A number the platform reported as a signal (a handler's argument): no checks.
    pub(crate) const fn from_platform(signal: i32) -> Signal {
        known(signal)
    }

    /// Why `signal` cannot ask a process to end here, or `None`: the one place that decides.
    pub(crate) fn refusal(signal: i32) -> Option<String> {
        let max = sys::max_signal();
        if signal == 0 {
            Some("0 is not a signal (it only tests whether a process exists)".into())
        } else if signal < 0 || signal > max {
            Some(format!("signals on this platform are 1 to {max}"))
        } else if signal == sys::SIGSTOP {
            Some("SIGSTOP stops a process instead of ending it".into())
        } else if sys::KEYBOARD_STOPS.contains(&signal) {
            Some(format!(
                "signal {signal} (SIGTSTP, SIGTTIN or SIGTTOU) stops a process by default \
                 instead of ending it"
            ))
        } else if signal == sys::SIGCONT {
            Some("SIGCONT continues a process instead of ending it".into())
        } else {
            None
        }
    }
}

impl TryFrom<i32> for Signal {
    type Error = KillError;

    /// Refuses 0, numbers that are not signals here, SIGSTOP and SIGCONT with
    /// [`KillError::InvalidSignal`].
    fn try_from(signal: i32) -> Result<Signal, KillError> {
        match Signal::refusal(signal) {
            None => Ok(known(signal)),
            Some(reason) => Err(KillError::InvalidSignal {
                signal,
                reason,
                term: sys::SIGTERM,
            }),
        }
    }
}

impl From<Signal> for i32 {
    fn from(signal: Signal) -> i32 {
        signal.as_raw()
    }
}

/// The number, as `kill -l` takes it.
impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signals_that_can_end_a_process() {
        for sig in [
            0,
            -1,
            -15,
            sys::max_signal() + 1,
            i32::MAX,
            sys::SIGSTOP,
            sys::SIGCONT,
        ]
        .into_iter()
        .chain(sys::KEYBOARD_STOPS)
        {
            assert!(Signal::try_from(sig).is_err(), "{sig}");
        }
        for sig in [Signal::TERM, Signal::KILL, Signal::INT] {
            assert_eq!(Signal::try_from(sig.as_raw()).ok(), Some(sig));
        }
        assert!(Signal::try_from(sys::max_signal()).is_ok());
        let e = Signal::try_from(0).unwrap_err().to_string();
        assert!(e.contains("exists") && e.contains("SIGTERM"), "{e}");
    }
}
