//! [`KillError`]: why `safe_kill` could not do what was asked.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::{Pid, Signal};

/// Why [`safe_kill`](crate::safe_kill) could not do what was asked. Each message says what was asked, what went
/// wrong and what to do.
///
/// The variants before [`KillError::PermissionDenied`] are found **before any signal is
/// sent**: with [`safe_kill_all`](crate::safe_kill_all), one of them stops the whole request (the other pids then
/// get [`KillError::NotAttempted`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KillError {
    /// The pid can never name a single process: 0 (for `kill`, the caller's own process
    /// group), a negative number or one too large for a `pid_t` (negative as a `pid_t`: a
    /// process group, or with -1 every process the caller may signal), or pid 1 in group mode.
    /// See [`Pid`](crate::Pid).
    #[error("refusing to signal pid {pid}: {reason}; pass the pid of the one process to end")]
    InvalidPid {
        /// The pid as given (wide enough for a `u32`, an `i32` or a binding's integer).
        pid: i64,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The pid is the calling process's own.
    #[error(
        "refusing to signal pid {pid}: that is this process itself; to end it, return from \
         main or call std::process::exit (exit hooks run either way)"
    )]
    SelfTarget {
        /// Our own pid.
        pid: u32,
    },
    /// The pid is the id of one of the calling process's own threads (on Linux thread ids
    /// come from the same number space as pids, and `kill` given a thread id signals the
    /// whole process the thread belongs to: here, the caller itself).
    #[error(
        "refusing to signal pid {pid}: that is a thread of this process, and a signal sent to \
         a thread id reaches the whole process it belongs to, this one; to end this process, \
         return from main or call std::process::exit (exit hooks run either way)"
    )]
    OwnThread {
        /// The thread id as given.
        pid: u32,
    },
    /// The pid is the id of a thread of another process, not of a process (on Linux thread
    /// ids come from the same number space as pids). `kill` would signal the thread's whole
    /// process; safe_kill refuses instead, so that a thread id is never mistaken for a
    /// process of its own. Pass the process's pid (`process`) to end that process.
    #[error("refusing to signal pid {pid}: {}", not_a_process(*pid, *process))]
    NotAProcess {
        /// The thread id as given.
        pid: u32,
        /// The pid of the process the thread belongs to (its thread group id), when it could
        /// be read (from `/proc/PID/status`).
        process: Option<u32>,
    },
    /// The polite signal is not one that can ask a process to end on this platform.
    #[error(
        "refusing to send signal {signal}: {reason}; use a termination signal such as \
         SIGTERM ({term}) or SIGINT"
    )]
    InvalidSignal {
        /// The signal number as given.
        signal: i32,
        /// Why it cannot be used.
        reason: String,
        /// SIGTERM's number here, for the message.
        term: i32,
    },
    /// Group mode, but the target does not lead its process group, so "its group" would
    /// also contain processes that are not its own.
    #[error(
        "refusing to signal the process group of pid {pid}: it is not a group leader (it \
         belongs to group {pgid}); signal pid {pgid} with group mode if that whole group \
         should end, or drop group mode to end only pid {pid}"
    )]
    NotGroupLeader {
        /// The target.
        pid: u32,
        /// The group it belongs to (a process group id is a pid: positive, as `pid` is).
        pgid: u32,
    },
    /// Group mode, and the target's group is the caller's own: signalling it would hit the
    /// caller too.
    #[error(
        "refusing to signal the process group of pid {pid}: this process belongs to that \
         group too; start the worker in its own group (setpgid(0, 0) or setsid) or drop \
         group mode"
    )]
    OwnGroup {
        /// The target.
        pid: u32,
    },
    /// [`own`](crate::own) was given a process that is not running: it has already exited
    /// (perhaps not yet reaped) or never existed. There is nothing to own, so nothing was
    /// registered and nothing was signalled. This is the one error that means the goal is
    /// already met: match it where a child may end before it is owned.
    #[error(
        "not owning pid {pid}: no process with that pid is running (it has already exited,          or never existed), so there is nothing to stop when this process ends"
    )]
    NotRunning {
        /// The pid as given.
        pid: u32,
    },
    /// This request was not carried out because another pid in the same
    /// [`safe_kill_all`](crate::safe_kill_all) request was rejected before anything was signalled.
    #[error(
        "pid {pid} was not signalled: another pid in the same request was rejected, and \
         nothing is signalled then; fix or remove that pid and try again"
    )]
    NotAttempted {
        /// The pid that was left alone.
        pid: u32,
    },
    /// The caller may not signal the target (`EPERM`: another user's process, without the
    /// privilege to signal it). The target was not touched.
    #[error(
        "not allowed to signal pid {pid} (operation not permitted); it belongs to another \
         user: run as that user or with the privilege to signal it (root, CAP_KILL)"
    )]
    PermissionDenied {
        /// The target.
        pid: u32,
    },
    /// SIGKILL was sent, but the target was still there long after.
    #[error(
        "sent SIGKILL to pid {pid}, but it had not exited {waited:?} later; it is probably \
         blocked in the kernel (state D, e.g. on a hung network file system): check \
         `ps -o stat= -p {pid}`, it ends once that I/O returns"
    )]
    SurvivedKill {
        /// The target.
        pid: u32,
        /// How long it was given after SIGKILL.
        waited: Duration,
    },
    /// The polite request has no way to reach this target, so nothing was sent. On Windows:
    /// it has neither a visible window (for `WM_CLOSE`) nor a console (for a console control
    /// event), or it shares the caller's console, where an event would reach every process
    /// attached to it. The message says which, and what to do.
    #[error("cannot ask pid {pid} to end with signal {signal}: {reason}")]
    CannotAsk {
        /// The target.
        pid: u32,
        /// The polite signal.
        signal: Signal,
        /// Why, and what to do.
        reason: String,
    },
    /// `safe_kill` (or the requested mode) is not available on this platform.
    #[error("cannot signal pid {pid}: {what} is not supported on this platform")]
    Unsupported {
        /// The target.
        pid: u32,
        /// What is missing.
        what: &'static str,
    },
    /// A system call failed unexpectedly; its message names the call and the pid.
    #[error("safe_kill failed, and the target's state is unknown (check it with `ps -p PID`)")]
    Io(#[source] io::Error),
}

impl KillError {
    /// A stable word for the kind of error, for scripts and bindings: `invalid_pid`,
    /// `self_target`, `own_thread`, `not_a_process`, `invalid_signal`, `not_group_leader`,
    /// `own_group`, `not_running`, `not_attempted`, `permission_denied`, `survived_kill`, `cannot_ask`,
    /// `unsupported`, `io`. The `safe-kill` command prints it with `--json`, and the Python
    /// package's `SafeExitException.kind` is the same word.
    pub fn kind(&self) -> &'static str {
        match self {
            KillError::InvalidPid { .. } => "invalid_pid",
            KillError::SelfTarget { .. } => "self_target",
            KillError::OwnThread { .. } => "own_thread",
            KillError::NotAProcess { .. } => "not_a_process",
            KillError::InvalidSignal { .. } => "invalid_signal",
            KillError::NotGroupLeader { .. } => "not_group_leader",
            KillError::OwnGroup { .. } => "own_group",
            KillError::NotRunning { .. } => "not_running",
            KillError::NotAttempted { .. } => "not_attempted",
            KillError::PermissionDenied { .. } => "permission_denied",
            KillError::SurvivedKill { .. } => "survived_kill",
            KillError::CannotAsk { .. } => "cannot_ask",
            KillError::Unsupported { .. } => "unsupported",
            KillError::Io(_) => "io",
        }
    }
}

/// The reason of [`KillError::NotAProcess`].
fn not_a_process(pid: u32, process: Option<u32>) -> String {
    match process {
        Some(tgid) => format!(
            "it is a thread of process {tgid}, not a process (a signal sent to a thread id \
             reaches its whole process); pass {tgid} to end that process"
        ),
        None => format!(
            "it is a thread of another process, not a process (a signal sent to a thread id \
             reaches its whole process); pass that process's pid (the Tgid line of \
             /proc/{pid}/status) to end it"
        ),
    }
}

/// Which process a thread id that is not a process's own id belongs to (see
/// `sys::thread_owner`). Only Linux has thread ids that `kill` accepts, so only its code
/// makes these.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
pub(crate) enum ThreadOwner {
    /// A thread of the calling process.
    Caller,
    /// A thread of another process: its pid, when known.
    Other(Option<u32>),
}

/// Adds "which call, on which pid" to an OS error, keeping the OS error as the source.
#[derive(Debug)]
struct Context {
    call: &'static str,
    pid: i32,
    source: io::Error,
}

/// Says its own layer only ("kill on pid 42"); the OS error is its `source()`, so a report that
/// walks the chain (anyhow's `{:#}`, the `safe-kill` command) prints each cause once.
impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on pid {}", self.call, self.pid)
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

pub(super) fn io_error(call: &'static str, pid: Pid, source: io::Error) -> KillError {
    let kind = source.kind();
    KillError::Io(io::Error::new(
        kind,
        Context {
            call,
            pid: pid.as_raw(),
            source,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_of_other_processes_say_which_process() {
        let e = KillError::NotAProcess {
            pid: 1235,
            process: Some(1234),
        }
        .to_string();
        assert!(
            e.starts_with(
                "refusing to signal pid 1235: it is a thread of process 1234, not a process"
            ) && e.contains("pass 1234 to end that process"),
            "{e}"
        );
        let e = KillError::NotAProcess {
            pid: 1235,
            process: None,
        }
        .to_string();
        assert!(
            e.contains("a thread of another process, not a process"),
            "{e}"
        );
        assert!(e.contains("/proc/1235/status"), "{e}");
    }

    /// Each layer says only itself; the chain says each cause once.
    #[test]
    fn errors_read_once() {
        let pid = Pid::try_from(42_u32).unwrap();
        // Any OS error will do (1 is EPERM on unix).
        let e = io_error("kill", pid, io::Error::from_raw_os_error(1));
        let mut layers = vec![e.to_string()];
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            layers.push(cause.to_string());
            source = cause.source();
        }
        assert_eq!(layers.len(), 3, "{layers:?}");
        assert!(layers[0].starts_with("safe_kill failed"), "{layers:?}");
        assert_eq!(layers[1], "kill on pid 42");
        let os = &layers[2];
        let whole = layers.join(": ");
        assert_eq!(whole.matches(os.as_str()).count(), 1, "{whole}");
        assert_eq!(e.kind(), "io");
        assert_eq!(
            KillError::PermissionDenied { pid: 1 }.kind(),
            "permission_denied"
        );
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = Pid::try_from(u32::MAX).unwrap_err().to_string();
        assert!(e.contains("-1") && e.contains("pass the pid"), "{e}");
        let e = KillError::PermissionDenied { pid: 7 }.to_string();
        assert!(e.contains("pid 7") && e.contains("run as"), "{e}");
    }
}
