//! safe_kill_all (issue 3, point 8): every target is signalled first and all are awaited
//! together, so 100 targets with a 300 ms deadline take about one deadline, not 100.

use std::time::{Duration, Instant};

use safe_exit::{safe_kill_all, KillError, KillOptions, KillOutcome};
use safe_exit_tests::{bin, is_gone, Child};

use crate::common::kill_target_with_children;

/// Starts `kill_target` with `n` children set up by `child_args`; returns it and their pids.
fn flock(n: usize, child_args: &[&str]) -> (Child, Vec<u32>) {
    let (parent, pids) = kill_target_with_children(n, child_args);
    (parent, pids.into_iter().map(|pid| pid as u32).collect())
}

#[test]
fn a_hundred_targets_take_one_deadline() {
    let (ignoring_parent, ignoring) = flock(50, &["--child-ignore", "15"]);
    let (exiting_parent, exiting) = flock(50, &[]);
    let pids: Vec<u32> = ignoring.iter().chain(&exiting).copied().collect();

    let deadline = Duration::from_millis(300);
    let started = Instant::now();
    let results = safe_kill_all(&pids, &KillOptions::new().timeout(deadline));
    let took = started.elapsed();

    assert_eq!(results.len(), 100);
    for (pid, r) in pids.iter().zip(&results) {
        let expected = if ignoring.contains(pid) {
            KillOutcome::Killed
        } else {
            KillOutcome::Exited
        };
        assert_eq!(r.as_ref().ok(), Some(&expected), "pid {pid}: {r:?}");
        assert!(is_gone(*pid as i32), "pid {pid} is still there");
    }
    // One deadline, not 50 (15 s); generous bounds, the benchmark measures precisely.
    assert!(took >= deadline, "forced before the deadline: {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    drop((ignoring_parent, exiting_parent));
}

/// Mixed outcomes in one call: each entry says what happened to its own pid.
#[test]
fn each_result_belongs_to_its_pid() {
    let mut gone = Child::spawn(bin!("kill_target"), &[]);
    gone.ready();
    let gone_pid = gone.pid() as u32;
    gone.signal(libc::SIGKILL);
    gone.finish();
    let mut polite = Child::spawn(bin!("kill_target"), &[]);
    polite.ready();
    let mut stubborn = Child::spawn(bin!("kill_target"), &["--ignore", "15"]);
    stubborn.ready();

    let pids = [polite.pid() as u32, gone_pid, stubborn.pid() as u32];
    let opts = KillOptions::new()
        .timeout(Duration::from_millis(100))
        .force_kill(false);
    let results = safe_kill_all(&pids, &opts);
    let outcomes: Vec<_> = results.iter().map(|r| r.as_ref().ok().copied()).collect();
    assert_eq!(
        outcomes,
        [
            Some(KillOutcome::Exited),
            Some(KillOutcome::NotRunning),
            Some(KillOutcome::StillRunning)
        ]
    );
    assert!(stubborn.is_running());
    polite.finish().assert_signalled(libc::SIGTERM);
}

#[test]
fn an_empty_list_is_fine() {
    assert!(safe_kill_all(&[], &KillOptions::new()).is_empty());
}

#[test]
fn a_bad_pid_stops_the_batch_before_any_signal() {
    let mut child = Child::spawn(bin!("kill_target"), &["--report", "15", "--report", "18"]);
    child.ready();
    let results = safe_kill_all(&[child.pid() as u32, 0], &KillOptions::new());
    assert!(
        matches!(results[0], Err(KillError::NotAttempted { .. })),
        "{results:?}"
    );
    assert!(
        matches!(results[1], Err(KillError::InvalidPid { pid: 0, .. })),
        "{results:?}"
    );
    child.signal(libc::SIGKILL);
    let done = child.finish();
    assert!(done.starting_with("got").is_empty(), "signalled: {done}");
}
