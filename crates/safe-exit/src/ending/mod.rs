//! How the process ends: the triggers, running the hooks, the deadlines, and the ending
//! itself. Platform-free; `sys` provides the primitives and reaches this module only through
//! the two functions given to `sys::install` ([`on_event`] and [`on_normal_exit`]).
//!
//! Triggers: a signal or console event ([`on_event`]), `main` returning or `exit` being called
//! ([`on_normal_exit`]), and [`request_shutdown`]. Exactly one of them wins
//! ([`State::begin`](crate::state::State::begin)) and the hooks run once.
//!
//! **Which thread runs the hooks.** The winner's thread, except at a normal exit: the exiting
//! thread's thread-locals are already destroyed by then (glibc destroys them before it calls
//! the `atexit` functions), so the hooks run on a fresh thread while the exiting thread waits.
//! That also means a hook that calls `std::process::exit` there is not a second exit on the
//! same thread (which Rust turns into an abort): Rust parks that thread for good, the waiting
//! thread notices ([`sys::parked_in_exit`]) and continues with the remaining hooks on another
//! fresh thread.
//!
//! **Ending.** After the hooks the process ends the way the trigger says. Outside `exit` that is
//! done at once: `raise` for a signal, `exit(code)` for a request (so C's `atexit` functions
//! and stdio still run). Inside `exit` (a normal exit that must end by a signal or another
//! code) it is left to `sys::end_after_exit`, which ends the process after `exit` has done its
//! work. The last steps never wait on a lock that another thread may hold for good (stdout's,
//! held by a thread blocked on a full pipe): a bounded alarm ends the process if they block.

use std::borrow::Cow;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

mod runner;

use runner::{
    current_name, run_elsewhere_and_wait, run_hooks, stop_owned, wait_done, watch_hook_deadline,
};

use crate::kill::Owned;
use crate::state::{self, Begin, Hook, Phase, Process};
use crate::sys::imp as sys;
use crate::{ConfigFlag, Error, ExitReason, ShutdownPhase, ShutdownPolicy, Signal};

/// How long the last steps of an ending (flushing stdout) may block before the process ends
/// anyway.
const ENDING_BOUND: Duration = Duration::from_millis(100);

/// Installs `flags` in this process unless it is already configured. With `strict`, an
/// existing configuration that differs is an error; without, the existing one stands.
pub(crate) fn install(flags: ConfigFlag, strict: bool) -> Result<(), Error> {
    let p = state::process();
    let mut st = p.lock();
    match st.config {
        Some(current) if strict && current != flags => Err(Error::AlreadyConfigured {
            current,
            requested: flags,
        }),
        Some(_) => Ok(()),
        None => {
            // Under the state lock, so that two threads cannot both install; `sys::install`
            // never waits for anything that takes this lock.
            sys::install(flags, on_event, on_normal_exit).map_err(Error::Install)?;
            sys::set_force_on_repeat(st.policy.force_on_repeat);
            st.config = Some(flags);
            // Read once here, not on the way from a signal to the hooks.
            st.started_by_systemd = std::env::var("SYSTEMD_EXEC_PID")
                .ok()
                .and_then(|pid| pid.parse::<u32>().ok())
                == Some(sys::process_id());
            Ok(())
        }
    }
}

/// Adds a hook; returns its id.
pub(crate) fn register(hook: Hook) -> u64 {
    state::process().lock().push(hook)
}

/// Disowns every owned child with the pid `pid` (for a binding); true if there was one.
pub(crate) fn disown_pid(pid: u32) -> bool {
    let Some(p) = state::existing() else {
        return false;
    };
    let disowned = p.lock().disown_pid(pid);
    !disowned.is_empty()
}

/// Stops the owned children now (for a binding that runs its own exit functions).
pub(crate) fn stop_owned_now() {
    let owned = state::existing().map(|p| p.lock().take_owned());
    if let Some(owned) = owned.filter(|o| !o.is_empty()) {
        stop_owned(owned);
    }
}

/// Adds an owned child; returns its id. Once the hooks have run (from a C `atexit` function
/// that runs after ours, say), this process is ending now: the child is stopped at once.
pub(crate) fn own(child: Owned) -> u64 {
    let p = state::process();
    let mut st = p.lock();
    let id = st.own(child);
    if st.phase == Phase::Done {
        let late = st.disown(id);
        drop(st);
        stop_owned(late.into_iter().collect());
    }
    id
}

/// Removes a hook of this process; true if it was still registered.
pub(crate) fn unregister(id: u64) -> bool {
    let Some(p) = state::existing() else {
        return false;
    };
    let mut st = p.lock();
    let removed = st.remove(id);
    let disowned = if removed.is_none() {
        st.disown(id)
    } else {
        None
    };
    drop(st);
    // Dropped here, without the lock: a hook's destructor may do anything.
    removed.is_some() || disowned.is_some()
}

/// Why the process is ending, if it is.
pub(crate) fn exit_reason() -> Option<ExitReason> {
    state::existing().and_then(|p| p.lock().exit_reason())
}

/// The shutdown request, if there was one and it is in effect (not only announced).
pub(crate) fn requested() -> Option<ExitReason> {
    state::existing().and_then(|p| p.lock().requested())
}

/// Where the shutdown is.
pub(crate) fn phase() -> ShutdownPhase {
    state::existing().map_or(ShutdownPhase::Running, |p| p.lock().shutdown_phase())
}

/// The margin added to a budget told to systemd, for the last steps of an ending.
const SYSTEMD_MARGIN: Duration = Duration::from_secs(1);

/// Tells systemd, when `$NOTIFY_SOCKET` is set and this process is the service (`speaks`: it
/// called [`notify_ready`], or systemd started it: `$SYSTEMD_EXEC_PID` was its pid when it
/// set safe-exit up), that the service
/// is stopping and that it may take `budget` more (and a margin), so that `TimeoutStopSec`
/// does not cut short a cleanup that is on schedule. Without a bound nothing is extended:
/// systemd's own limit stands. (A child that inherited `$NOTIFY_SOCKET` says nothing: with
/// `NotifyAccess=all` its `STOPPING=1` would be taken for the service's.)
fn tell_stopping(speaks: bool, budget: Option<Duration>) {
    if !speaks {
        return;
    }
    let mut state = String::from("STOPPING=1");
    if let Some(budget) = budget.and_then(|b| b.checked_add(SYSTEMD_MARGIN)) {
        let usec = u64::try_from(budget.as_micros()).unwrap_or(u64::MAX);
        state.push_str(&format!("\nEXTEND_TIMEOUT_USEC={usec}"));
    }
    if let Err(e) = sys::notify(&state) {
        sys::report(&format!(
            "safe-exit: cannot tell systemd that the service is stopping: {e}"
        ));
    }
}

/// [`crate::run_service`]: the platform runs the service, and calls back here for what the
/// core does (a stop request, the hooks before the service reports that it stopped, the
/// time a stop may still take).
pub(crate) fn run_service(
    name: &str,
    service_main: Box<dyn FnOnce() -> i32 + Send>,
) -> std::io::Result<i32> {
    if let Err(e) = install(ConfigFlag::DEFAULT, false) {
        sys::report(&format!(
            "{}; the service runs without signal handling",
            with_causes(&e)
        ));
    }
    let core = crate::sys::ServiceCore {
        stop: service_stop,
        finish: finish_service,
        budget: stop_budget,
    };
    sys::run_service(name, service_main, core)
}

/// The service control manager asked the service to stop (`control`: STOP, SHUTDOWN or
/// PRESHUTDOWN): a shutdown request, as SIGTERM is, but made on the manager's thread, which
/// must not wait: in exit mode the hooks run on the supervisor's thread, which then ends the
/// process.
fn service_stop(control: u32) {
    let reason = ExitReason::ServiceControl(control);
    let p = state::process();
    let mut st = p.lock();
    let wakers = st.request(reason, Instant::now(), None);
    let waiting = st.has_waiters();
    drop(st);
    sys::set_started();
    let first = wakers.is_some();
    wake(p, wakers, waiting);
    if first {
        start_supervisor(p);
    }
}

/// The service's main function returned: the hooks run now, on this thread, before the
/// service reports that it stopped (or, if another trigger runs them, this waits for them).
fn finish_service() {
    let p = state::process();
    let me = sys::current_thread();
    let mut st = p.lock();
    let reason = st.request.map_or(ExitReason::Exit, |(r, _)| r);
    match st.begin(reason, me) {
        Begin::Won => {
            let wakers = st.drain();
            let waiting = st.has_waiters();
            drop(st);
            sys::set_started();
            wake(p, wakers, waiting);
            run_hooks(p);
        }
        Begin::InProgress(_) => {
            drop(st);
            wait_done(p, me);
        }
        Begin::Done(_) => {}
    }
}

/// What a stop may still take under the policy in force: the rest of the grace period (none
/// in exit mode), then the hook deadline; `None` when that is unbounded.
fn stop_budget() -> Option<Duration> {
    let st = state::process().lock();
    let hooks = st.policy.hook_deadline?;
    if st.phase != Phase::Idle {
        let left = st
            .started_at
            .map_or(hooks, |at| hooks.saturating_sub(at.elapsed()));
        return Some(left);
    }
    if !st.policy.notify {
        return Some(hooks);
    }
    let grace_left = st
        .grace_deadline()?
        .saturating_duration_since(Instant::now());
    grace_left.checked_add(hooks)
}

/// [`crate::notify_ready`].
pub(crate) fn notify_ready() -> std::io::Result<bool> {
    let sent = sys::notify("READY=1")?;
    if sent {
        state::process().lock().told_ready = true;
    }
    Ok(sent)
}

/// What a shutdown request may still take under `policy`, from the request: in notify mode
/// the grace period (which counts from the request, a pre-drain delay included) and then the
/// hook deadline; in exit mode the hook deadline. `None` when either is unbounded.
fn budget(policy: &ShutdownPolicy) -> Option<Duration> {
    let hooks = policy.hook_deadline?;
    if policy.notify {
        policy.grace?.checked_add(hooks)
    } else {
        Some(hooks)
    }
}

/// Changes the policy. Whatever waits on it (the grace period, the hook deadline) follows.
pub(crate) fn set_policy(policy: ShutdownPolicy) {
    let p = state::process();
    let mut st = p.lock();
    st.policy = policy;
    sys::set_force_on_repeat(policy.force_on_repeat);
    let watch_deadline =
        st.phase == Phase::Running && policy.hook_deadline.is_some() && !st.deadline_watched;
    if watch_deadline {
        st.deadline_watched = true;
    }
    let supervise = st.request.is_some() && st.phase == Phase::Idle && !st.supervised;
    let waiting = st.has_waiters();
    drop(st);
    if waiting {
        p.changed.notify_all();
    }
    if watch_deadline {
        watch_hook_deadline(p);
    }
    if supervise {
        start_supervisor(p);
    }
}

/// Blocks until shutdown is requested or `limit` passes (`None`: no limit).
pub(crate) fn wait(limit: Option<Duration>) -> Option<ExitReason> {
    // A limit too far away to represent is no limit.
    let deadline = limit.and_then(|d| Instant::now().checked_add(d));
    let p = state::process();
    let mut st = p.lock();
    loop {
        if let Some(reason) = st.requested() {
            return Some(reason);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        st = p.wait(st, deadline);
    }
}

/// The watcher thread's report (unix), or a console event on the thread Windows created for
/// it.
fn on_event(event: sys::Event) {
    match event {
        sys::Event::Wake => {
            let p = state::process();
            let mut st = p.lock();
            if st.runner_wanted && st.phase == Phase::Running {
                // No thread could be started for the hooks at a normal exit: run them here.
                st.runner_wanted = false;
                drop(st);
                run_hooks(p);
                return;
            }
            if st.request.is_some() && st.phase == Phase::Idle && !st.supervised {
                st.supervised = true;
                drop(st);
                supervise(p);
            }
        }
        sys::Event::Reason(reason) => {
            on_termination(reason);
            if let ExitReason::ConsoleEvent(_) = reason {
                // Windows ends the process as soon as the handler of a close, logoff or
                // shutdown event returns: keep it until the hooks are done, then end.
                let p = state::process();
                let me = sys::current_thread();
                wait_done(p, me);
                if p.lock().exiting.is_some_and(|e| e != me) {
                    // A normal exit is in progress (notify mode: `main` drained and
                    // returned): it ends the process, with the status the policy says
                    // (`on_normal_exit`). Ending here too would race it with another status.
                    park_forever();
                }
                end(effective(p, reason));
            }
        }
    }
}

/// What the termination request of `reason` found.
enum Outcome {
    /// Notify mode: the request was recorded (or was already); the program drains.
    Notified,
    /// Exit mode: another thread runs, or ran, the hooks, and ends the process.
    Elsewhere,
}

/// A termination request: a signal, a console event, or [`request_shutdown`]. Exit mode: the
/// first one runs the hooks on the calling thread and ends the process (it does not return);
/// notify mode: the first one wakes the waiters and enforces the grace period.
fn on_termination(reason: ExitReason) -> Outcome {
    let p = state::process();
    let me = sys::current_thread();
    let mut st = p.lock();
    // A supervisor's SIGTERM waits out the pre-drain delay; everything else drains at once.
    let delay = st
        .policy
        .pre_drain
        .filter(|_| st.policy.notify && reason == ExitReason::Signal(Signal::TERM));
    let wakers = st.request(reason, Instant::now(), delay);
    let (speaks, budget) = (st.speaks_to_systemd(), budget(&st.policy));
    sys::set_started();
    if st.policy.notify {
        let first = wakers.is_some();
        if first {
            st.supervised = true;
        }
        let waiting = st.has_waiters();
        drop(st);
        // systemd hears of the stop before anything else can happen: once woken, `main` may
        // return and its exit send the hooks' own, shorter, extension first.
        if first {
            tell_stopping(speaks, budget);
        }
        wake(p, wakers, waiting);
        if first {
            supervise(p);
        }
        return Outcome::Notified;
    }
    match st.begin(reason, me) {
        Begin::Won => {
            let waiting = st.has_waiters();
            drop(st);
            wake(p, wakers, waiting);
            tell_stopping(speaks, budget);
            run_hooks(p);
            end(effective(p, reason))
        }
        Begin::InProgress(_) if st.runner == Some(me) => {
            // `request_shutdown` from inside a hook: the hook asks to end the process this
            // way. The remaining hooks run here; the hook does not get control back.
            st.end_after_hooks = Some(reason);
            let exiting = st.exiting;
            let waiting = st.has_waiters();
            drop(st);
            wake(p, wakers, waiting);
            run_hooks(p);
            if exiting == Some(me) {
                // Only where no thread could be started at a normal exit (the hooks run on the
                // exiting thread): the exit in progress ends the process with this code.
                return Outcome::Elsewhere;
            }
            if exiting.is_some() {
                // The exiting thread waits for the hooks, and ends the process with the code.
                park_forever();
            }
            end(reason)
        }
        _ => {
            let waiting = st.has_waiters();
            drop(st);
            wake(p, wakers, waiting);
            Outcome::Elsewhere
        }
    }
}

/// [`crate::request_shutdown`].
pub(crate) fn request_shutdown(code: i32) {
    let reason = ExitReason::Requested(code);
    if let Err(e) = install(ConfigFlag::DEFAULT, false) {
        sys::report(&format!(
            "{}; shutdown requested without signal handling",
            with_causes(&e)
        ));
    }
    let p = state::process();
    if !p.lock().policy.notify {
        if let Outcome::Elsewhere = on_termination(reason) {
            // Another trigger runs the hooks and ends the process; as documented, this call
            // does not return (unless the exit in progress is on this very thread).
            let me = sys::current_thread();
            let st = p.lock();
            if st.exiting != Some(me) && st.runner != Some(me) {
                drop(st);
                park_forever();
            }
        }
        return;
    }
    let mut st = p.lock();
    let wakers = st.request(reason, Instant::now(), None);
    let first = wakers.is_some();
    // Asked again during a pre-drain delay: the program wants to drain now.
    let wakers = wakers.or_else(|| st.drain());
    let (speaks, budget) = (st.speaks_to_systemd(), budget(&st.policy));
    let waiting = st.has_waiters();
    drop(st);
    sys::set_started();
    // Before the waiters wake (see `on_termination`).
    if first {
        tell_stopping(speaks, budget);
    }
    wake(p, wakers, waiting);
    if first {
        start_supervisor(p);
    }
}

/// Wakes the waiters of the request: futures, and, if `waiting` (some thread waited on the
/// state when it changed: [`state::State::has_waiters`], read under the same lock), threads.
fn wake(p: &Process, wakers: Option<Vec<std::task::Waker>>, waiting: bool) {
    if waiting {
        p.changed.notify_all();
    }
    for w in wakers.into_iter().flatten() {
        w.wake();
    }
}

/// Starts a supervisor for the request unless one runs: the watcher thread where there is
/// one (it checks again under the lock), else a thread of its own.
fn start_supervisor(p: &'static Process) {
    if p.lock().supervised || sys::wake() {
        return;
    }
    let mut st = p.lock();
    if st.supervised {
        return;
    }
    st.supervised = true;
    drop(st);
    let spawned = std::thread::Builder::new()
        .name("safe-exit-grace".into())
        .spawn(move || supervise(p));
    if let Err(e) = spawned {
        p.lock().supervised = false;
        sys::report(&format!(
            "safe-exit: cannot start the grace-period timer ({e}); no grace deadline"
        ));
    }
}

/// Notify mode, after the request: waits until `main` returns (the hooks start), and enforces
/// the grace period of the policy in force, whenever it was set. If the grace period runs out,
/// or the policy is switched to exit mode, the hooks run here and the process ends as exit
/// mode would.
fn supervise(p: &'static Process) {
    let mut st = p.lock();
    loop {
        if st.phase != Phase::Idle {
            return;
        }
        let Some((reason, _)) = st.request else {
            return;
        };
        let now = Instant::now();
        // The end of a pre-drain delay: the waiters wake now.
        let drain_at = st.announced.flatten();
        if drain_at.is_some_and(|at| now >= at) {
            let wakers = st.drain();
            let waiting = st.has_waiters();
            drop(st);
            wake(p, wakers, waiting);
            st = p.lock();
            continue;
        }
        let deadline = st.grace_deadline();
        let expired = !st.policy.notify || deadline.is_some_and(|d| now >= d);
        if expired {
            if st.begin(reason, sys::current_thread()) != Begin::Won {
                return;
            }
            let grace = st.policy.grace;
            let notify = st.policy.notify;
            let (speaks, hooks) = (st.speaks_to_systemd(), st.policy.hook_deadline);
            // Whatever still waits wakes: the process is ending.
            let wakers = st.drain();
            let waiting = st.has_waiters();
            drop(st);
            wake(p, wakers, waiting);
            tell_stopping(speaks, hooks);
            if notify {
                sys::report(&format!(
                    "safe-exit: shutdown was requested ({reason:?}) but main did not return \
                     within the grace period of {:?}; running the exit hooks and ending the \
                     process",
                    grace.unwrap_or_default()
                ));
            }
            run_hooks(p);
            end(effective(p, reason));
        }
        let next = match (deadline, drain_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        st = p.wait(st, next);
    }
}

/// The process is exiting normally (`main` returned or `exit` was called), on the exiting
/// thread, inside `exit`.
fn on_normal_exit() {
    let Some(p) = state::existing() else {
        // Nothing was set up in this process (a child forked without exec that never called
        // safe-exit): the hooks it inherited are its parent's.
        return;
    };
    let me = sys::current_thread();
    let mut st = p.lock();
    if st.exiting.is_none() {
        st.exiting = Some(me);
    }
    // A request only announced (main returned during a pre-drain delay) is the reason too.
    let reason = st.request.map_or(ExitReason::Exit, |(r, _)| r);
    match st.begin(reason, me) {
        Begin::Won => {
            st.runner = None;
            let (speaks, hooks) = (st.speaks_to_systemd(), st.policy.hook_deadline);
            let wakers = st.drain();
            let waiting = st.has_waiters();
            drop(st);
            sys::set_started();
            wake(p, wakers, waiting);
            tell_stopping(speaks, hooks);
            run_elsewhere_and_wait(p, me);
        }
        Begin::InProgress(_) if st.runner == Some(me) => {
            // A hook on this thread called `exit`: it ends the process now, with its code.
            // The remaining hooks still run, on another thread (this one's thread-locals are
            // gone).
            st.runner = None;
            drop(st);
            sys::report(&format!(
                "safe-exit: an exit hook called exit ({}); running the remaining hooks",
                current_name(p)
            ));
            run_elsewhere_and_wait(p, me);
            sys::set_ending();
            return;
        }
        Begin::InProgress(_) => {
            // Another trigger is running the hooks: wait for it, so the process does not end
            // under a running hook, then end the way it would have.
            drop(st);
            wait_done(p, me);
        }
        Begin::Done(_) => {
            drop(st);
            sys::set_ending();
            return;
        }
    }
    sys::set_ending();
    let st = p.lock();
    let end = st.end_after_hooks.or(match st.reason {
        Some(r @ ExitReason::Signal(_)) | Some(r @ ExitReason::ConsoleEvent(_))
            if st.policy.exit_by_signal || !st.policy.notify =>
        {
            Some(r)
        }
        Some(r @ ExitReason::Requested(_)) if !st.policy.notify => Some(r),
        _ => None,
    });
    drop(st);
    if let Some(reason) = end {
        // After `exit` has done its work: the other `atexit` functions, C's stdio.
        if !sys::end_after_exit(reason) {
            end_now(reason);
        }
    }
}

/// How the process ends after a run started by `reason`: a hook may have asked for another
/// ending (`request_shutdown` from inside a hook).
fn effective(p: &Process, reason: ExitReason) -> ExitReason {
    p.lock().end_after_hooks.unwrap_or(reason)
}

/// Ends the process after the hooks ran, outside `exit`: by the signal (at once, as the
/// signal would have), or with `exit(code)` (so C's `atexit` functions and stdio still run).
fn end(reason: ExitReason) -> ! {
    sys::set_ending();
    match reason {
        ExitReason::Requested(code) => {
            // A Windows service says it stopped, with this code, before the process goes.
            sys::report_service_stopped(code);
            std::process::exit(code)
        }
        _ => end_now(reason),
    }
}

/// Ends the process now, without `exit`: by the signal, or `_exit` with the code. Flushes what
/// `print!` left in stdout's buffer first, unless that blocks (another thread holds stdout's
/// lock while blocked on a full pipe): the process then ends anyway, shortly.
pub(crate) fn end_now(reason: ExitReason) -> ! {
    sys::set_ending();
    sys::arm_ending_alarm(reason, ENDING_BOUND);
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    sys::end_now(reason)
}

/// `error: cause: cause...`: an error and its chain of sources, each said once.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}
