//! safe_kill on single real processes: the default path, the deadline, force_kill(false), a
//! custom signal, a stopped target, a pid that is gone (issue 3, points 1, 2, 3, 5, 6).

use std::time::{Duration, Instant};

use safe_exit::{safe_kill, safe_kill_with, KillOptions, KillOutcome};
use safe_exit_tests::{bin, is_gone, wait_stopped, Child};

fn pid_of(child: &Child) -> u32 {
    child.pid() as u32
}

/// Point 1: SIGTERM by default, and the call returns when the target exits, long before the
/// 4 s deadline (the precise latency is measured by the benchmark, not here).
#[test]
fn default_sends_sigterm_and_returns_when_the_target_exits() {
    let mut child = Child::spawn(bin!("kill_target"), &[]);
    child.ready();
    let started = Instant::now();
    let outcome = safe_kill(pid_of(&child)).expect("safe_kill");
    let took = started.elapsed();
    assert_eq!(outcome, KillOutcome::Exited);
    assert!(
        took < Duration::from_secs(3),
        "took {took:?}: it waited for the deadline"
    );
    assert!(is_gone(child.pid()));
    child.finish().assert_signalled(libc::SIGTERM);
}

/// The wait is notified, not polled: five targets that die on SIGTERM, ended one after the
/// other, take milliseconds each. A sleep-poll of a second (or of a few hundred ms) between
/// checks fails the bound, which is generous enough for a loaded two-core machine.
#[test]
fn the_wait_is_notified_not_polled() {
    let mut total = Duration::ZERO;
    for _ in 0..5 {
        let mut child = Child::spawn(bin!("kill_target"), &[]);
        child.ready();
        let started = Instant::now();
        assert_eq!(safe_kill(pid_of(&child)).unwrap(), KillOutcome::Exited);
        total += started.elapsed();
        child.finish().assert_signalled(libc::SIGTERM);
    }
    assert!(
        total < Duration::from_millis(1500),
        "five kills of targets that die at once took {total:?}"
    );
}

/// Point 1, with a target that handles SIGTERM and exits by itself.
#[test]
fn a_target_that_handles_sigterm_exits() {
    let mut child = Child::spawn(bin!("kill_target"), &["--exit-on", "15"]);
    child.ready();
    let pid = child.pid();
    assert_eq!(safe_kill(pid_of(&child)).unwrap(), KillOutcome::Exited);
    let done = child.finish();
    done.assert_code(0);
    assert_eq!(done.count(&format!("got 15 pid {pid}")), 1, "{done}");
}

/// Point 2: a target that ignores SIGTERM is killed after the deadline, and is gone when
/// the call returns (no wait needed after `Killed`).
#[test]
fn a_target_ignoring_sigterm_is_killed_after_the_deadline_and_gone() {
    let mut child = Child::spawn(bin!("kill_target"), &["--ignore", "15"]);
    child.ready();
    let deadline = Duration::from_millis(300);
    let started = Instant::now();
    let outcome =
        safe_kill_with(pid_of(&child), &KillOptions::new().timeout(deadline)).expect("safe_kill");
    let took = started.elapsed();
    assert_eq!(outcome, KillOutcome::Killed);
    // Checked at once: `Killed` means gone, not "SIGKILL was sent".
    assert!(
        is_gone(child.pid()),
        "Killed returned while the target was still there"
    );
    assert!(took >= deadline, "forced before the deadline: {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    child.finish().assert_signalled(libc::SIGKILL);
}

/// Point 2: with force_kill(false) the target is left running, and receives nothing after
/// the polite signal: it later exits by itself with code 0 (not by SIGKILL).
#[test]
fn without_force_a_stubborn_target_is_still_running_and_untouched() {
    let mut child = Child::spawn(bin!("kill_target"), &["--report", "15", "--exit-on", "10"]);
    child.ready();
    let opts = KillOptions::new()
        .timeout(Duration::from_millis(200))
        .force_kill(false);
    assert_eq!(
        safe_kill_with(pid_of(&child), &opts).unwrap(),
        KillOutcome::StillRunning
    );
    child.expect_line("got 15");
    assert!(child.is_running());
    child.signal(libc::SIGUSR1);
    let done = child.finish();
    done.assert_code(0);
    assert!(done.starting_with("got 9").is_empty(), "{done}");
}

/// Point 3: a custom polite signal is used instead of SIGTERM.
#[test]
fn a_custom_signal_is_sent_instead_of_sigterm() {
    let mut child = Child::spawn(bin!("kill_target"), &["--report", "15"]);
    child.ready();
    let opts = KillOptions::new().signal(libc::SIGINT);
    assert_eq!(
        safe_kill_with(pid_of(&child), &opts).unwrap(),
        KillOutcome::Exited
    );
    let done = child.finish();
    done.assert_signalled(libc::SIGINT);
    assert!(
        done.starting_with("got 15").is_empty(),
        "SIGTERM was sent: {done}"
    );
}

/// Point 5: a stopped target gets SIGCONT after the polite signal, so it can act on it. The
/// target handles SIGTERM (blocked, then `sigwaitinfo`), which it can only do when running;
/// without SIGCONT it would stay stopped until the deadline and be killed.
#[test]
fn a_stopped_target_is_continued_and_exits_by_itself() {
    let mut child = Child::spawn(bin!("kill_target"), &["--exit-on", "15"]);
    child.ready();
    child.signal(libc::SIGSTOP);
    wait_stopped(child.pid());
    let opts = KillOptions::new().timeout(Duration::from_secs(10));
    let started = Instant::now();
    assert_eq!(
        safe_kill_with(pid_of(&child), &opts).unwrap(),
        KillOutcome::Exited
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it was not continued"
    );
    let done = child.finish();
    done.assert_code(0);
    assert!(!done.starting_with("got 15").is_empty(), "{done}");
}

/// Point 6: a pid whose process is gone is `NotRunning`.
#[test]
fn a_pid_that_no_longer_exists_is_not_running() {
    let mut child = Child::spawn(bin!("kill_target"), &[]);
    child.ready();
    let pid = pid_of(&child);
    child.signal(libc::SIGKILL);
    child.finish().assert_signalled(libc::SIGKILL); // reaped: the pid is free now
    assert_eq!(safe_kill(pid).unwrap(), KillOutcome::NotRunning);
}

/// The polite signal may be SIGKILL itself: then there is nothing to force.
#[test]
fn sigkill_as_the_polite_signal_counts_as_exited() {
    let mut child = Child::spawn(bin!("kill_target"), &["--ignore", "15"]);
    child.ready();
    let opts = KillOptions::new().signal(libc::SIGKILL);
    assert_eq!(
        safe_kill_with(pid_of(&child), &opts).unwrap(),
        KillOutcome::Exited
    );
    child.finish().assert_signalled(libc::SIGKILL);
}
