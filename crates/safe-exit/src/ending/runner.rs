//! Running the hooks: on which thread, what happens when a hook ends its own thread or calls
//! `exit`, and the hook deadline.

use super::*;
use crate::KillOutcome;

/// The name of the hook running now.
pub(super) fn current_name(p: &Process) -> Cow<'static, str> {
    p.lock()
        .current
        .clone()
        .unwrap_or(Cow::Borrowed("(between hooks)"))
}

/// At a normal exit: runs the hooks on a fresh thread and waits for them.
pub(super) fn run_elsewhere_and_wait(p: &'static Process, me: u64) {
    if !start_runner(p, Some(me)) {
        // No thread can be started: run them here, as well as can be done.
        p.lock().runner = Some(me);
        run_hooks(p);
        return;
    }
    wait_done(p, me);
}

/// Starts a thread that runs the remaining hooks, or else (no thread can be started: a limit
/// on threads, say) hands them to the watcher thread unless it is `unusable` (the thread that
/// is stuck, or the caller); false if neither can be done.
fn start_runner(p: &'static Process, unusable: Option<u64>) -> bool {
    let spawned = std::thread::Builder::new()
        .name("safe-exit-hooks".into())
        .spawn(move || run_hooks(p))
        .is_ok();
    if spawned {
        return true;
    }
    let Some(watcher) = sys::watcher_thread() else {
        return false;
    };
    if Some(watcher) == unusable {
        return false;
    }
    p.lock().runner_wanted = true;
    if sys::wake() {
        return true;
    }
    p.lock().runner_wanted = false;
    false
}

/// Waits until the hooks are done. If the thread running them is parked for good in Rust's
/// `std::process::exit` (a hook called it while this thread was already exiting), the
/// remaining hooks continue on a fresh thread.
pub(super) fn wait_done(p: &'static Process, me: u64) {
    let mut poll = Duration::from_millis(10);
    let mut st = p.lock();
    loop {
        if st.phase == Phase::Done {
            return;
        }
        st = p.wait_for(st, poll);
        poll = (poll * 2).min(Duration::from_millis(100));
        if st.phase != Phase::Running || st.exiting != Some(me) {
            continue;
        }
        let Some(runner) = st.runner else { continue };
        if runner != me && sys::parked_in_exit(runner) {
            let name = st
                .current
                .take()
                .unwrap_or(Cow::Borrowed("(between hooks)"));
            st.runner = None;
            drop(st);
            sys::report(&format!(
                "safe-exit: exit hook {name} called exit while the process was already \
                 exiting; running the remaining hooks"
            ));
            if !start_runner(p, Some(runner)) {
                p.lock().runner = Some(me);
                run_hooks(p);
            }
            st = p.lock();
        }
    }
}

/// Marks the thread running a hook. Its destructor runs if the thread ends while a hook runs
/// on it: a hook called `exit` from C (or, outside Linux, from Rust), which destroys the calling
/// thread's thread-locals first, or `pthread_exit`. The remaining hooks then run elsewhere.
struct RunnerMark {
    in_hook: Cell<bool>,
}

impl Drop for RunnerMark {
    fn drop(&mut self) {
        if self.in_hook.get() {
            hook_ended_its_thread();
        }
    }
}

thread_local! {
    static RUNNER: RunnerMark = const { RunnerMark { in_hook: Cell::new(false) } };
}

/// Marks (or unmarks) the calling thread as running a hook. Never fails: on a thread whose
/// thread-locals are already gone (the exiting thread) it does nothing.
pub(super) fn mark_in_hook(on: bool) {
    let _ = RUNNER.try_with(|r| r.in_hook.set(on));
}

/// The thread running the hooks is ending inside a hook (see [`RunnerMark`]): run the
/// remaining hooks on another thread, and wait for them before this thread (and, with `exit`,
/// the process) goes on ending.
pub(super) fn hook_ended_its_thread() {
    let Some(p) = state::existing() else { return };
    let me = sys::current_thread();
    let mut st = p.lock();
    if st.phase != Phase::Running || st.runner != Some(me) {
        return;
    }
    st.runner = None;
    let name = st
        .current
        .take()
        .unwrap_or(Cow::Borrowed("(between hooks)"));
    drop(st);
    sys::report(&format!(
        "safe-exit: exit hook {name} ended its thread (exit or pthread_exit); running the \
         remaining hooks"
    ));
    run_elsewhere_and_wait(p, me);
    if p.lock().exiting.is_some_and(|e| e != me) {
        // Another thread is already exiting (a normal exit): it ends the process, with the
        // status `main` chose. Two threads inside C's `exit` at once would race for it.
        park_forever();
    }
}

/// Runs the remaining hooks, newest first, on the calling thread, then marks the ending done
/// and wakes the waiters.
pub(super) fn run_hooks(p: &'static Process) {
    let me = sys::current_thread();
    {
        let mut st = p.lock();
        st.runner = Some(me);
        if st.started_at.is_none() {
            st.started_at = Some(Instant::now());
        }
        if st.policy.hook_deadline.is_some() && !st.deadline_watched {
            st.deadline_watched = true;
            drop(st);
            watch_hook_deadline(p);
        }
    }
    let waiting = loop {
        let mut st = p.lock();
        // Owned children first (also one owned by a hook that ran, or by another thread
        // meanwhile): they may still be writing to what the hooks close.
        let owned = st.take_owned();
        if !owned.is_empty() {
            st.current = Some(Cow::Borrowed("(stopping owned children)"));
            drop(st);
            stop_owned(owned);
            continue;
        }
        // Pop under the lock, run without it: a hook may register, unregister or configure.
        let Some(hook) = st.pop() else {
            // Done under the same lock as the last look at the owned children: a child owned
            // from now on finds the hooks done, and is stopped at once (`ending::own`).
            if st.phase == Phase::Running {
                st.finish();
            }
            break st.has_waiters();
        };
        drop(st);
        sys::unmask_for_hooks();
        crate::stages::stamp(crate::stages::Stage::Runner);
        mark_in_hook(true);
        let result = catch_unwind(AssertUnwindSafe(hook.run));
        mark_in_hook(false);
        if std::process::id() != p.pid() {
            // The hook forked and its child returned from it: the child is not the process
            // whose hooks these are. It ends here, running only hooks of its own.
            sys::exit_forked_child(0);
        }
        if let Err(payload) = result {
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string panic payload)");
            sys::report(&format!(
                "safe-exit: an exit hook panicked ({msg}); running the remaining hooks"
            ));
        }
    };
    if waiting {
        p.changed.notify_all();
    }
}

/// Ends the process if the hooks are not done within the policy's hook deadline (the one in
/// force, whenever it was set), naming the hook still running.
pub(super) fn watch_hook_deadline(p: &'static Process) {
    let watchdog = std::thread::Builder::new()
        .name("safe-exit-hook-deadline".into())
        .spawn(move || {
            let mut st = p.lock();
            loop {
                if st.phase == Phase::Done {
                    return;
                }
                let limit = st.policy.hook_deadline;
                let deadline = st
                    .started_at
                    .zip(limit)
                    .and_then(|(at, limit)| at.checked_add(limit));
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let name = st
                        .current
                        .clone()
                        .unwrap_or(Cow::Borrowed("(between hooks)"));
                    let reason = st.end_after_hooks.or(st.reason).unwrap_or(ExitReason::Exit);
                    drop(st);
                    // Armed before the report: stderr may be a full pipe too.
                    sys::arm_ending_alarm(reason, ENDING_BOUND);
                    sys::report(&format!(
                        "safe-exit: the exit hooks did not finish within {:?}; still running: \
                         {name}; ending the process now",
                        limit.unwrap_or_default()
                    ));
                    end_now(reason);
                }
                st = p.wait(st, deadline);
            }
        });
    if let Err(e) = watchdog {
        p.lock().deadline_watched = false;
        sys::report(&format!(
            "safe-exit: cannot enforce the hook deadline ({e}); hooks run unbounded"
        ));
    }
}

/// Stops the owned children still running (see [`crate::own`]), all at once, before the next
/// hook; says on stderr which had to be forced and which could not be stopped.
pub(super) fn stop_owned(owned: Vec<Owned>) {
    for (pid, result, unasked) in crate::kill::stop_owned(owned) {
        if let Some(why) = unasked {
            let then = match &result {
                Ok(_) => "killed".to_owned(),
                Err(e) => format!("forcing it failed too: {}", with_causes(e)),
            };
            sys::report(&format!(
                "safe-exit: owned child {pid} could not be asked to end ({}); {then}",
                with_causes(&why)
            ));
            continue;
        }
        match result {
            Ok(KillOutcome::Killed) => sys::report(&format!(
                "safe-exit: owned child {pid} did not end within its deadline; killed"
            )),
            Ok(KillOutcome::StillRunning) => sys::report(&format!(
                "safe-exit: owned child {pid} did not end within its deadline; left running \
                 (force_kill(false))"
            )),
            Ok(_) => {}
            Err(e) => sys::report(&format!(
                "safe-exit: cannot stop owned child {pid}: {}",
                with_causes(&e)
            )),
        }
    }
}
