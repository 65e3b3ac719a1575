//! The hook list and the run-exactly-once state machine. Platform-free.
//!
//! Triggers (a signal seen by the watcher thread, the process exiting normally, later a console
//! event or an explicit request) all go through [`begin`]: exactly one of them wins and runs the
//! hooks; the others either wait for that run to finish (an exiting thread must not end the
//! process under a running hook) or do nothing (a repeated signal).
//!
//! Locking: `HOOKS` is held only to push, remove or pop one entry, never while a hook runs, so a
//! hook may call `register`, `unregister` or `config` freely.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::ExitReason;

type Hook = Box<dyn FnOnce() + Send + 'static>;

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
}

static HOOKS: Mutex<Hooks> = Mutex::new(Hooks {
    next_id: 0,
    list: Vec::new(),
    owner: 0,
});
static ENDING: Mutex<Ending> = Mutex::new(Ending {
    phase: Phase::Idle,
    reason: None,
});
static DONE: Condvar = Condvar::new();

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

/// Whether this process registered the hooks (false in a child forked without exec).
pub(crate) fn owned_here() -> bool {
    lock(&HOOKS).owner == std::process::id()
}

/// Forgets the ending state inherited from a parent that forked us mid-ending. Called when a
/// forked child sets itself up anew.
pub(crate) fn reset_after_fork() {
    let mut ending = lock(&ENDING);
    ending.phase = Phase::Idle;
    ending.reason = None;
}

/// Why the process is ending, once a trigger has won.
pub(crate) fn reason() -> Option<ExitReason> {
    lock(&ENDING).reason
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
    loop {
        // Pop under the lock, run without it: a hook may register, unregister or configure.
        let next = lock(&HOOKS).list.pop();
        let Some((_, hook)) = next else { break };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(hook)) {
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
    lock(&ENDING).phase = Phase::Done;
    DONE.notify_all();
}

/// Whether the calling thread is the one running the hooks.
pub(crate) fn in_hooks() -> bool {
    IN_HOOKS.with(Cell::get)
}

/// Blocks until the hooks have run.
pub(crate) fn wait_done() {
    let mut ending = lock(&ENDING);
    while ending.phase != Phase::Done {
        ending = DONE.wait(ending).unwrap_or_else(PoisonError::into_inner);
    }
}

/// Writes one line to stderr, never panicking (stderr may be closed or a broken pipe).
pub(crate) fn report(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A termination signal (or console event) reached the watcher thread.
///
/// The first trigger runs the hooks and then ends the process by the same signal; a later one,
/// while or after the hooks run, changes nothing (exactly once, never cut short).
pub(crate) fn on_termination(reason: ExitReason) {
    if !owned_here() {
        // Not reachable through the sys layer (a forked child takes the default action in the
        // handler itself), but never run another process's hooks.
        crate::sys::imp::terminate(reason);
    }
    if begin(reason) == Begin::Won {
        run_hooks();
        crate::sys::imp::terminate(reason);
    }
}

/// The process is exiting normally (`main` returned or `exit` was called), on the exiting
/// thread.
pub(crate) fn on_normal_exit() {
    if !owned_here() {
        return;
    }
    match begin(ExitReason::Exit) {
        Begin::Won => run_hooks(),
        // `exit` called from inside a hook: the hook chose to end the process now.
        Begin::InProgress(_) if in_hooks() => {}
        Begin::InProgress(reason) | Begin::Done(reason) => {
            // A signal-triggered run is in progress: let it finish, then end the way it would
            // have, so the exit status does not depend on which thread gets there first.
            wait_done();
            if reason != ExitReason::Exit {
                crate::sys::imp::terminate(reason);
            }
        }
    }
}
