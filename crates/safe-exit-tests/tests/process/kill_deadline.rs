//! Every timeout is accepted, and validated before anything is signalled: one too long to be
//! a deadline (`Duration::MAX`, `Duration::from_secs(u64::MAX)`) means "no deadline", wait
//! until the target exits; one that is a deadline but too long for a `poll` timeout
//! saturates. Never a panic after the polite signal (the target signalled, the caller left
//! without an outcome), never a wait that spins.
//!
//! On both paths: pidfds (in this process) and the `kill` + polling fallback (in
//! `kill_validate --no-pidfd`, where a seccomp filter makes `pidfd_open` fail with `ENOSYS`).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use safe_exit::{safe_kill_with, KillError, KillOptions, KillOutcome};
use safe_exit_tests::{bin, still_running_after, Child, WATCHDOG};

use crate::common::kill_validate_in_session;

/// How long a call without a deadline must be seen still waiting, and the process that makes
/// it still running. A bounded check that something does *not* happen, not a sleep in place
/// of a ready line: everything that should happen is awaited through lines and pidfds.
const STILL_WAITING: Duration = Duration::from_millis(500);

/// What a call made on another thread returned, and the CPU time that thread used.
struct Call {
    result: Result<KillOutcome, KillError>,
    cpu: Duration,
}

/// `safe_kill_with(pid, opts)` on another thread; its result arrives on the channel.
fn call_in_background(pid: i32, opts: KillOptions) -> mpsc::Receiver<Call> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = safe_kill_with(pid as u32, &opts);
        let _ = tx.send(Call {
            result,
            cpu: thread_cpu_time(),
        });
    });
    rx
}

/// The CPU time (user + system) the calling thread has used.
fn thread_cpu_time() -> Duration {
    // SAFETY: getrusage fills in the rusage it is given; all zeroes is a valid value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Waits (watchdog) for the call's result.
#[track_caller]
fn result_of(rx: &mpsc::Receiver<Call>) -> Call {
    match rx.recv_timeout(WATCHDOG) {
        Ok(call) => call,
        Err(RecvTimeoutError::Timeout) => panic!("safe_kill did not return within {WATCHDOG:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("safe_kill panicked (see above)"),
    }
}

/// Pidfds: a target that exits on SIGTERM, with timeouts too long for a deadline and one
/// that is a deadline but too long for a `ppoll` timeout (it saturates). Before the fix,
/// `Instant + Duration` panicked right after SIGTERM had been sent.
#[test]
fn a_timeout_too_long_for_a_deadline_waits_for_the_exit() {
    for timeout in [
        Duration::MAX,
        Duration::from_secs(u64::MAX),
        Duration::from_secs(1 << 40),
    ] {
        let mut target = Child::spawn(bin!("kill_target"), &["--exit-on", "15"]);
        target.ready();
        let call = call_in_background(target.pid(), KillOptions::new().timeout(timeout));
        let call = result_of(&call);
        assert_eq!(call.result.unwrap(), KillOutcome::Exited, "{timeout:?}");
        let done = target.finish();
        done.assert_code(0);
        assert!(!done.starting_with("got 15").is_empty(), "{done}");
    }
}

/// Pidfds: `Duration::MAX` with force_kill(false) on a target that survives SIGTERM. The
/// call waits (without spinning: it uses a small part of a CPU meanwhile) until the target
/// exits for another reason, here our own SIGKILL, and then reports `Exited`.
#[test]
fn no_deadline_without_force_waits_until_the_target_exits() {
    // SIGTERM (and SIGCONT) blocked and reported: it survives them.
    let mut target = Child::spawn(bin!("kill_target"), &["--report", "15"]);
    target.ready();
    let opts = KillOptions::new().timeout(Duration::MAX).force_kill(false);
    let started = Instant::now();
    let call = call_in_background(target.pid(), opts);
    target.expect_line("got 15");
    match call.recv_timeout(STILL_WAITING) {
        Err(RecvTimeoutError::Timeout) => {}
        Ok(call) => panic!("returned without a deadline: {:?}", call.result),
        Err(RecvTimeoutError::Disconnected) => panic!("safe_kill panicked (see above)"),
    }
    assert!(target.is_running());
    target.signal(libc::SIGKILL);
    let call = result_of(&call);
    let waited = started.elapsed();
    assert_eq!(call.result.unwrap(), KillOutcome::Exited);
    assert!(
        call.cpu < waited / 4,
        "the wait spun: {:?} of CPU in {waited:?}",
        call.cpu
    );
    target.finish().assert_signalled(libc::SIGKILL);
}

/// `kill_validate --no-pidfd --timeout max ...` on `target`, in its own session.
fn fallback(args: &[&str], target: &Child) -> Child {
    let pid = target.pid().to_string();
    let mut all = vec!["--no-pidfd", "--timeout", "max"];
    all.extend_from_slice(args);
    all.push(&pid);
    let mut caller = kill_validate_in_session(&all);
    caller.expect_line("pidfd unavailable");
    caller.ready();
    caller
}

/// The fallback path (`kill` and polling): the same with `Duration::MAX`.
#[test]
fn without_pidfds_a_timeout_too_long_for_a_deadline_waits_for_the_exit() {
    let mut target = Child::spawn(bin!("kill_target"), &["--exit-on", "15"]);
    target.ready();
    let mut caller = fallback(&[], &target);
    let line = caller.expect_line("result ");
    assert_eq!(line, format!("result {}: ok exited", target.pid()));
    let done = caller.finish();
    done.assert_code(0);
    assert_eq!(done.count("sentinel clean"), 1, "{done}");
    target.finish().assert_code(0);
}

/// The fallback path: `Duration::MAX` without force waits until the target exits.
#[test]
fn without_pidfds_no_deadline_without_force_waits_until_the_target_exits() {
    let mut target = Child::spawn(bin!("kill_target"), &["--report", "15"]);
    target.ready();
    let mut caller = fallback(&["--no-force"], &target);
    target.expect_line("got 15");
    assert!(
        still_running_after(caller.pid(), STILL_WAITING),
        "the caller ended without a deadline"
    );
    assert!(target.is_running());
    target.signal(libc::SIGKILL);
    let line = caller.expect_line("result ");
    assert_eq!(line, format!("result {}: ok exited", target.pid()));
    let done = caller.finish();
    done.assert_code(0);
    assert_eq!(done.count("survived"), 1, "{done}");
    target.finish().assert_signalled(libc::SIGKILL);
}
