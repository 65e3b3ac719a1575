//! `safe_kill`: the options, the outcome and the entry points.
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
//! The steps are in `job.rs` and the error in `error.rs`; everything that differs between
//! platforms is behind `sys::imp`: `Target` (a handle on one process), `wait_any`, and the
//! process-group queries.

mod error;
mod job;

use std::fmt;
use std::time::Duration;

pub use error::KillError;
pub(crate) use error::ThreadOwner;
pub(crate) use job::{stop_owned, Owned};

use crate::{Pid, Signal};

/// How [`safe_kill_with`] and [`safe_kill_all`] ask a process to end.
///
/// A builder, by value; [`KillOptions::new`] (and [`Default`]) is what [`safe_kill`] uses:
/// SIGTERM, a 4 second deadline, then SIGKILL.
///
/// ```
/// use std::time::Duration;
/// use safe_exit::{KillOptions, Signal};
///
/// let opts = KillOptions::new()
///     .signal(Signal::INT)                // the polite request
///     .timeout(Duration::from_millis(500)) // how long it may take
///     .force_kill(true)                   // then SIGKILL
///     .group(false);                      // just this process
/// // A raw number, as the original package takes it: SIGINT is 2 everywhere.
/// assert_eq!(opts, KillOptions::new().signal(2).timeout(Duration::from_millis(500)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillOptions {
    pub(crate) signal: i32,
    pub(crate) timeout: Duration,
    pub(crate) force_kill: bool,
    pub(crate) group: bool,
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
            signal: Signal::TERM.as_raw(),
            timeout: Duration::from_secs(4),
            force_kill: true,
            group: false,
        }
    }

    /// The polite signal that asks the process to end (default: [`Signal::TERM`]): a
    /// [`Signal`], or a raw number as the original package takes it (`libc::SIGINT`, `2`).
    /// A number is checked when the options are used, as [`Signal`]'s `TryFrom` checks it:
    /// one that is not a signal on this platform, 0 (which only tests that a process exists),
    /// SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU and SIGCONT (which cannot ask a process to end) are
    /// rejected with [`KillError::InvalidSignal`], before anything is signalled. On Windows the
    /// signal names the request: SIGTERM (15) `WM_CLOSE` or Ctrl-C, SIGINT (2) Ctrl-C, SIGBREAK (21)
    /// Ctrl-Break, SIGKILL (9) `TerminateProcess` (see [`safe_kill_with`]).
    pub fn signal(mut self, signal: impl Into<i32>) -> Self {
        self.signal = signal.into();
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

    /// Ends `pid` with these options: [`safe_kill_with`] for a [`Pid`], which is never 0 and
    /// never negative as a `pid_t`.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use safe_exit::{KillOptions, KillOutcome, Pid, Signal};
    ///
    /// let worker = std::process::Command::new("sleep").arg("60").spawn()?;
    /// let outcome = KillOptions::new()
    ///     .signal(Signal::INT)
    ///     .timeout(Duration::from_secs(2))
    ///     .kill(Pid::from_child(&worker))?;
    /// assert_ne!(outcome, KillOutcome::StillRunning);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`safe_kill_with`].
    pub fn kill(&self, pid: Pid) -> Result<KillOutcome, KillError> {
        self.kill_all(&[pid])
            .pop()
            .unwrap_or(Ok(KillOutcome::NotRunning))
    }

    /// Ends every one of `pids` with these options: [`safe_kill_all`] for [`Pid`]s.
    pub fn kill_all(&self, pids: &[Pid]) -> Vec<Result<KillOutcome, KillError>> {
        let pids: Vec<_> = pids.iter().map(|&pid| Ok(pid)).collect();
        job::run(pids, self)
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
    /// A short lower-case name: `exited`, `killed`, `still_running`, `not_running`. The
    /// `safe-kill` command prints it, and the Python package's `KillOutcome` values are these
    /// words.
    pub fn as_str(self) -> &'static str {
        match self {
            KillOutcome::Exited => "exited",
            KillOutcome::Killed => "killed",
            KillOutcome::StillRunning => "still_running",
            KillOutcome::NotRunning => "not_running",
        }
    }
}

impl fmt::Display for KillOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
///    another process's thread, an unusable signal). Pid 1 is a process like any other (in a
///    container, stopping it stops the container, as `docker stop` does); only its process
///    group is refused, because `kill(-1)` means every process.
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
/// use safe_exit::{safe_kill_with, KillOptions, KillOutcome, Signal};
///
/// # let pid = 12345;
/// // Ask with SIGINT, give it 10 s, never force.
/// let opts = KillOptions::new().signal(Signal::INT).timeout(Duration::from_secs(10)).force_kill(false);
/// if safe_kill_with(pid, &opts)? == KillOutcome::StillRunning {
///     eprintln!("pid {pid} is still draining");
/// }
/// # Ok::<(), safe_exit::KillError>(())
/// ```
pub fn safe_kill_with(pid: u32, opts: &KillOptions) -> Result<KillOutcome, KillError> {
    opts.kill(Pid::try_from(pid)?)
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
    let pids: Vec<_> = pids.iter().map(|&pid| Pid::try_from(pid)).collect();
    job::run(pids, opts)
}
