//! `safe_kill`: options, outcome and error, and the platform-free logic.
//!
//! The steps, for one target or many:
//!
//! 1. **Validate** every pid and the options. Nothing has been touched yet; any error stops
//!    the whole request.
//! 2. **Open** every target: on Linux a pidfd, which pins the process (a recycled pid is never
//!    signalled through it); on macOS/BSD a kqueue `NOTE_EXIT` registration. A target that has
//!    already exited (a zombie) is `Exited` now; one that does not exist is `NotRunning`. In
//!    group mode the group is checked here too (a process that does not exist may still have
//!    left a group with members behind: then that group is the target). Any error stops the
//!    whole request, still before any signal.
//! 3. **Signal** every live target with the polite signal, then `SIGCONT`.
//! 4. **Wait** for all of them at once, until the one shared deadline.
//! 5. **Force** the survivors with `SIGKILL` (unless `force_kill(false)`) and wait until they
//!    are really gone.
//!
//! Everything that differs between platforms is behind `sys::imp`: `Target` (a handle on one
//! process), `wait_any`, and the process-group queries.

use std::fmt;
use std::io;
use std::num::NonZeroI32;
use std::time::{Duration, Instant};

use crate::sys::imp as sys;

/// How long to wait for a target to disappear after `SIGKILL`. The kernel always delivers
/// SIGKILL, but a process blocked in uninterruptible I/O (state `D`, e.g. on a hung network
/// file system) acts on it only when that I/O ends.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// A process id that is known to be positive: never 0 (our own process group for `kill`)
/// and never negative (a process group, or every process for -1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Pid(NonZeroI32);

impl Pid {
    /// `Some` for a positive pid.
    pub(crate) fn new(pid: i32) -> Option<Pid> {
        if pid > 0 {
            NonZeroI32::new(pid).map(Pid)
        } else {
            None
        }
    }

    /// The pid as the OS's `pid_t`; always positive.
    pub(crate) fn get(self) -> i32 {
        self.0.get()
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How [`safe_kill_with`] and [`safe_kill_all`] ask a process to end.
///
/// A builder, by value; [`KillOptions::new`] (and [`Default`]) is what [`safe_kill`] uses:
/// SIGTERM, a 4 second deadline, then SIGKILL.
///
/// ```
/// use std::time::Duration;
/// use safe_exit::KillOptions;
///
/// let opts = KillOptions::new()
///     .signal(libc::SIGINT)               // the polite request
///     .timeout(Duration::from_millis(500)) // how long it may take
///     .force_kill(true)                   // then SIGKILL
///     .group(false);                      // just this process
/// assert_eq!(opts.get_signal(), libc::SIGINT);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillOptions {
    signal: i32,
    timeout: Duration,
    force_kill: bool,
    group: bool,
}

impl Default for KillOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl KillOptions {
    /// SIGTERM, a 4 second deadline, then SIGKILL; one process, not its group.
    pub fn new() -> Self {
        KillOptions {
            signal: sys::SIGTERM,
            timeout: Duration::from_secs(4),
            force_kill: true,
            group: false,
        }
    }

    /// The polite signal that asks the process to end (default: SIGTERM). It is checked when
    /// the options are used: a number that is not a signal on this platform, 0 (which only
    /// tests that a process exists), SIGSTOP and SIGCONT (which cannot ask a process to end)
    /// are rejected with [`KillError::InvalidSignal`]. On Windows the signal names the
    /// request: SIGTERM (15) `WM_CLOSE` or Ctrl-C, SIGINT (2) Ctrl-C, SIGBREAK (21)
    /// Ctrl-Break, SIGKILL (9) `TerminateProcess` (see [`safe_kill_with`]).
    pub fn signal(mut self, signal: i32) -> Self {
        self.signal = signal;
        self
    }

    /// How long the process has to end after the polite signal (default: 4 s). With
    /// [`safe_kill_all`] the deadline is shared: every target gets the same one.
    /// `Duration::ZERO` forces at once (after the polite signal and one check).
    ///
    /// Every duration is accepted. One so long that the deadline cannot be represented
    /// (`Duration::MAX`, `Duration::from_secs(u64::MAX)`: hundreds of billions of years)
    /// means **no deadline**: the call waits until the process has exited and reports
    /// [`KillOutcome::Exited`]; SIGKILL is never sent.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to send SIGKILL when the deadline passes (default: `true`). With `false`, a
    /// process still running at the deadline is left alone and reported as
    /// [`KillOutcome::StillRunning`].
    pub fn force_kill(mut self, force: bool) -> Self {
        self.force_kill = force;
        self
    }

    /// Whether to end the target's whole **process group** (default: `false`), as a
    /// supervisor ends a worker and the children it started.
    ///
    /// The target must lead its group (its process group id equals its pid, as after
    /// `setsid`, `setpgid(0, 0)` or a shell's job control), and the group must not be the
    /// caller's own; otherwise [`KillError::NotGroupLeader`] or [`KillError::OwnGroup`] is
    /// returned and nothing is signalled. Pid 1 is refused ([`KillError::InvalidPid`]).
    ///
    /// Then the polite signal and `SIGCONT` go to every process in the group, the call waits
    /// until **every member** has exited (the leader and the others; a member that has
    /// exited but was not yet reaped counts as exited), and at the deadline SIGKILL goes to
    /// the group. [`KillOutcome::Exited`] means that the whole group ended within the
    /// deadline, [`KillOutcome::Killed`] that SIGKILL was needed and the whole group is
    /// gone. A process that moves itself to another group (`setsid`, `setpgid`) leaves the
    /// group and is not followed.
    ///
    /// A target that has already exited and been reaped, while other members of its group
    /// still run, is no obstacle: its pid is still the group's id (`kill(-pid, 0)` finds
    /// members), so that group is signalled, awaited and forced in the same way (not the
    /// caller's own group: [`KillError::OwnGroup`]). [`KillOutcome::NotRunning`] means that
    /// neither the process nor any process in a group with its id existed.
    ///
    /// # Platform notes
    ///
    /// - **Linux**: the group is signalled with `pidfd_send_signal(..,
    ///   PIDFD_SIGNAL_PROCESS_GROUP)` through the leader's pidfd (Linux 6.9 and later), so it
    ///   is the group of the very process that was opened, even if its pid is recycled. On
    ///   older kernels, `kill(-pgid)`, checked right before against the leader's pidfd. The
    ///   members are found in `/proc` and awaited through their pidfds; the group is
    ///   scanned again whenever all known members have exited, to catch late children. When
    ///   the leader has already been reaped (or on older kernels has exited), nothing pins
    ///   the group's id, so the members are signalled one by one through their own pidfds.
    /// - **macOS**: `kill(-pgid)`; the members are found with `proc_listpids` and awaited
    ///   through kqueue `NOTE_EXIT`.
    /// - **Other platforms**: group mode returns [`KillError::Unsupported`].
    pub fn group(mut self, group: bool) -> Self {
        self.group = group;
        self
    }

    /// The polite signal.
    pub fn get_signal(&self) -> i32 {
        self.signal
    }

    /// The deadline after the polite signal.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether SIGKILL follows the deadline.
    pub fn get_force_kill(&self) -> bool {
        self.force_kill
    }

    /// Whether the target's process group is the target.
    pub fn get_group(&self) -> bool {
        self.group
    }
}

/// What happened to a target of [`safe_kill`].
///
/// Deliberately exhaustive: these four cover every way a call that did not fail can end, so
/// a `match` without a wildcard stays correct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KillOutcome {
    /// The process ended within the deadline after the polite signal, or had already exited
    /// when the call began (a zombie: ended, not yet reaped by its parent; `safe_kill` never
    /// reaps, so the parent still gets its exit status).
    Exited,
    /// The deadline passed and SIGKILL was sent; the process is gone (it has exited; it may
    /// remain a zombie until its parent reaps it).
    Killed,
    /// The deadline passed with `force_kill(false)`: the process is still running and was
    /// sent nothing after the polite signal (and SIGCONT).
    StillRunning,
    /// No process had this pid when the call began (in group mode: nor did any process in
    /// a process group with this id). Nothing was signalled.
    NotRunning,
}

impl KillOutcome {
    /// `true` unless the process is [`KillOutcome::StillRunning`].
    pub fn is_gone(self) -> bool {
        !matches!(self, KillOutcome::StillRunning)
    }

    /// A short lower-case name: `exited`, `killed`, `still-running`, `not-running`.
    pub fn as_str(self) -> &'static str {
        match self {
            KillOutcome::Exited => "exited",
            KillOutcome::Killed => "killed",
            KillOutcome::StillRunning => "still-running",
            KillOutcome::NotRunning => "not-running",
        }
    }
}

impl fmt::Display for KillOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`safe_kill`] could not do what was asked. Each message says what was asked, what went
/// wrong and what to do.
///
/// The variants before [`KillError::PermissionDenied`] are found **before any signal is
/// sent**: with [`safe_kill_all`], one of them stops the whole request (the other pids then
/// get [`KillError::NotAttempted`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KillError {
    /// The pid can never name a single process: 0 (for `kill`, the caller's own process
    /// group), a number too large for a `pid_t` (it would be negative: a process group, or
    /// with -1 every process the caller may signal), or pid 1 in group mode.
    #[error("refusing to signal pid {pid}: {reason}; pass the pid of the one process to end")]
    InvalidPid {
        /// The pid as given.
        pid: u32,
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
    /// This request was not carried out because another pid in the same
    /// [`safe_kill_all`] request was rejected before anything was signalled.
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
        signal: i32,
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
    /// A stable word for the kind of error, for scripts and bindings: `invalid-pid`,
    /// `self-target`, `own-thread`, `not-a-process`, `invalid-signal`, `not-group-leader`,
    /// `own-group`, `not-attempted`, `permission-denied`, `survived-kill`, `unsupported`,
    /// `cannot-ask`, `io`. The `safe-kill` command prints it with `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            KillError::InvalidPid { .. } => "invalid-pid",
            KillError::SelfTarget { .. } => "self-target",
            KillError::OwnThread { .. } => "own-thread",
            KillError::NotAProcess { .. } => "not-a-process",
            KillError::InvalidSignal { .. } => "invalid-signal",
            KillError::NotGroupLeader { .. } => "not-group-leader",
            KillError::OwnGroup { .. } => "own-group",
            KillError::NotAttempted { .. } => "not-attempted",
            KillError::PermissionDenied { .. } => "permission-denied",
            KillError::SurvivedKill { .. } => "survived-kill",
            KillError::CannotAsk { .. } => "cannot-ask",
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

fn io_error(call: &'static str, pid: Pid, source: io::Error) -> KillError {
    let kind = source.kind();
    KillError::Io(io::Error::new(
        kind,
        Context {
            call,
            pid: pid.get(),
            source,
        },
    ))
}

/// Sends SIGTERM to `pid`, waits up to 4 s for it to exit, then sends SIGKILL and waits until
/// it is gone. The same as [`safe_kill_with`]`(pid, &KillOptions::new())`.
///
/// See [`safe_kill_with`] for how it works, the errors and the platform notes.
///
/// ```no_run
/// use safe_exit::{safe_kill, KillOutcome};
///
/// let worker = std::process::Command::new("sleep").arg("60").spawn()?;
/// match safe_kill(worker.id())? {
///     KillOutcome::Exited => println!("it ended when asked"),
///     KillOutcome::Killed => println!("it had to be forced"),
///     KillOutcome::NotRunning => println!("it was already gone"),
///     KillOutcome::StillRunning => unreachable!("only with force_kill(false)"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`safe_kill_with`].
pub fn safe_kill(pid: u32) -> Result<KillOutcome, KillError> {
    safe_kill_with(pid, &KillOptions::new())
}

/// Asks the process `pid` to end with the polite signal, waits for it up to the deadline, then
/// (by default) forces it with SIGKILL, and reports what happened.
///
/// 1. `pid` and the options are validated; see [`KillError`] for what is refused (pid 0, a
///    pid that is negative as a `pid_t`, the caller itself or one of its threads, the id of
///    another process's thread, an unusable signal).
/// 2. The process is opened (Linux: `pidfd_open`), which pins its identity: from here on a
///    recycled pid cannot be confused with it. If it does not exist: [`KillOutcome::NotRunning`];
///    if it has already exited but was not reaped (a zombie): [`KillOutcome::Exited`] at once.
/// 3. The polite signal is sent (Linux: `pidfd_send_signal`), then `SIGCONT`, because a
///    stopped process cannot act on the polite signal until it is continued.
/// 4. The call waits for the process to exit, notified by the OS (Linux: `poll` on the pidfd;
///    macOS/BSD: kqueue `EVFILT_PROC`/`NOTE_EXIT`), so it returns as soon as the process exits:
///    [`KillOutcome::Exited`].
/// 5. At the deadline: with `force_kill(false)`, [`KillOutcome::StillRunning`]; otherwise
///    SIGKILL through the same handle, and a wait until the process is really gone:
///    [`KillOutcome::Killed`].
///
/// **It never reaps.** If the target is the caller's own child, its exit status is still
/// there for the caller's `wait()`: a child ended by SIGTERM reports signal 15. A target that
/// has exited counts as gone whether or not its parent has reaped it yet.
///
/// # Errors
///
/// - Before anything is signalled: [`KillError::InvalidPid`], [`KillError::SelfTarget`],
///   [`KillError::OwnThread`], [`KillError::NotAProcess`], [`KillError::InvalidSignal`], and
///   in group mode [`KillError::NotGroupLeader`] and [`KillError::OwnGroup`].
/// - [`KillError::PermissionDenied`] if the caller may not signal the process; it was not
///   touched.
/// - [`KillError::SurvivedKill`] if the process was still there 10 s after SIGKILL.
/// - [`KillError::CannotAsk`] (Windows) if the polite request has no way to reach the
///   process; nothing was sent.
/// - [`KillError::Unsupported`] on platforms without process signals, and for group mode
///   where it is not implemented.
/// - [`KillError::Io`] if a system call fails unexpectedly (for example `EMFILE`, out of file
///   descriptors for pidfds).
///
/// # Platform notes
///
/// - **Linux 5.3 and later**: `pidfd_open`, `pidfd_send_signal` and `poll`; race-free.
///   Where pidfds are missing (`ENOSYS`: older kernels, some sandboxes) the call falls back
///   to `kill` and checks the process every 1-20 ms (it remembers the fallback for the rest
///   of the process); then a pid recycled in the instant between the check and the signal
///   could in principle be hit, as with any `kill`-based tool.
///
///   Thread ids share the pid number space, and `kill` given a thread id signals the whole
///   process the thread belongs to. safe_kill refuses them: one of the caller's own threads
///   with [`KillError::OwnThread`] (found with `tgkill(getpid(), tid, 0)`, which the kernel
///   answers from the thread's actual thread group, so it holds as long as the thread
///   lives), another process's thread with [`KillError::NotAProcess`] (`tgkill(pid, pid, 0)`
///   fails for a thread that does not lead its thread group; its process is read from
///   `/proc/PID/status`). On the pidfd path this is also enforced by the kernel:
///   `pidfd_open` opens only thread-group leaders. On the fallback path the check is made
///   again right before each `kill`: a pid that no longer names a process counts as exited.
/// - **macOS and the BSDs**: a kqueue `EVFILT_PROC`/`NOTE_EXIT` registration is made before
///   the signal and notifies the exit; the signal itself is sent with `kill`, so the window
///   for pid reuse is the few microseconds between the registration and `kill`.
/// - **Other unix systems**: `kill`, and checks every 1-20 ms.
/// - **Windows**: `OpenProcess` pins the process (its id is not reused while the handle is
///   open); the signal names the polite request, as in the original package:
///
///   | signal | request |
///   |---|---|
///   | SIGTERM (15), the default | `WM_CLOSE` to each visible top-level window of the process; without one, `CTRL_C_EVENT` on its console |
///   | SIGINT (2) | `CTRL_C_EVENT` on its console |
///   | SIGBREAK (21) | `CTRL_BREAK_EVENT` on its console |
///   | SIGKILL (9) | `TerminateProcess` at once |
///
///   Other numbers are refused ([`KillError::InvalidSignal`]). A console control event
///   reaches every process attached to the target's console, as if the keys were pressed in
///   its window; the caller attaches to that console for the moment it takes, swallows its
///   own copy of the event, and comes back to its own console with its own safe-exit
///   handler in place (Windows resets a process's control-handler table whenever it changes
///   console: handlers that *other* code registered with `SetConsoleCtrlHandler` are lost
///   then, and while the caller is away, a Ctrl-C pressed in its own console does not reach
///   it). A target with neither a visible window nor a console, or one attached to the
///   caller's own console (where the event would reach the caller's shell and siblings
///   too), gets [`KillError::CannotAsk`]: start such children with `CREATE_NEW_CONSOLE`, or
///   end them with SIGKILL. The wait is `WaitForMultipleObjects` on the process handles (a
///   thread per 63 handles beyond 64); forcing is `TerminateProcess` with exit code 1, as
///   `taskkill /F` and [`std::process::Child::kill`] do. Group mode is not offered.
/// - **Other platforms**: [`KillError::Unsupported`] for now.
///
/// ```no_run
/// use std::time::Duration;
/// use safe_exit::{safe_kill_with, KillOptions, KillOutcome};
///
/// # let pid = 12345;
/// // Ask with SIGINT, give it 10 s, never force.
/// let opts = KillOptions::new().signal(libc::SIGINT).timeout(Duration::from_secs(10)).force_kill(false);
/// if safe_kill_with(pid, &opts)? == KillOutcome::StillRunning {
///     eprintln!("pid {pid} is still draining");
/// }
/// # Ok::<(), safe_exit::KillError>(())
/// ```
pub fn safe_kill_with(pid: u32, opts: &KillOptions) -> Result<KillOutcome, KillError> {
    safe_kill_all(&[pid], opts)
        .pop()
        .expect("one result per pid")
}

/// Ends many processes at once: all are signalled first, then awaited together, so the wall
/// time is one deadline, not one per process. Returns one result per pid, in order.
///
/// Each target goes through the steps of [`safe_kill_with`], but step by step for all
/// together: validate all, open all, signal all, wait for all (one `poll` over all the
/// pidfds, one shared deadline), SIGKILL the survivors, wait for them.
///
/// **All or nothing before the first signal:** if any pid or the options are refused, or a
/// target cannot be opened, nothing is signalled; that entry holds its error and every other
/// entry [`KillError::NotAttempted`]. A pid that does not exist is not an error
/// ([`KillOutcome::NotRunning`]). Errors met later ([`KillError::PermissionDenied`] when
/// signalling) belong to their own entry and the others go on.
///
/// A pid listed twice is handled twice, harmlessly.
///
/// ```no_run
/// use std::time::Duration;
/// use safe_exit::{safe_kill_all, KillOptions};
///
/// # let workers: Vec<u32> = vec![];
/// let opts = KillOptions::new().timeout(Duration::from_millis(300));
/// for (pid, result) in workers.iter().zip(safe_kill_all(&workers, &opts)) {
///     match result {
///         Ok(outcome) => println!("{pid}: {outcome}"),
///         Err(e) => eprintln!("{pid}: {e}"),
///     }
/// }
/// ```
///
/// # Errors
///
/// Per entry, as [`safe_kill_with`], plus [`KillError::NotAttempted`].
///
/// # Caveats
///
/// Every target is held open at once (a pidfd on Linux, a handle on Windows), plus one per
/// member in group mode: a batch larger than the process's open-file limit
/// (`RLIMIT_NOFILE`, often 1024) fails to open as a whole, before anything is signalled.
/// Split such a batch, or raise the limit.
pub fn safe_kill_all(pids: &[u32], opts: &KillOptions) -> Vec<Result<KillOutcome, KillError>> {
    // 1. Validate everything before touching anything.
    let mut valid = Vec::with_capacity(pids.len());
    let mut errors: Vec<Option<KillError>> = Vec::with_capacity(pids.len());
    let signal_error = check_signal(opts.signal);
    for &pid in pids {
        match validate(pid, opts) {
            Ok(p) => {
                valid.push(p);
                errors.push(None);
            }
            Err(e) => errors.push(Some(e)),
        }
    }
    if let Some(e) = signal_error {
        // The same problem for every pid.
        return pids
            .iter()
            .map(|_| {
                Err(KillError::InvalidSignal {
                    signal: opts.signal,
                    reason: e.clone(),
                    term: sys::SIGTERM,
                })
            })
            .collect();
    }
    if errors.iter().any(Option::is_some) {
        return reject(pids, errors);
    }

    // 2. Open every target (and check groups), still without signalling anything.
    let mut jobs = Vec::with_capacity(valid.len());
    for (i, &pid) in valid.iter().enumerate() {
        match Job::open(pid, opts.group) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                errors[i] = Some(e);
                return reject(pids, errors);
            }
        }
    }

    // 3. Signal: the polite signal, then SIGCONT so that a stopped process can act on it.
    for job in jobs.iter_mut().filter(|j| j.result.is_none()) {
        job.send(opts.signal);
        if job.result.is_none() && opts.signal != sys::SIGKILL {
            job.send(sys::SIGCONT);
        }
    }

    // 4. Wait for all at once, until the shared deadline. A timeout too long to add to the
    //    clock (`Duration::MAX`) means no deadline: wait until they have all exited.
    let deadline = Instant::now().checked_add(opts.timeout);
    wait_all(&mut jobs, deadline, KillOutcome::Exited);

    // 5. At the deadline: leave them, or force them and wait until they are gone.
    let mut survivors = false;
    for job in jobs.iter_mut().filter(|j| j.result.is_none()) {
        if opts.force_kill {
            job.send(sys::SIGKILL);
            survivors = true;
        } else {
            job.result = Some(Ok(KillOutcome::StillRunning));
        }
    }
    if survivors {
        wait_all(
            &mut jobs,
            Instant::now().checked_add(KILL_WAIT),
            KillOutcome::Killed,
        );
        for job in jobs.iter_mut().filter(|j| j.result.is_none()) {
            job.result = Some(Err(KillError::SurvivedKill {
                pid: job.pid.get() as u32,
                waited: KILL_WAIT,
            }));
        }
    }
    jobs.into_iter()
        .map(|j| j.result.expect("every job ends with a result"))
        .collect()
}

/// The results when something was refused before any signal: the errors where they are, and
/// `NotAttempted` for the others.
fn reject(pids: &[u32], errors: Vec<Option<KillError>>) -> Vec<Result<KillOutcome, KillError>> {
    pids.iter()
        .zip(errors)
        .map(|(&pid, e)| Err(e.unwrap_or(KillError::NotAttempted { pid })))
        .collect()
}

/// Checks one pid: never 0, never negative as a `pid_t`, never ourselves, never a thread id.
fn validate(pid: u32, opts: &KillOptions) -> Result<Pid, KillError> {
    let Ok(signed) = i32::try_from(pid) else {
        let reason = if pid as i32 == -1 {
            "as a pid_t it is -1, and kill(-1) signals every process the caller may signal"
        } else {
            "it is too large for a pid_t: it would be negative, and kill(-N) signals process \
             group N"
        };
        return Err(KillError::InvalidPid { pid, reason });
    };
    let Some(p) = Pid::new(signed) else {
        return Err(KillError::InvalidPid {
            pid,
            reason: "kill(0) signals every process in the caller's own process group",
        });
    };
    if opts.group && signed == 1 {
        return Err(KillError::InvalidPid {
            pid,
            reason: "the process group of pid 1 cannot be addressed, kill(-1) means every \
                     process",
        });
    }
    if pid == std::process::id() {
        return Err(KillError::SelfTarget { pid });
    }
    // A thread id is accepted by `kill`, which then signals the thread's whole process: for
    // one of our own threads, ourselves. Checked here, before anything is opened, so that
    // every path (pidfd or not, one pid or many, group mode) refuses it alike.
    match sys::thread_owner(p) {
        Some(ThreadOwner::Caller) => Err(KillError::OwnThread { pid }),
        Some(ThreadOwner::Other(process)) => Err(KillError::NotAProcess { pid, process }),
        None => Ok(p),
    }
}

/// `None` if `signal` can ask a process to end here, else why not.
fn check_signal(signal: i32) -> Option<String> {
    let max = sys::max_signal();
    if signal == 0 {
        Some("0 is not a signal (it only tests whether a process exists)".into())
    } else if signal < 0 || signal > max {
        Some(format!("signals on this platform are 1 to {max}"))
    } else if signal == sys::SIGSTOP {
        Some("SIGSTOP stops a process instead of ending it".into())
    } else if signal == sys::SIGCONT {
        Some("SIGCONT continues a process instead of ending it".into())
    } else {
        None
    }
}

/// One target being ended: the process, or in group mode the group it leads.
struct Job {
    pid: Pid,
    /// The target itself (in group mode, the group's leader): signals go through it, also
    /// after it has exited, while other members of its group remain.
    handle: Option<sys::Target>,
    /// Whether the target itself may still be running.
    alive: bool,
    /// Group mode: the other members known to be alive.
    members: Option<Vec<sys::Target>>,
    result: Option<Result<KillOutcome, KillError>>,
}

impl Job {
    /// Opens the target (step 2). A missing process is `NotRunning`, a zombie `Exited`.
    fn open(pid: Pid, group: bool) -> Result<Job, KillError> {
        let target = sys::Target::open(pid).map_err(|e| {
            if e.kind() == io::ErrorKind::Unsupported {
                KillError::Unsupported {
                    pid: pid.get() as u32,
                    what: "safe_kill",
                }
            } else {
                io_error(sys::OPEN_CALL, pid, e)
            }
        })?;
        let Some(target) = target else {
            if group {
                return Job::open_group_without_leader(pid);
            }
            return Ok(Job::done(pid, KillOutcome::NotRunning));
        };
        if group {
            match sys::process_group(pid) {
                Ok(Some(pgid)) if pgid != pid.get() => {
                    return Err(KillError::NotGroupLeader {
                        pid: pid.get() as u32,
                        pgid: pgid as u32,
                    });
                }
                Ok(Some(_)) => {}
                // Gone between the open and the query: nothing to signal.
                Ok(None) => return Ok(Job::done(pid, KillOutcome::NotRunning)),
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    return Err(KillError::Unsupported {
                        pid: pid.get() as u32,
                        what: "group mode",
                    })
                }
                Err(e) => return Err(io_error("getpgid", pid, e)),
            }
            Job::check_group(pid)?;
            // A group whose leader has exited (a zombie) may still have members: go on.
            return Ok(Job {
                pid,
                handle: Some(target),
                alive: true,
                members: Some(Vec::new()),
                result: None,
            });
        }
        match target.has_exited() {
            Ok(true) => Ok(Job::done(pid, KillOutcome::Exited)),
            Ok(false) => Ok(Job {
                pid,
                handle: Some(target),
                alive: true,
                members: None,
                result: None,
            }),
            Err(e) => Err(io_error(sys::WAIT_CALL, pid, e)),
        }
    }

    /// Group mode when no process has the pid (it has exited and been reaped): the pid may
    /// still be the id of its process group, whose other members live on. Then that group is
    /// the target, as with a leader that is a zombie; signals go to its members (there is no
    /// leader left to signal through). No such group: `NotRunning`.
    fn open_group_without_leader(pid: Pid) -> Result<Job, KillError> {
        match sys::group_exists(pid) {
            Ok(true) => {}
            Ok(false) => return Ok(Job::done(pid, KillOutcome::NotRunning)),
            Err(e) => return Err(io_error("kill(-pgid, 0)", pid, e)),
        }
        let mut members = Vec::new();
        for member in Job::check_group(pid)? {
            if let Some(t) =
                open_member(pid, member).map_err(|e| io_error(sys::OPEN_CALL, member, e))?
            {
                members.push(t);
            }
        }
        // Members that have all exited by now (zombies, or gone since the check) end the job
        // at the first look: `Exited`, as for a zombie target.
        Ok(Job {
            pid,
            handle: None,
            alive: false,
            members: Some(members),
            result: None,
        })
    }

    /// Group mode: refuses the caller's own group, and lists the group's processes, so that
    /// an unsupported platform fails before any signal.
    fn check_group(pid: Pid) -> Result<Vec<Pid>, KillError> {
        if sys::own_process_group() == pid.get() {
            return Err(KillError::OwnGroup {
                pid: pid.get() as u32,
            });
        }
        match sys::group_members(pid) {
            Ok(members) => Ok(members),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Err(KillError::Unsupported {
                pid: pid.get() as u32,
                what: "group mode",
            }),
            Err(e) => Err(io_error("listing the process group", pid, e)),
        }
    }

    fn done(pid: Pid, outcome: KillOutcome) -> Job {
        Job {
            pid,
            handle: None,
            alive: false,
            members: None,
            result: Some(Ok(outcome)),
        }
    }

    /// Sends `sig` to the target (or its group). A target that turns out to be gone simply
    /// has nothing left to signal; permission and other errors end the job.
    fn send(&mut self, sig: i32) {
        let group = self.members.is_some();
        let sent = match &self.handle {
            Some(handle) => handle.send(sig, group),
            // A group whose leader was already reaped: its members, through no handle.
            None if group => sys::send_group(self.pid, sig),
            None => return,
        };
        match sent {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                self.result = Some(Err(KillError::PermissionDenied {
                    pid: self.pid.get() as u32,
                }));
            }
            // The platform refused this signal (Windows knows only a few).
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                self.result = Some(Err(KillError::InvalidSignal {
                    signal: sig,
                    reason: e.to_string(),
                    term: sys::SIGTERM,
                }));
            }
            // No channel reaches this target (Windows: no window, no console of its own).
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                self.result = Some(Err(KillError::CannotAsk {
                    pid: self.pid.get() as u32,
                    signal: sig,
                    reason: e.to_string(),
                }));
            }
            Err(e) => self.result = Some(Err(io_error(sys::SEND_CALL, self.pid, e))),
        }
    }

    /// The handles still to wait for.
    fn waiting(&self) -> impl Iterator<Item = &sys::Target> {
        self.handle
            .iter()
            .filter(|_| self.alive)
            .chain(self.members.iter().flatten())
    }

    /// Drops the handles of processes that have exited; sets `result` to `done` once nothing
    /// is left (in group mode: once a fresh look at the group finds no live member).
    fn update(&mut self, done: KillOutcome) {
        if self.result.is_some() {
            return;
        }
        if let Err(e) = self.prune() {
            self.result = Some(Err(io_error(sys::WAIT_CALL, self.pid, e)));
            return;
        }
        if self.waiting().next().is_some() {
            return;
        }
        if self.members.is_some() {
            match self.rescan() {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    self.result = Some(Err(io_error("listing the process group", self.pid, e)));
                    return;
                }
            }
        }
        self.result = Some(Ok(done));
    }

    fn prune(&mut self) -> io::Result<()> {
        if let (true, Some(handle)) = (self.alive, &self.handle) {
            self.alive = !handle.has_exited()?;
        }
        if let Some(members) = &mut self.members {
            let mut err = None;
            members.retain(|m| match m.has_exited() {
                Ok(exited) => !exited,
                Err(e) => {
                    err = Some(e);
                    false
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Group mode: opens the group's members that are still alive. `true` if there are any.
    fn rescan(&mut self) -> io::Result<bool> {
        let mut found = Vec::new();
        for pid in sys::group_members(self.pid)? {
            if pid == self.pid {
                continue; // the leader has its own handle, and it has exited
            }
            if let Some(t) = open_member(self.pid, pid)? {
                found.push(t);
            }
        }
        let any = !found.is_empty();
        self.members = Some(found);
        Ok(any)
    }
}

/// Opens `pid` if it is a live member of the process group `pgid`. Opened first, which pins
/// the process, then checked: a process listed in the group that has exited since (its pid
/// perhaps recycled by a process elsewhere) or has left the group is `None`.
fn open_member(pgid: Pid, pid: Pid) -> io::Result<Option<sys::Target>> {
    let Some(t) = sys::Target::open(pid)? else {
        return Ok(None);
    };
    if t.has_exited()? {
        return Ok(None);
    }
    Ok((sys::process_group(pid)? == Some(pgid.get())).then_some(t))
}

/// Waits until every job has a result or `deadline` passes (`None`: no deadline, wait until
/// every job has a result); jobs that end get `done`.
fn wait_all(jobs: &mut [Job], deadline: Option<Instant>, done: KillOutcome) {
    loop {
        for job in jobs.iter_mut() {
            job.update(done);
        }
        let waiting: Vec<&sys::Target> = jobs
            .iter()
            .filter(|j| j.result.is_none())
            .flat_map(Job::waiting)
            .collect();
        if waiting.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        if let Err(e) = sys::wait_any(&waiting, deadline) {
            drop(waiting);
            for job in jobs.iter_mut().filter(|j| j.result.is_none()) {
                job.result = Some(Err(io_error(
                    sys::WAIT_CALL,
                    job.pid,
                    io::Error::new(e.kind(), e.to_string()),
                )));
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_type_is_positive() {
        assert!(Pid::new(0).is_none());
        assert!(Pid::new(-1).is_none());
        assert!(Pid::new(i32::MIN).is_none());
        assert_eq!(Pid::new(1).map(Pid::get), Some(1));
    }

    #[test]
    fn pids_that_are_not_one_process_are_refused() {
        let opts = KillOptions::new();
        for pid in [0, u32::MAX, 1 << 31, (1 << 31) + 5] {
            let e = validate(pid, &opts).unwrap_err();
            assert!(matches!(e, KillError::InvalidPid { .. }), "{pid}: {e}");
            assert!(e.to_string().contains(&pid.to_string()), "{e}");
        }
        assert!(matches!(
            validate(std::process::id(), &opts),
            Err(KillError::SelfTarget { .. })
        ));
        assert!(matches!(
            validate(1, &KillOptions::new().group(true)),
            Err(KillError::InvalidPid { .. })
        ));
        assert!(validate(1, &opts).is_ok());
    }

    /// A thread id of this process is refused before anything is opened or signalled: on
    /// Linux `kill(tid)` would signal this whole process.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn our_own_threads_are_refused() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = stopped.recv();
        });
        let tid = rx.recv().unwrap() as u32;
        for opts in [KillOptions::new(), KillOptions::new().group(true)] {
            let e = validate(tid, &opts).unwrap_err();
            assert!(
                matches!(e, KillError::OwnThread { pid } if pid == tid),
                "{e}"
            );
            assert!(e.to_string().contains("a thread of this process"), "{e}");
        }
        drop(stop);
        thread.join().unwrap();
    }

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

    /// Any timeout is accepted: one too long to be added to the clock is "no deadline".
    #[test]
    fn every_timeout_is_accepted() {
        for timeout in [Duration::MAX, Duration::from_secs(u64::MAX), Duration::ZERO] {
            let o = KillOptions::new().timeout(timeout);
            assert_eq!(o.get_timeout(), timeout);
        }
        assert_eq!(Instant::now().checked_add(Duration::MAX), None);
    }

    #[test]
    fn unusable_signals_are_refused() {
        for sig in [
            0,
            -1,
            -15,
            sys::max_signal() + 1,
            i32::MAX,
            sys::SIGSTOP,
            sys::SIGCONT,
        ] {
            assert!(check_signal(sig).is_some(), "{sig}");
        }
        for sig in [sys::SIGTERM, sys::SIGKILL, 1, sys::max_signal()] {
            assert_eq!(check_signal(sig), None, "{sig}");
        }
    }

    #[test]
    fn one_bad_pid_means_nothing_is_attempted() {
        // Only invalid pids here, so nothing could be signalled even if the logic were wrong.
        let r = safe_kill_all(&[0, u32::MAX], &KillOptions::new());
        assert!(matches!(r[0], Err(KillError::InvalidPid { pid: 0, .. })));
        assert!(matches!(
            r[1],
            Err(KillError::InvalidPid { pid: u32::MAX, .. })
        ));
        let r = safe_kill_all(&[0, std::process::id()], &KillOptions::new().signal(0));
        assert!(r
            .iter()
            .all(|r| matches!(r, Err(KillError::InvalidSignal { signal: 0, .. }))));
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = validate(u32::MAX, &KillOptions::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("-1") && e.contains("pass the pid"), "{e}");
        let e = KillError::PermissionDenied { pid: 7 }.to_string();
        assert!(e.contains("pid 7") && e.contains("run as"), "{e}");
    }

    #[test]
    fn options_builder() {
        let o = KillOptions::default();
        assert_eq!(o, KillOptions::new());
        assert_eq!(o.get_signal(), sys::SIGTERM);
        assert_eq!(o.get_timeout(), Duration::from_secs(4));
        assert!(o.get_force_kill() && !o.get_group());
        let o = o
            .signal(2)
            .timeout(Duration::ZERO)
            .force_kill(false)
            .group(true);
        assert_eq!((o.get_signal(), o.get_timeout()), (2, Duration::ZERO));
        assert!(!o.get_force_kill() && o.get_group());
    }

    /// Each layer says only itself; the chain says each cause once.
    #[test]
    fn errors_read_once() {
        let pid = Pid::new(42).unwrap();
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
            "permission-denied"
        );
    }
}
