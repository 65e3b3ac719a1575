//! safe_kill where there is no implementation yet: every target fails to open with
//! [`io::ErrorKind::Unsupported`], which becomes `KillError::Unsupported`.

use std::io;
use std::time::Instant;

use crate::kill::ThreadOwner;
use crate::pid::Pid;

/// Every signal that names one can be sent here.
pub(crate) fn cannot_send(_sig: i32) -> Option<&'static str> {
    None
}

/// Not needed here: a process handle pins the process (its id is not reused while the
/// handle is open).
pub(crate) fn process_start(_pid: Pid) -> Option<u64> {
    None
}

pub(crate) const SIGINT: i32 = 2;
pub(crate) const SIGTERM: i32 = 15;
pub(crate) const SIGKILL: i32 = 9;
pub(crate) const SIGCONT: i32 = 18;
pub(crate) const SIGSTOP: i32 = 19;
pub(crate) const OPEN_CALL: &str = "open";
pub(crate) const SEND_CALL: &str = "signal";
pub(crate) const WAIT_CALL: &str = "wait";

/// The highest signal number accepted.
pub(crate) fn max_signal() -> i32 {
    31
}

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "safe_kill is not supported on this platform",
    )
}

/// A handle on a process; never created here.
pub(crate) struct Target {
    _never: std::convert::Infallible,
}

impl Target {
    /// Never reached (no target is ever opened here).
    pub(crate) fn may_signal(&self) -> io::Result<()> {
        match self._never {}
    }

    /// Group mode does not exist here.
    pub(crate) fn group_alive(&self) -> Option<bool> {
        None
    }

    pub(crate) fn open(_pid: Pid) -> io::Result<Option<Target>> {
        Err(unsupported())
    }

    pub(crate) fn has_exited(&self) -> io::Result<bool> {
        match self._never {}
    }

    pub(crate) fn send(&self, _sig: i32, _group: bool) -> io::Result<()> {
        match self._never {}
    }
}

pub(crate) fn wait_any(_targets: &[&Target], _deadline: Option<Instant>) -> io::Result<()> {
    Err(unsupported())
}

/// No threads to tell apart from processes here.
pub(crate) fn thread_owner(_pid: Pid) -> Option<ThreadOwner> {
    None
}

pub(crate) fn process_group(_pid: Pid) -> io::Result<Option<i32>> {
    Err(unsupported())
}

pub(crate) fn own_process_group() -> i32 {
    0
}

pub(crate) fn group_members(_pgid: Pid) -> io::Result<Vec<Pid>> {
    Err(unsupported())
}

pub(crate) fn group_exists(_pgid: Pid) -> io::Result<bool> {
    Ok(false)
}

pub(crate) fn send_group(_pgid: Pid, _sig: i32) -> io::Result<()> {
    Err(unsupported())
}
