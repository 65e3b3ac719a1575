//! [`Pid`]: a process id that names one process.

use std::fmt;
use std::num::NonZeroI32;

use crate::KillError;

/// A process id that names **one** process: never 0 and never negative as the OS's `pid_t`.
///
/// `kill(0, sig)` signals the caller's whole process group, `kill(-1, sig)` every process the
/// caller may signal, and `kill(-N, sig)` the process group N; a `u32` such as `u32::MAX` is
/// -1 as a `pid_t`. None of these can be a `Pid`, so no function that takes one can send such
/// a signal. (Which *running* process a valid pid names, and whether it is the caller itself,
/// is checked when it is used: see [`safe_kill`](crate::safe_kill).)
///
/// Made with [`Pid::from_child`], or from a number with `TryFrom`, which says why a number is
/// refused:
///
/// ```
/// use safe_exit::{KillError, Pid};
///
/// let pid = Pid::try_from(1234_u32)?;
/// assert_eq!(pid.as_raw(), 1234);
/// assert!(matches!(Pid::try_from(0_u32), Err(KillError::InvalidPid { .. })));
/// assert!(Pid::try_from(u32::MAX).is_err()); // -1 as a pid_t: every process
/// assert!(Pid::try_from(-5_i32).is_err());   // process group 5
/// # Ok::<(), KillError>(())
/// ```
///
/// On Windows a process id is a `DWORD`; ids above `i32::MAX` are refused there too (Windows
/// does not hand them out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(NonZeroI32);

impl Pid {
    /// The pid of a child started with [`std::process::Command`].
    pub fn from_child(child: &std::process::Child) -> Pid {
        match Pid::try_from(child.id()) {
            Ok(pid) => pid,
            // The OS gave this id to a process it started: it is positive and fits a pid_t.
            Err(_) => unreachable!("a child's process id is a positive pid_t"),
        }
    }

    /// The pid of the calling process.
    #[cfg(test)]
    pub(crate) fn this_process() -> Pid {
        match Pid::try_from(std::process::id()) {
            Ok(pid) => pid,
            Err(_) => unreachable!("our own process id is a positive pid_t"),
        }
    }

    /// The pid as the OS's `pid_t`: always positive.
    pub const fn as_raw(self) -> i32 {
        self.0.get()
    }

    /// `Some` for a positive `pid_t`.
    pub(crate) fn new(pid: i32) -> Option<Pid> {
        NonZeroI32::new(pid).filter(|p| p.get() > 0).map(Pid)
    }

    /// Checks a pid given as any integer: the one place that decides which numbers are pids.
    fn check(pid: i64) -> Result<Pid, KillError> {
        let reason = if pid == 0 {
            "kill(0) signals every process in the caller's own process group"
        } else if pid == -1 || pid == i64::from(u32::MAX) {
            "as a pid_t it is -1, and kill(-1) signals every process the caller may signal"
        } else if pid < 0 {
            "a negative pid is a process group: kill(-N) signals every process in group N; \
             pass the group leader's pid with group mode instead"
        } else if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::new) {
            return Ok(pid);
        } else if pid <= i64::from(u32::MAX) {
            "it is too large for a pid_t: it would be negative, and kill(-N) signals process \
             group N"
        } else {
            "it is far too large for a process id"
        };
        Err(KillError::InvalidPid { pid, reason })
    }
}

impl TryFrom<u32> for Pid {
    type Error = KillError;

    /// Refuses 0 and numbers above `i32::MAX` (negative as a `pid_t`) with
    /// [`KillError::InvalidPid`].
    fn try_from(pid: u32) -> Result<Pid, KillError> {
        Pid::check(i64::from(pid))
    }
}

impl TryFrom<i32> for Pid {
    type Error = KillError;

    /// Refuses 0 and negative numbers with [`KillError::InvalidPid`].
    fn try_from(pid: i32) -> Result<Pid, KillError> {
        Pid::check(i64::from(pid))
    }
}

impl TryFrom<i64> for Pid {
    type Error = KillError;

    /// Refuses 0, negative numbers and numbers above `i32::MAX` with
    /// [`KillError::InvalidPid`]. For bindings whose integers are wider (Python's `int`).
    fn try_from(pid: i64) -> Result<Pid, KillError> {
        Pid::check(pid)
    }
}

impl From<Pid> for u32 {
    fn from(pid: Pid) -> u32 {
        pid.as_raw().unsigned_abs()
    }
}

impl From<Pid> for i32 {
    fn from(pid: Pid) -> i32 {
        pid.as_raw()
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_pid_t_values_are_pids() {
        for bad in [
            0,
            -1,
            -5,
            i64::from(i32::MIN),
            1 << 31,
            i64::from(u32::MAX),
            1 << 40,
        ] {
            let e = Pid::check(bad).unwrap_err();
            assert!(
                matches!(e, KillError::InvalidPid { pid, .. } if pid == bad),
                "{e}"
            );
            assert!(e.to_string().contains(&bad.to_string()), "{e}");
        }
        assert!(Pid::try_from(u32::MAX)
            .unwrap_err()
            .to_string()
            .contains("-1"));
        assert_eq!(Pid::try_from(1_u32).map(Pid::as_raw).ok(), Some(1));
        assert_eq!(
            Pid::try_from(i32::MAX).map(u32::from).ok(),
            Some(i32::MAX as u32)
        );
        assert!(Pid::new(0).is_none() && Pid::new(-1).is_none());
        assert_eq!(
            Pid::this_process().to_string(),
            std::process::id().to_string()
        );
    }
}
