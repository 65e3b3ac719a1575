//! The process state: one value, behind one accessor. Platform-free.
//!
//! Everything safe-exit knows about this process lives in one [`State`]: the configuration
//! in force, the shutdown policy, the hooks, where the ending is (the phase machine), why, and
//! the shutdown request with its waiters. It sits behind one mutex in one [`Process`] record
//! that also holds the pid of the process that made it.
//!
//! **fork.** [`process`] compares that pid with the caller's. A child forked without exec finds
//! its parent's record: it neither locks it (another thread of the parent may have held the
//! lock at the moment of `fork`, and that thread does not exist in the child) nor drops it
//! (the parent's hooks own the parent's files and buffers): it makes a fresh record of its
//! own and leaks the inherited one. Queries ([`existing`]) never create a record, so nothing
//! is allocated before the first `register` or `config`.
//!
//! **Locking.** The state mutex is the only lock here. It is held for short, non-blocking
//! updates only, never while a hook runs and never while waking a future's waker (the wakers
//! are taken out first). It is held across a call into `sys` only where that call never waits
//! for anything that takes it: the one-time `install` (so that two threads cannot both set
//! up), `set_force_on_repeat`, and the `/proc` read of `parked_in_exit`. The one condition
//! variable,
//! [`Process::changed`], is notified on every change that a waiter may be waiting for: the
//! phase, the shutdown request, the policy.
//!
//! Only what a signal handler must read is kept outside, in atomics in `sys` (which process
//! owns the watcher, the first signal, what a repeated signal does).

use std::borrow::Cow;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::kill::Owned;
use crate::{ConfigFlag, ExitReason, ShutdownPhase, ShutdownPolicy};

/// A hook and the name it is reported by (its closure type unless given one).
pub(crate) struct Hook {
    pub(crate) name: Cow<'static, str>,
    pub(crate) run: Box<dyn FnOnce() + Send + 'static>,
}

/// Where the process is in its ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing has started the hooks yet.
    Idle,
    /// A trigger won and the hooks are running.
    Running,
    /// The hooks have run; nothing runs them again.
    Done,
}

/// What a trigger found when it tried to start the hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Begin {
    /// This trigger won: the caller runs the hooks.
    Won,
    /// Another trigger (with this reason) is running the hooks now.
    InProgress(ExitReason),
    /// The hooks already ran for this reason.
    Done(ExitReason),
}

/// Everything safe-exit knows about this process.
pub(crate) struct State {
    /// The configuration installed in this process, if any.
    pub(crate) config: Option<ConfigFlag>,
    /// What a termination request does.
    pub(crate) policy: ShutdownPolicy,
    /// Registered hooks, oldest first; run from the back (LIFO).
    hooks: Vec<(u64, Hook)>,
    /// Owned children (see `crate::own`), to be stopped before the hooks run.
    owned: Vec<(u64, Owned)>,
    /// Id for the next hook or owned child (never reused, so a stale handle is harmless).
    next_hook: u64,
    /// The phase machine: Idle → Running → Done.
    pub(crate) phase: Phase,
    /// The trigger that started the hooks.
    pub(crate) reason: Option<ExitReason>,
    /// The hook running now, for the hook-deadline report.
    pub(crate) current: Option<Cow<'static, str>>,
    /// The thread running the hooks now (a `sys` thread id).
    pub(crate) runner: Option<u64>,
    /// A hook asked to end the process this way (`request_shutdown` from inside a hook).
    pub(crate) end_after_hooks: Option<ExitReason>,
    /// When the hooks started, for the hook deadline.
    pub(crate) started_at: Option<Instant>,
    /// Whether a thread watches the hook deadline.
    pub(crate) deadline_watched: bool,
    /// The thread that is exiting normally (inside `exit`), if one is.
    pub(crate) exiting: Option<u64>,
    /// The watcher thread is asked to run the hooks (no thread could be started for them).
    pub(crate) runner_wanted: bool,
    /// The shutdown request and when it came.
    pub(crate) request: Option<(ExitReason, Instant)>,
    /// The request is announced but not yet acted on (a pre-drain delay runs): until when
    /// (`None`: a delay too long to represent, which only `request_shutdown` or the grace
    /// period ends).
    pub(crate) announced: Option<Option<Instant>>,
    /// Whether a thread enforces the grace period of the request.
    pub(crate) supervised: bool,
    /// This process told systemd it is ready (`notify_ready`): it is the service systemd
    /// watches, and is told when it stops.
    pub(crate) told_ready: bool,
    /// systemd started this very process (`$SYSTEMD_EXEC_PID` was its pid at set-up): it is
    /// the service, and is told when it stops.
    pub(crate) started_by_systemd: bool,
    /// Threads waiting on [`Process::changed`] now (in [`Process::wait`] or
    /// [`Process::wait_for`]).
    waiting: usize,
    /// Futures waiting for the request.
    wakers: Vec<(u64, Waker)>,
    next_waker: u64,
}

impl State {
    /// A fresh state: nothing configured, nothing registered, nothing requested.
    pub(crate) const fn new() -> State {
        State {
            config: None,
            policy: ShutdownPolicy::exit(),
            hooks: Vec::new(),
            owned: Vec::new(),
            next_hook: 0,
            phase: Phase::Idle,
            reason: None,
            current: None,
            runner: None,
            end_after_hooks: None,
            started_at: None,
            deadline_watched: false,
            exiting: None,
            runner_wanted: false,
            request: None,
            announced: None,
            supervised: false,
            told_ready: false,
            started_by_systemd: false,
            waiting: 0,
            wakers: Vec::new(),
            next_waker: 0,
        }
    }

    /// Adds a hook and returns its id.
    pub(crate) fn push(&mut self, hook: Hook) -> u64 {
        let id = self.next_hook;
        self.next_hook += 1;
        self.hooks.push((id, hook));
        id
    }

    /// Adds an owned child and returns its id (from the hooks' sequence).
    pub(crate) fn own(&mut self, child: Owned) -> u64 {
        let id = self.next_hook;
        self.next_hook += 1;
        self.owned.push((id, child));
        id
    }

    /// Takes the owned child `id` out; `None` if it was already stopped or disowned. As with
    /// [`State::remove`], the caller drops it after releasing the lock.
    pub(crate) fn disown(&mut self, id: u64) -> Option<Owned> {
        let at = self.owned.iter().position(|(i, _)| *i == id)?;
        Some(self.owned.remove(at).1)
    }

    /// Takes the owned children with the pid `pid` out; as with [`State::disown`].
    pub(crate) fn disown_pid(&mut self, pid: u32) -> Vec<Owned> {
        let (mine, rest) = self
            .owned
            .drain(..)
            .partition(|(_, o)| u32::from(o.pid()) == pid);
        self.owned = rest;
        mine.into_iter().map(|(_, o)| o).collect()
    }

    /// Takes every owned child out, to be stopped.
    pub(crate) fn take_owned(&mut self) -> Vec<Owned> {
        self.owned.drain(..).map(|(_, o)| o).collect()
    }

    /// Takes the hook `id` out; `None` if it already ran or was removed. The caller drops it
    /// after releasing the lock (a closure's `Drop` may do anything, register included).
    pub(crate) fn remove(&mut self, id: u64) -> Option<Hook> {
        let at = self.hooks.iter().rposition(|(i, _)| *i == id)?;
        Some(self.hooks.remove(at).1)
    }

    /// The next hook to run (the newest), recorded as the current one.
    pub(crate) fn pop(&mut self) -> Option<Hook> {
        let (_, hook) = self.hooks.pop()?;
        self.current = Some(hook.name.clone());
        Some(hook)
    }

    /// How many hooks are registered and not yet run.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.hooks.len()
    }

    /// Tries to become the one trigger that runs the hooks, on the thread `runner`.
    pub(crate) fn begin(&mut self, reason: ExitReason, runner: u64) -> Begin {
        match self.phase {
            Phase::Idle => {
                self.phase = Phase::Running;
                self.reason = Some(reason);
                self.runner = Some(runner);
                Begin::Won
            }
            Phase::Running => Begin::InProgress(self.reason.unwrap_or(reason)),
            Phase::Done => Begin::Done(self.reason.unwrap_or(reason)),
        }
    }

    /// The hooks have all run.
    pub(crate) fn finish(&mut self) {
        debug_assert!(self.hooks.is_empty() || self.phase != Phase::Running);
        self.phase = Phase::Done;
        self.current = None;
        self.runner = None;
    }

    /// Records the shutdown request, to be acted on after `delay` if one is given (a pre-drain
    /// delay: the request is only announced until then). Returns the wakers to wake (outside
    /// the lock): those of the futures when the request takes effect now, none while it is
    /// only announced; `None` if shutdown was already requested (the first reason stands).
    pub(crate) fn request(
        &mut self,
        reason: ExitReason,
        now: Instant,
        delay: Option<Duration>,
    ) -> Option<Vec<Waker>> {
        if self.request.is_some() {
            return None;
        }
        self.request = Some((reason, now));
        if let Some(delay) = delay.filter(|d| !d.is_zero()) {
            self.announced = Some(now.checked_add(delay));
            return Some(Vec::new());
        }
        Some(self.wakers.drain(..).map(|(_, w)| w).collect())
    }

    /// Whether a thread waits on [`Process::changed`]. Read under the lock that made a change:
    /// with none, the change wakes nobody and costs no system call (a thread that starts to
    /// wait after it sees the change under that lock).
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiting > 0
    }

    /// Whether this process is the service systemd watches (see `told_ready`,
    /// `started_by_systemd`), which tells systemd when it stops.
    pub(crate) fn speaks_to_systemd(&self) -> bool {
        self.told_ready || self.started_by_systemd
    }

    /// Ends the announcement of the request (the pre-drain delay is over, or was cut short):
    /// the request takes effect. Returns the wakers to wake, or `None` if it was not
    /// announced.
    pub(crate) fn drain(&mut self) -> Option<Vec<Waker>> {
        self.announced.take()?;
        Some(self.wakers.drain(..).map(|(_, w)| w).collect())
    }

    /// The reason shutdown was requested, if it was and is in effect (not only announced).
    pub(crate) fn requested(&self) -> Option<ExitReason> {
        if self.announced.is_some() {
            return None;
        }
        self.request.map(|(r, _)| r)
    }

    /// Where the shutdown is, as [`crate::shutdown_phase`] reports it.
    pub(crate) fn shutdown_phase(&self) -> ShutdownPhase {
        match (self.phase, self.request, self.announced) {
            (Phase::Running | Phase::Done, _, _) => ShutdownPhase::Ending,
            (Phase::Idle, None, _) => ShutdownPhase::Running,
            (Phase::Idle, Some(_), Some(_)) => ShutdownPhase::Announced,
            (Phase::Idle, Some(_), None) => ShutdownPhase::Draining,
        }
    }

    /// Why the process is ending: the trigger that runs the hooks, or else the request.
    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        self.reason.or_else(|| self.requested())
    }

    /// When the grace period of the request ends, with the policy in force now; `None` if
    /// there is no request, no grace period, or a deadline too far away to represent.
    pub(crate) fn grace_deadline(&self) -> Option<Instant> {
        let (_, at) = self.request?;
        at.checked_add(self.policy.grace?)
    }

    /// Registers (or updates) the waker of the future `slot`; returns the slot.
    pub(crate) fn add_waker(&mut self, slot: Option<u64>, waker: &Waker) -> u64 {
        if let Some(id) = slot {
            if let Some((_, w)) = self.wakers.iter_mut().find(|(i, _)| *i == id) {
                w.clone_from(waker);
                return id;
            }
            self.wakers.push((id, waker.clone()));
            return id;
        }
        let id = self.next_waker;
        self.next_waker += 1;
        self.wakers.push((id, waker.clone()));
        id
    }

    /// Forgets the waker of a dropped future.
    pub(crate) fn remove_waker(&mut self, slot: u64) {
        self.wakers.retain(|(i, _)| *i != slot);
    }
}

/// The state of one process, and the pid of that process.
pub(crate) struct Process {
    pid: u32,
    state: Mutex<State>,
    /// Notified on every change of the phase, the request and the policy.
    pub(crate) changed: Condvar,
}

impl Process {
    /// The process this record belongs to.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Locks the state. A panicking hook never holds this lock, but a poisoned lock must not
    /// stop the process from ending either.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits on [`Process::changed`], at most until `deadline` (`None`: no limit). Every
    /// change a waiter waits for notifies `changed` if [`State::has_waiters`].
    pub(crate) fn wait<'a>(
        &self,
        mut guard: MutexGuard<'a, State>,
        deadline: Option<Instant>,
    ) -> MutexGuard<'a, State> {
        guard.waiting += 1;
        let mut guard = match deadline {
            None => self
                .changed
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                self.changed
                    .wait_timeout(guard, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
        guard.waiting -= 1;
        guard
    }

    /// Waits on [`Process::changed`] for at most `limit`.
    pub(crate) fn wait_for<'a>(
        &self,
        mut guard: MutexGuard<'a, State>,
        limit: Duration,
    ) -> MutexGuard<'a, State> {
        guard.waiting += 1;
        let mut guard = self
            .changed
            .wait_timeout(guard, limit)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        guard.waiting -= 1;
        guard
    }
}

/// The record of the process that last set safe-exit up (or of its parent, in a child forked
/// without exec that has not yet). Never freed: records are leaked, so a `&'static` to one is
/// always valid, and an inherited one is never dropped.
static CURRENT: AtomicPtr<Process> = AtomicPtr::new(std::ptr::null_mut());

/// The record of this process, made on first use (and anew in a child forked without exec).
pub(crate) fn process() -> &'static Process {
    let pid = crate::sys::imp::process_id();
    loop {
        let seen = CURRENT.load(Ordering::Acquire);
        // SAFETY: a non-null pointer in CURRENT comes from `Box::leak` below and is never
        // freed.
        if let Some(p) = unsafe { seen.as_ref() } {
            if p.pid == pid {
                return p;
            }
        }
        let fresh: &'static mut Process = Box::leak(Box::new(Process {
            pid,
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
        }));
        match CURRENT.compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return fresh,
            Err(_) => {
                // Another thread of this process made one first. Ours was never shared.
                // SAFETY: `fresh` came from `Box::leak` just above and nothing else has it.
                drop(unsafe { Box::from_raw(fresh) });
            }
        }
    }
}

/// The record of this process, if it has one (never creates one).
pub(crate) fn existing() -> Option<&'static Process> {
    // SAFETY: as in `process`.
    let p = unsafe { CURRENT.load(Ordering::Acquire).as_ref() }?;
    (p.pid == crate::sys::imp::process_id()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Signal;

    fn hook(name: &'static str) -> Hook {
        Hook {
            name: Cow::Borrowed(name),
            run: Box::new(|| {}),
        }
    }

    #[test]
    fn hooks_are_taken_newest_first_and_removed_ones_never() {
        let mut s = State::new();
        let a = s.push(hook("a"));
        let b = s.push(hook("b"));
        s.push(hook("c"));
        assert!(s.remove(b).is_some());
        assert!(s.remove(b).is_none(), "a removed hook is gone");
        assert_eq!(s.pop().map(|h| h.name), Some("c".into()));
        assert_eq!(s.current.as_deref(), Some("c"));
        assert_eq!(s.pop().map(|h| h.name), Some("a".into()));
        assert!(s.pop().is_none());
        assert!(s.remove(a).is_none(), "a hook that ran cannot be removed");
    }

    #[test]
    fn the_first_trigger_wins_and_later_ones_see_its_reason() {
        let mut s = State::new();
        assert_eq!(s.begin(ExitReason::Signal(Signal::TERM), 1), Begin::Won);
        assert_eq!(s.runner, Some(1));
        assert_eq!(
            s.begin(ExitReason::Exit, 2),
            Begin::InProgress(ExitReason::Signal(Signal::TERM))
        );
        s.finish();
        assert_eq!(s.runner, None);
        assert_eq!(
            s.begin(ExitReason::Signal(Signal::INT), 3),
            Begin::Done(ExitReason::Signal(Signal::TERM))
        );
        assert_eq!(s.exit_reason(), Some(ExitReason::Signal(Signal::TERM)));
    }

    #[test]
    fn only_the_first_request_counts_and_takes_the_wakers() {
        let mut s = State::new();
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        let waker = &Waker::from(std::sync::Arc::new(Noop));
        let slot = s.add_waker(None, waker);
        assert_eq!(s.add_waker(Some(slot), waker), slot);
        s.add_waker(None, waker);
        let now = Instant::now();
        assert_eq!(
            s.request(ExitReason::Requested(3), now, None)
                .map(|w| w.len()),
            Some(2)
        );
        assert!(s
            .request(ExitReason::Signal(Signal::TERM), now, None)
            .is_none());
        assert_eq!(s.requested(), Some(ExitReason::Requested(3)));
        assert_eq!(s.exit_reason(), Some(ExitReason::Requested(3)));
    }

    #[test]
    fn an_announced_request_is_hidden_until_it_drains() {
        let mut s = State::new();
        let now = Instant::now();
        assert_eq!(s.shutdown_phase(), ShutdownPhase::Running);
        let wakers = s.request(
            ExitReason::Signal(Signal::TERM),
            now,
            Some(Duration::from_secs(5)),
        );
        assert_eq!(
            wakers.map(|w| w.len()),
            Some(0),
            "first, but nobody woken yet"
        );
        assert_eq!(s.shutdown_phase(), ShutdownPhase::Announced);
        assert_eq!(s.requested(), None);
        assert_eq!(s.exit_reason(), None);
        assert_eq!(s.announced, Some(Some(now + Duration::from_secs(5))));
        assert!(
            s.request(ExitReason::Requested(1), now, None).is_none(),
            "the first stands"
        );
        assert!(s.drain().is_some());
        assert!(s.drain().is_none(), "drains once");
        assert_eq!(s.shutdown_phase(), ShutdownPhase::Draining);
        assert_eq!(s.requested(), Some(ExitReason::Signal(Signal::TERM)));
        assert_eq!(s.begin(ExitReason::Exit, 1), Begin::Won);
        assert_eq!(s.shutdown_phase(), ShutdownPhase::Ending);

        let mut s = State::new();
        s.request(ExitReason::Signal(Signal::TERM), now, Some(Duration::MAX));
        assert_eq!(
            s.announced,
            Some(None),
            "too long to represent: until cut short"
        );
        let mut s = State::new();
        s.request(ExitReason::Signal(Signal::TERM), now, Some(Duration::ZERO));
        assert_eq!(
            s.shutdown_phase(),
            ShutdownPhase::Draining,
            "a zero delay is none"
        );
    }

    #[test]
    fn the_grace_deadline_follows_the_policy_in_force_and_never_overflows() {
        let mut s = State::new();
        let now = Instant::now();
        s.request(ExitReason::Signal(Signal::TERM), now, None);
        assert_eq!(s.grace_deadline(), None, "no grace period: no deadline");
        s.policy = ShutdownPolicy::notify().grace_period(Duration::from_millis(200));
        assert_eq!(s.grace_deadline(), Some(now + Duration::from_millis(200)));
        s.policy = ShutdownPolicy::notify().grace_period(Duration::MAX);
        assert_eq!(s.grace_deadline(), None, "too far away: no deadline");
    }

    #[test]
    fn a_changed_pid_gets_a_fresh_record() {
        let p = process();
        assert!(std::ptr::eq(p, process()));
        assert!(existing().is_some_and(|e| std::ptr::eq(e, p)));
        // As a child forked without exec would see it: a record whose pid is not ours.
        let inherited: &'static Process = Box::leak(Box::new(Process {
            pid: p.pid.wrapping_add(1),
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
        }));
        inherited.lock().push(hook("parent's"));
        // Hold the inherited lock, as a parent's thread might have at the moment of fork.
        let held = inherited.lock();
        CURRENT.store(
            inherited as *const Process as *mut Process,
            Ordering::Release,
        );
        assert!(
            existing().is_none(),
            "a query does not adopt another's record"
        );
        let fresh = process();
        assert!(!std::ptr::eq(fresh, inherited));
        assert_eq!(fresh.lock().pending(), 0, "nothing inherited");
        assert_eq!(held.pending(), 1, "the inherited hooks are left alone");
    }

    /// Every interleaving of the triggers that matter, from every starting phase: a signal
    /// seen by the watcher, `main` returning, a registration, and a fork (which leaves the
    /// parent's state alone and gives the child a fresh one). Each trigger is one step of
    /// the machine as the code above takes it under the lock. Checked: the hooks run at most
    /// once and all of them run once a run finishes; exactly one trigger wins; `Done` is
    /// final; a fork never changes the parent's state and the child's starts `Idle` and empty.
    #[test]
    fn every_interleaving_of_signal_exit_register_and_fork_keeps_the_invariants() {
        #[derive(Clone, Copy, Debug)]
        enum Step {
            Signal,
            Exit,
            Register,
            Fork,
            FinishRun,
        }
        const STEPS: [Step; 5] = [
            Step::Signal,
            Step::Exit,
            Step::Register,
            Step::Fork,
            Step::FinishRun,
        ];

        struct World {
            s: State,
            ran: std::collections::HashMap<u64, u32>,
            ids: Vec<u64>,
            winners: u32,
            /// How many hooks were registered when the run finished.
            registered_at_finish: Option<usize>,
        }

        fn step(w: &mut World, st: Step) {
            match st {
                Step::Signal | Step::Exit => {
                    let reason = match st {
                        Step::Signal => ExitReason::Signal(Signal::TERM),
                        _ => ExitReason::Exit,
                    };
                    if w.s.begin(reason, 7) == Begin::Won {
                        w.winners += 1;
                    }
                }
                Step::Register => {
                    let id = w.s.push(Hook {
                        name: Cow::Borrowed("h"),
                        run: Box::new(|| {}),
                    });
                    w.ids.push(id);
                }
                Step::Fork => {
                    let before = (w.s.phase, w.s.hooks.len(), w.s.reason);
                    let child = State::new();
                    assert_eq!(child.phase, Phase::Idle);
                    assert_eq!(child.hooks.len(), 0);
                    assert_eq!((w.s.phase, w.s.hooks.len(), w.s.reason), before);
                }
                Step::FinishRun => {
                    if w.s.phase == Phase::Running {
                        // The runner pops until empty (a hook registered meanwhile runs too).
                        let mut ids: Vec<u64> = w.s.hooks.iter().map(|(i, _)| *i).collect();
                        ids.reverse();
                        while w.s.pop().is_some() {}
                        for id in ids {
                            *w.ran.entry(id).or_default() += 1;
                        }
                        w.s.finish();
                        w.registered_at_finish = Some(w.ids.len());
                    }
                }
            }
        }

        fn explore(path: &mut Vec<Step>, depth: usize) {
            if depth == 0 {
                let mut w = World {
                    s: State::new(),
                    ran: Default::default(),
                    ids: Vec::new(),
                    winners: 0,
                    registered_at_finish: None,
                };
                let mut done_seen = false;
                for &st in path.iter() {
                    step(&mut w, st);
                    if done_seen {
                        assert_eq!(w.s.phase, Phase::Done, "Done is final: {path:?}");
                    }
                    done_seen |= w.s.phase == Phase::Done;
                }
                assert!(w.winners <= 1, "one winner: {path:?}");
                assert!(w.ran.values().all(|&n| n == 1), "at most once: {path:?}");
                if let Some(n) = w.registered_at_finish {
                    // Every hook registered before the run finished has run (a hook registered
                    // while the hooks run runs too, in its turn); none registered later has.
                    assert_eq!(w.ran.len(), n, "all ran: {path:?}");
                }
                return;
            }
            for st in STEPS {
                path.push(st);
                explore(path, depth - 1);
                path.pop();
            }
        }
        explore(&mut Vec::new(), 6);
    }
}
