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
    let Ok(signal) = Signal::try_from(opts.signal) else {
        // The same problem for every pid.
        let reason = Signal::refusal(opts.signal).unwrap_or_default();
        return pids
            .iter()
            .map(|_| {
                Err(KillError::InvalidSignal {
                    signal: opts.signal,
                    reason: reason.clone(),
                    term: sys::SIGTERM,
                })
            })
            .collect();
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
        match Job::open(pid, opts.group) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                errors[i] = Some(e);
                return reject(&given, errors);
            }
        }
    }

    // 3. Signal: the polite signal, then SIGCONT so that a stopped process can act on it.
    for job in jobs.iter_mut().filter(|j| j.result.is_none()) {
        job.send(signal.as_raw());
        if job.result.is_none() && signal != Signal::KILL {
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
                pid: u32::from(job.pid),
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
    result: Option<Result<KillOutcome, KillError>>,
}

impl Job {
    /// Opens the target (step 2). A missing process is `NotRunning`, a zombie `Exited`.
    fn open(pid: Pid, group: bool) -> Result<Job, KillError> {
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
                return Job::open_group_without_leader(pid);
            }
            return Ok(Job::done(pid, KillOutcome::NotRunning));
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
                Ok(None) => return Ok(Job::done(pid, KillOutcome::NotRunning)),
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
    Ok((sys::process_group(pid)? == Some(pgid.as_raw())).then_some(t))
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
