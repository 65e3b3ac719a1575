//! The hook list and the run-exactly-once state machine. Platform-free.
//!
//! Triggers (a signal seen by the watcher thread, the process exiting normally, later a console
//! event or an explicit request) all go through [`begin`]: exactly one of them wins and runs the
//! hooks; the others either wait for that run to finish (an exiting thread must not end the
//! process under a running hook) or do nothing (a repeated signal).
//!
//! Locking: `HOOKS` is held only to push, remove or pop one entry, never while a hook runs, so a
//! hook may call `register`, `unregister` or `config` freely.

use std::borrow::Cow;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{shutdown, ExitReason};

/// A hook and the name it is reported by (its closure type unless given one).
pub(crate) struct Hook {
    pub(crate) name: Cow<'static, str>,
    pub(crate) run: Box<dyn FnOnce() + Send + 'static>,
}

/// Where the process is in its ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing has triggered the hooks yet.
    Idle,
    /// A trigger won and its thread is running the hooks.
    Running,
    /// The hooks have run; nothing will run them again.
    Done,
}

struct Hooks {
    /// Id for the next registration (never reused, so a stale [`crate::Handle`] is harmless).
    next_id: u64,
    /// Registered hooks, oldest first; run from the back (LIFO).
    list: Vec<(u64, Hook)>,
    /// Process that registered them: a child forked without exec does not inherit them.
    owner: u32,
}

struct Ending {
    phase: Phase,
    reason: Option<ExitReason>,
    /// The hook running now, for the hook-deadline report.
    current: Option<Cow<'static, str>>,
}

static HOOKS: Mutex<Hooks> = Mutex::new(Hooks {
    next_id: 0,
    list: Vec::new(),
    owner: 0,
});
static ENDING: Mutex<Ending> = Mutex::new(Ending {
    phase: Phase::Idle,
    reason: None,
    current: None,
});
/// Notified when the phase changes (hooks start, hooks done).
static PHASE: Condvar = Condvar::new();

thread_local! {
    /// Set while this thread runs the hooks, so that `exit` from inside a hook does not wait for
    /// itself.
    static IN_HOOKS: Cell<bool> = const { Cell::new(false) };
}

/// A panicking hook must not poison the process's ending: every lock here is taken through this.
fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds a hook and returns its id.
pub(crate) fn push(hook: Hook) -> u64 {
    let mut hooks = lock(&HOOKS);
    let pid = std::process::id();
    if hooks.owner != pid {
        // First use, or first use in a child forked without exec: the parent's hooks are the
        // parent's (its files, its connections); the child starts with none.
        hooks.list.clear();
        hooks.owner = pid;
    }
    let id = hooks.next_id;
    hooks.next_id += 1;
    hooks.list.push((id, hook));
    id
}

/// Removes the hook `id`; true if it was still registered (not yet run or removed).
pub(crate) fn remove(id: u64) -> bool {
    let mut hooks = lock(&HOOKS);
    if hooks.owner != std::process::id() {
        return false;
    }
    match hooks.list.iter().rposition(|(i, _)| *i == id) {
        Some(at) => {
            drop(hooks.list.remove(at));
            true
        }
        None => false,
    }
}

/// Whether safe-exit was set up by this process (false before set-up, and in a child forked
/// without exec until it sets itself up: the hooks and requests it inherited are its
/// parent's).
fn owned_here() -> bool {
    crate::config::current().is_some()
}

/// Forgets the ending state inherited from a parent that forked us mid-ending. Called when a
/// forked child sets itself up anew.
pub(crate) fn reset_after_fork() {
    let mut ending = lock(&ENDING);
    ending.phase = Phase::Idle;
    ending.reason = None;
    ending.current = None;
    shutdown::reset_after_fork();
}

/// Why the process is ending: the trigger that runs the hooks, or else the shutdown request.
pub(crate) fn reason() -> Option<ExitReason> {
    lock(&ENDING).reason.or_else(shutdown::requested)
}

/// What a trigger found when it tried to start the hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Begin {
    /// This trigger won: the caller must call [`run_hooks`].
    Won,
    /// Another trigger (with this reason) is running the hooks now.
    InProgress(ExitReason),
    /// The hooks already ran for this reason.
    Done(ExitReason),
}

/// Tries to become the one trigger that runs the hooks.
pub(crate) fn begin(reason: ExitReason) -> Begin {
    let mut ending = lock(&ENDING);
    match ending.phase {
        Phase::Idle => {
            ending.phase = Phase::Running;
            ending.reason = Some(reason);
            shutdown::STARTED.store(true, Ordering::Release);
            drop(ending);
            PHASE.notify_all();
            Begin::Won
        }
        Phase::Running => Begin::InProgress(ending.reason.unwrap_or(reason)),
        Phase::Done => Begin::Done(ending.reason.unwrap_or(reason)),
    }
}

/// Runs every hook once, newest first, then marks the ending done and wakes the waiters.
/// Only the winner of [`begin`] calls this.
pub(crate) fn run_hooks() {
    IN_HOOKS.with(|f| f.set(true));
    if let Some(limit) = shutdown::policy().hook_deadline {
        watch_hook_deadline(limit);
    }
    loop {
        // Pop under the lock, run without it: a hook may register, unregister or configure.
        let next = lock(&HOOKS).list.pop();
        let Some((_, hook)) = next else { break };
        lock(&ENDING).current = Some(hook.name);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(hook.run)) {
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string panic payload)");
            report(&format!(
                "safe-exit: an exit hook panicked ({msg}); running the remaining hooks"
            ));
        }
    }
    IN_HOOKS.with(|f| f.set(false));
    {
        let mut ending = lock(&ENDING);
        ending.phase = Phase::Done;
        ending.current = None;
    }
    PHASE.notify_all();
}

/// Ends the process if the hooks are not done within `limit`, naming the hook still running.
fn watch_hook_deadline(limit: Duration) {
    let watchdog = std::thread::Builder::new()
        .name("safe-exit-hook-deadline".into())
        .spawn(move || {
            let deadline = Instant::now() + limit;
            let mut ending = lock(&ENDING);
            while ending.phase != Phase::Done {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let name = ending
                        .current
                        .clone()
                        .unwrap_or(Cow::Borrowed("(between hooks)"));
                    let reason = ending.reason.unwrap_or(ExitReason::Exit);
                    drop(ending);
                    report(&format!(
                        "safe-exit: the exit hooks did not finish within {limit:?}; \
                         still running: {name}; ending the process now"
                    ));
                    end(reason);
                }
                ending = PHASE
                    .wait_timeout(ending, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        });
    if let Err(e) = watchdog {
        report(&format!(
            "safe-exit: cannot enforce the hook deadline ({e}); hooks run unbounded"
        ));
    }
}

/// Whether the calling thread is the one running the hooks.
pub(crate) fn in_hooks() -> bool {
    IN_HOOKS.with(Cell::get)
}

/// Blocks until the hooks have run.
pub(crate) fn wait_done() {
    let mut ending = lock(&ENDING);
    while ending.phase != Phase::Done {
        ending = PHASE.wait(ending).unwrap_or_else(PoisonError::into_inner);
    }
}

/// Blocks until something started the hooks, or `limit` passes; true if they started.
fn wait_started(limit: Duration) -> bool {
    let deadline = Instant::now().checked_add(limit);
    let mut ending = lock(&ENDING);
    while ending.phase == Phase::Idle {
        let left = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        };
        if left.is_zero() {
            return false;
        }
        ending = PHASE
            .wait_timeout(ending, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    true
}

/// Writes one line to stderr, never panicking (stderr may be closed or a broken pipe).
pub(crate) fn report(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A termination request: a signal seen by the watcher thread, a console event, or
/// [`crate::request_shutdown`].
///
/// Exit mode: the first request runs the hooks on the calling thread and ends the process the
/// way `reason` says; later ones change nothing (exactly once, never cut short). Notify mode:
/// the first request wakes the waiters and, with a grace period, waits it out (see [`grace`]).
pub(crate) fn on_termination(reason: ExitReason) {
    if !owned_here() {
        // Not reachable through the sys layer (a forked child takes the default action in the
        // handler itself), but never run another process's hooks.
        end(reason);
    }
    let policy = shutdown::policy();
    if policy.notify {
        if shutdown::request(reason) {
            if let Some(limit) = policy.grace {
                grace(reason, limit);
            }
        }
        return;
    }
    shutdown::request(reason);
    if begin(reason) == Begin::Won {
        run_hooks();
        end(reason);
    }
}

/// Notify mode, after the first request: if the hooks have not started (`main` has not
/// returned) within the grace period, run them here and end the process as exit mode would.
pub(crate) fn grace(reason: ExitReason, grace: Duration) {
    if wait_started(grace) {
        return;
    }
    if begin(reason) == Begin::Won {
        report(&format!(
            "safe-exit: shutdown was requested ({reason:?}) but main did not return within the \
             grace period of {grace:?}; running the exit hooks and ending the process"
        ));
        run_hooks();
        end(reason);
    }
}

/// The process is exiting normally (`main` returned or `exit` was called), on the exiting
/// thread.
pub(crate) fn on_normal_exit() {
    if !owned_here() {
        return;
    }
    // After a notify-mode request, the hooks learn what asked for the shutdown.
    let reason = shutdown::requested().unwrap_or(ExitReason::Exit);
    match begin(reason) {
        Begin::Won => {
            run_hooks();
            if matches!(reason, ExitReason::Signal(_)) && shutdown::policy().exit_by_signal {
                end(reason);
            }
        }
        // `exit` called from inside a hook: the hook chose to end the process now.
        Begin::InProgress(_) if in_hooks() => {}
        Begin::InProgress(reason) | Begin::Done(reason) => {
            // Another trigger is running the hooks: let it finish, then end the way it would
            // have, so the exit status does not depend on which thread gets there first.
            wait_done();
            if reason != ExitReason::Exit {
                end(reason);
            }
        }
    }
}

/// Ends the process the way `reason` says, after flushing what `print!` left in stdout's
/// buffer (`raise`, `_exit` and `ExitProcess` would lose it).
pub(crate) fn end(reason: ExitReason) -> ! {
    flush_stdout();
    crate::sys::imp::terminate(reason)
}

/// Flushes what Rust's stdout buffer holds (a partial line written with `print!`). This takes
/// stdout's lock: if another thread holds it while blocked writing to a pipe nobody reads,
/// the process ends only once the reader drains the pipe, as any hook that prints would.
fn flush_stdout() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
