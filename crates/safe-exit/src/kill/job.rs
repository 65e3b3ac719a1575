//! The steps of `safe_kill` for many targets at once, and [`Job`]: one target being ended.

use std::io;
use std::time::{Duration, Instant};

use super::error::{io_error, ThreadOwner};
use super::{KillError, KillOptions, KillOutcome};
use crate::sys::imp as sys;
use crate::{Pid, Signal};

/// How long to wait for a target to disappear after `SIGKILL`. The kernel always delivers
/// SIGKILL, but a process blocked in uninterruptible I/O (state `D`, e.g. on a hung network
/// file system) acts on it only when that I/O ends.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Steps 1 to 5 for every target (see the module docs). `pids` are the targets as given,
/// each already a [`Pid`] or the error that converting it gave.
pub(super) fn run(
    pids: Vec<Result<Pid, KillError>>,
    opts: &KillOptions,
) -> Vec<Result<KillOutcome, KillError>> {
    // 1. Validate everything before touching anything.
    let ask = match Ask::of(opts) {
        Ok(ask) => ask,
        // The same problem for every pid.
        Err(e) => return pids.iter().map(|_| Err(e.clone_invalid_signal())).collect(),
    };
    let given: Vec<u32> = pids
        .iter()
        .map(|pid| pid.as_ref().map_or(0, |&p| u32::from(p)))
        .collect();
    let mut valid = Vec::with_capacity(pids.len());
    let mut errors: Vec<Option<KillError>> = Vec::with_capacity(pids.len());
    for pid in pids {
        match pid.and_then(|pid| validate(pid, opts)) {
            Ok(p) => {
                valid.push(p);
                errors.push(None);
            }
            Err(e) => errors.push(Some(e)),
        }
    }
    if errors.iter().any(Option::is_some) {
        return reject(&given, errors);
    }
    // 2. Open every target (and check groups), still without signalling anything.
    let mut jobs = Vec::with_capacity(valid.len());
    for (i, &pid) in valid.iter().enumerate() {
        match Job::open(pid, opts.group, ask) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                errors[i] = Some(e);
                return reject(&given, errors);
            }
        }
    }
    // 3 to 5.
    stop(&mut jobs);
    jobs.into_iter()
        .map(|j| j.result.expect("every job ends with a result"))
        .collect()
}

/// How one target is asked to end: the options of its request, checked.
#[derive(Clone, Copy, Debug)]
struct Ask {
    signal: Signal,
    timeout: Duration,
    force_kill: bool,
}

impl Ask {
    fn of(opts: &KillOptions) -> Result<Ask, KillError> {
        let refused = |reason: String| KillError::InvalidSignal {
            signal: opts.signal,
            reason,
            term: sys::SIGTERM,
        };
        let signal = Signal::try_from(opts.signal)
            .map_err(|_| refused(Signal::refusal(opts.signal).unwrap_or_default()))?;
        if let Some(reason) = sys::cannot_send(opts.signal) {
            return Err(refused(reason.to_owned()));
        }
        Ok(Ask {
            signal,
            timeout: opts.timeout,
            force_kill: opts.force_kill,
        })
    }
}

impl KillError {
    /// A copy of an `InvalidSignal` error, for every pid of a request.
    fn clone_invalid_signal(&self) -> KillError {
        match self {
            KillError::InvalidSignal {
                signal,
                reason,
                term,
            } => KillError::InvalidSignal {
                signal: *signal,
                reason: reason.clone(),
                term: *term,
            },
            _ => unreachable!("only InvalidSignal is copied"),
        }
    }
}

/// Steps 3 to 5 for opened targets, each with its own options: signal them all (the polite
/// signal, then SIGCONT so that a stopped process can act on it), then wait for all of them
/// at once; each target that reaches its deadline (counted from the same moment) is forced
/// with SIGKILL there and then, or left running with `force_kill(false)`. A deadline too
/// far away to represent (`Duration::MAX`) is none: that target is awaited until it exits.
fn stop(jobs: &mut [Job]) {
    let start = Instant::now();
    for job in jobs.iter_mut().filter(|j| j.result.is_none()) {
        let signal = job.ask.signal;
        job.send(signal.as_raw());
        if job.result.is_none() && signal != Signal::KILL {
            job.send(sys::SIGCONT);
        }
        job.deadline = start.checked_add(job.ask.timeout);
        if job.force_unaskable && job.ask.force_kill {
            if let Some(Err(KillError::CannotAsk { .. })) = job.result {
                // Nothing can reach it but the force, and waiting for the deadline gains
                // nothing: force it now.
                job.unasked = job.result.take().and_then(Result::err);
                job.send(sys::SIGKILL);
                job.forced = Some(start.checked_add(KILL_WAIT));
            }
        }
    }
    loop {
        for job in jobs.iter_mut() {
            job.update();
        }
        let now = Instant::now();
        for job in jobs.iter_mut().filter(|j| j.result.is_none()) {
            match job.forced {
                None if job.deadline.is_some_and(|d| now >= d) => {
                    if job.ask.force_kill {
                        job.send(sys::SIGKILL);
                        job.forced = Some(now.checked_add(KILL_WAIT));
                    } else {
                        job.result = Some(Ok(KillOutcome::StillRunning));
                    }
                }
                Some(Some(limit)) if now >= limit => {
                    job.result = Some(Err(KillError::SurvivedKill {
                        pid: u32::from(job.pid),
                        waited: KILL_WAIT,
                    }));
                }
                _ => {}
            }
        }
        let open = || jobs.iter().filter(|j| j.result.is_none());
        // The earliest deadline still ahead (`None`: none of them has one).
        let next = open().filter_map(|j| j.forced.unwrap_or(j.deadline)).min();
        let waiting: Vec<&sys::Target> = open().flat_map(Job::waiting).collect();
        if open().next().is_none() {
            return;
        }
        if waiting.is_empty() {
            // Nothing left to wait on, but not yet settled (a group to look at again).
            continue;
        }
        if let Err(e) = sys::wait_any(&waiting, next) {
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

/// A process that this one owns (see [`crate::own`]): checked and opened (pinned) when it was
/// owned, stopped with its own options when this process ends.
pub(crate) struct Owned {
    job: Job,
}

impl Owned {
    /// Checks `pid` and `opts` as `safe_kill` does, and opens the target, signalling nothing.
    /// A target that is not running is [`KillError::NotRunning`].
    pub(crate) fn open(pid: Pid, opts: &KillOptions) -> Result<Owned, KillError> {
        let ask = Ask::of(opts)?;
        let pid = validate(pid, opts)?;
        let job = Job::open(pid, opts.group, ask)?;
        if job.result.is_some() {
            return Err(KillError::NotRunning {
                pid: u32::from(pid),
            });
        }
        // A process we may not signal is refused now, not found out when this process ends.
        if let Some(handle) = &job.handle {
            if let Err(e) = handle.may_signal() {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    return Err(KillError::PermissionDenied {
                        pid: u32::from(pid),
                    });
                }
            }
        }
        Ok(Owned { job })
    }

    /// The owned process.
    pub(crate) fn pid(&self) -> Pid {
        self.job.pid
    }
}

/// What happened to one owned process: its pid, the outcome, and if the polite request could
/// not reach it (Windows: no window, no console of its own), why: it was forced at once.
pub(crate) type Stopped = (Pid, Result<KillOutcome, KillError>, Option<KillError>);

/// Stops the owned processes still running, all at once (steps 3 to 5, each with its own
/// options). Unlike `safe_kill`, one that the polite request cannot reach is forced (with
/// `force_kill`) rather than left running: an owned child must not outlive this process.
pub(crate) fn stop_owned(owned: Vec<Owned>) -> Vec<Stopped> {
    let mut jobs: Vec<Job> = owned
        .into_iter()
        .map(|o| Job {
            force_unaskable: true,
            ..o.job.refreshed()
        })
        .collect();
    stop(&mut jobs);
    jobs.into_iter()
        .map(|j| {
            let result = j.result.expect("every job ends with a result");
            (j.pid, result, j.unasked)
        })
        .collect()
}

/// The results when something was refused before any signal: the errors where they are, and
/// `NotAttempted` for the others.
fn reject(given: &[u32], errors: Vec<Option<KillError>>) -> Vec<Result<KillOutcome, KillError>> {
    given
        .iter()
        .zip(errors)
        .map(|(&pid, e)| Err(e.unwrap_or(KillError::NotAttempted { pid })))
        .collect()
}

/// Checks one pid against the running system: never pid 1 in group mode, never ourselves,
/// never a thread id. (That it is positive and fits a `pid_t` its type says.)
fn validate(pid: Pid, opts: &KillOptions) -> Result<Pid, KillError> {
    let raw = u32::from(pid);
    if opts.group && raw == 1 {
        return Err(KillError::InvalidPid {
            pid: 1,
            reason: "the process group of pid 1 cannot be addressed, kill(-1) means every \
                     process",
        });
    }
    if raw == sys::process_id() {
        return Err(KillError::SelfTarget { pid: raw });
    }
    // A thread id is accepted by `kill`, which then signals the thread's whole process: for
    // one of our own threads, ourselves. Checked here, before anything is opened, so that
    // every path (pidfd or not, one pid or many, group mode) refuses it alike.
    match sys::thread_owner(pid) {
        Some(ThreadOwner::Caller) => Err(KillError::OwnThread { pid: raw }),
        Some(ThreadOwner::Other(process)) => Err(KillError::NotAProcess { pid: raw, process }),
        None => Ok(pid),
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
    /// How it is asked to end.
    ask: Ask,
    /// When it must have ended after the polite signal (`None`: no deadline).
    deadline: Option<Instant>,
    /// SIGKILL was sent, and how long it may take (`None`: for ever).
    forced: Option<Option<Instant>>,
    /// An owned target: if the polite request cannot reach it, force it.
    force_unaskable: bool,
    /// Why the polite request could not reach it, when it was forced for that.
    unasked: Option<KillError>,
    /// Group mode: when the leader started, where that can be known (its identity, with the
    /// pid; see [`Job::refreshed`]).
    leader_start: Option<u64>,
    result: Option<Result<KillOutcome, KillError>>,
}

impl Job {
    /// Opens the target (step 2). A missing process is `NotRunning`, a zombie `Exited`.
    fn open(pid: Pid, group: bool, ask: Ask) -> Result<Job, KillError> {
        let target = sys::Target::open(pid).map_err(|e| {
            if e.kind() == io::ErrorKind::Unsupported {
                KillError::Unsupported {
                    pid: u32::from(pid),
                    what: "safe_kill",
                }
            } else {
                io_error(sys::OPEN_CALL, pid, e)
            }
        })?;
        let Some(target) = target else {
            if group {
                return Job::open_group_without_leader(pid, ask);
            }
            return Ok(Job::done(pid, ask, KillOutcome::NotRunning));
        };
        if group {
            match sys::process_group(pid) {
                Ok(Some(pgid)) if pgid != pid.as_raw() => {
                    return Err(KillError::NotGroupLeader {
                        pid: u32::from(pid),
                        pgid: pgid as u32,
                    });
                }
                Ok(Some(_)) => {}
                // Gone between the open and the query: nothing to signal.
                Ok(None) => return Ok(Job::done(pid, ask, KillOutcome::NotRunning)),
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    return Err(KillError::Unsupported {
                        pid: u32::from(pid),
                        what: "group mode",
                    })
                }
                Err(e) => return Err(io_error("getpgid", pid, e)),
            }
            Job::check_group(pid)?;
            // A group whose leader has exited (a zombie) may still have members: go on.
            return Ok(Job {
                leader_start: sys::process_start(pid),
                ..Job::new(pid, ask, Some(target), Some(Vec::new()))
            });
        }
        match target.has_exited() {
            Ok(true) => Ok(Job::done(pid, ask, KillOutcome::Exited)),
            Ok(false) => Ok(Job::new(pid, ask, Some(target), None)),
            Err(e) => Err(io_error(sys::WAIT_CALL, pid, e)),
        }
    }

    /// Group mode when no process has the pid (it has exited and been reaped): the pid may
    /// still be the id of its process group, whose other members live on. Then that group is
    /// the target, as with a leader that is a zombie; signals go to its members (there is no
    /// leader left to signal through). No such group: `NotRunning`.
    fn open_group_without_leader(pid: Pid, ask: Ask) -> Result<Job, KillError> {
        match sys::group_exists(pid) {
            Ok(true) => {}
            Ok(false) => return Ok(Job::done(pid, ask, KillOutcome::NotRunning)),
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
        Ok(Job::new(pid, ask, None, Some(members)))
    }

    /// Group mode: refuses the caller's own group, and lists the group's processes, so that
    /// an unsupported platform fails before any signal.
    fn check_group(pid: Pid) -> Result<Vec<Pid>, KillError> {
        if sys::own_process_group() == pid.as_raw() {
            return Err(KillError::OwnGroup {
                pid: u32::from(pid),
            });
        }
        match sys::group_members(pid) {
            Ok(members) => Ok(members),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Err(KillError::Unsupported {
                pid: u32::from(pid),
                what: "group mode",
            }),
            Err(e) => Err(io_error("listing the process group", pid, e)),
        }
    }

    /// A job still to be done: on `handle` (the target itself, alive when opened), or in
    /// group mode (`members`) on its group.
    fn new(
        pid: Pid,
        ask: Ask,
        handle: Option<sys::Target>,
        members: Option<Vec<sys::Target>>,
    ) -> Job {
        Job {
            pid,
            alive: handle.is_some(),
            handle,
            members,
            ask,
            deadline: None,
            forced: None,
            force_unaskable: false,
            unasked: None,
            leader_start: None,
            result: None,
        }
    }

    /// A job with nothing to do: its outcome is known.
    fn done(pid: Pid, ask: Ask, outcome: KillOutcome) -> Job {
        Job {
            result: Some(Ok(outcome)),
            ..Job::new(pid, ask, None, None)
        }
    }

    /// An owned target, opened long ago, about to be stopped. In group mode, a leader that has
    /// exited since leaves its group without anything that pins it: the group is looked at
    /// again, as `safe_kill` would look at it now, unless its number now names another
    /// process (then the group is gone). A process, or a leader still running, stays pinned
    /// by its handle. (What remains: the leader's number handed out again, used as a group id
    /// by that new process, which then exits while its group lives on; or the same on a
    /// system without `/proc`, where the start time cannot be known.)
    fn refreshed(self) -> Job {
        if self.members.is_none() || self.result.is_some() {
            return self;
        }
        let leader_running = self
            .handle
            .as_ref()
            .is_some_and(|h| matches!(h.has_exited(), Ok(false)));
        if leader_running {
            return self;
        }
        match self.handle.as_ref().and_then(sys::Target::group_alive) {
            // Known by identity: its group still has members (signalled through the leader's
            // handle, which reaches that group only), or it has none.
            Some(true) => return self,
            Some(false) => return Job::done(self.pid, self.ask, KillOutcome::Exited),
            None => {}
        }
        let (pid, ask) = (self.pid, self.ask);
        // Otherwise by number. A live process with the leader's pid but another start time got the number after
        // the leader was reaped. While any member of the leader's group lives, the kernel
        // keeps that number (the group's id) from being handed out; so the group is gone,
        // and the group with that id now is another one: nothing to signal.
        let recycled = self
            .leader_start
            .is_some_and(|was| sys::process_start(pid).is_some_and(|now| now != was));
        drop(self);
        if recycled {
            return Job::done(pid, ask, KillOutcome::Exited);
        }
        Job::open_group_without_leader(pid, ask).unwrap_or_else(|e| Job {
            result: Some(Err(e)),
            ..Job::new(pid, ask, None, None)
        })
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
                    pid: u32::from(self.pid),
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
                    pid: u32::from(self.pid),
                    signal: Signal::from_platform(sig),
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
    fn update(&mut self) {
        if self.result.is_some() {
            return;
        }
        let done = if self.forced.is_some() {
            KillOutcome::Killed
        } else {
            KillOutcome::Exited
        };
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
        // Where the group can be known by identity, an empty one is not looked up by number
        // (which may name another group by now).
        if self.handle.as_ref().and_then(sys::Target::group_alive) == Some(false) {
            self.members = Some(Vec::new());
            return Ok(false);
        }
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
    Ok((sys::process_group(pid)? == Some(pgid.as_raw())).then_some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_that_are_not_one_process_are_refused() {
        let opts = KillOptions::new();
        for pid in [0, u32::MAX, 1 << 31, (1 << 31) + 5] {
            let e = Pid::try_from(pid).unwrap_err();
            assert!(matches!(e, KillError::InvalidPid { .. }), "{pid}: {e}");
            assert!(e.to_string().contains(&pid.to_string()), "{e}");
        }
        assert!(matches!(
            validate(Pid::this_process(), &opts),
            Err(KillError::SelfTarget { .. })
        ));
        let init = Pid::try_from(1_u32).unwrap();
        assert!(matches!(
            validate(init, &KillOptions::new().group(true)),
            Err(KillError::InvalidPid { pid: 1, .. })
        ));
        assert!(validate(init, &opts).is_ok());
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
            let e = validate(Pid::try_from(tid).unwrap(), &opts).unwrap_err();
            assert!(
                matches!(e, KillError::OwnThread { pid } if pid == tid),
                "{e}"
            );
            assert!(e.to_string().contains("a thread of this process"), "{e}");
        }
        drop(stop);
        thread.join().unwrap();
    }

    /// Any timeout is accepted: one too long to be added to the clock is "no deadline".
    #[test]
    fn every_timeout_is_accepted() {
        for timeout in [Duration::MAX, Duration::from_secs(u64::MAX), Duration::ZERO] {
            let o = KillOptions::new().timeout(timeout);
            assert_eq!(o.timeout, timeout);
        }
        assert_eq!(Instant::now().checked_add(Duration::MAX), None);
    }

    #[test]
    fn one_bad_pid_means_nothing_is_attempted() {
        // Only invalid pids here, so nothing could be signalled even if the logic were wrong.
        let r = super::super::safe_kill_all(&[0, u32::MAX], &KillOptions::new());
        assert!(matches!(r[0], Err(KillError::InvalidPid { pid: 0, .. })));
        assert!(matches!(
            r[1],
            Err(KillError::InvalidPid { pid, .. }) if pid == i64::from(u32::MAX)
        ));
        let r = super::super::safe_kill_all(&[0, sys::process_id()], &KillOptions::new().signal(0));
        assert!(r
            .iter()
            .all(|r| matches!(r, Err(KillError::InvalidSignal { signal: 0, .. }))));
    }

    #[test]
    fn options_builder() {
        let o = KillOptions::default();
        assert_eq!(o, KillOptions::new());
        assert_eq!(o.signal, Signal::TERM.as_raw());
        assert_eq!(o.timeout, Duration::from_secs(4));
        assert!(o.force_kill && !o.group);
        let o = o
            .signal(2)
            .timeout(Duration::ZERO)
            .force_kill(false)
            .group(true);
        assert_eq!((o.signal, o.timeout), (2, Duration::ZERO));
        assert!(!o.force_kill && o.group);
    }
}
