//! Group mode (issue 3, point 9): `.group(true)` ends a worker and every process in the
//! process group it leads, and waits for all of them.
#![cfg(target_os = "linux")]

use std::time::Duration;

use safe_exit::{safe_kill_with, KillError, KillOptions, KillOutcome};
use safe_exit_tests::{bin, is_gone, Child};

fn worker(args: &[&str], children: usize) -> (Child, Vec<i32>) {
    let count = children.to_string();
    let mut all = vec!["--children", count.as_str()];
    all.extend_from_slice(args);
    let mut leader = Child::spawn(bin!("kill_target"), &all);
    let mut pids = Vec::new();
    for _ in 0..children {
        let line = leader.expect_line("child ");
        pids.push(line["child ".len()..].parse().unwrap());
    }
    leader.ready();
    (leader, pids)
}

/// Every member exits on SIGTERM: `Exited`, and all of them are gone.
#[test]
fn the_whole_group_gets_the_signal_and_is_awaited() {
    // The leader reports SIGTERM and lives on; the children exit on it.
    let (leader, children) = worker(&["--exit-on", "15", "--child-exit-on", "15"], 3);
    let opts = KillOptions::new()
        .group(true)
        .timeout(Duration::from_secs(10));
    assert_eq!(
        safe_kill_with(leader.pid() as u32, &opts).unwrap(),
        KillOutcome::Exited
    );
    for pid in &children {
        assert!(is_gone(*pid), "child {pid} is still there");
    }
    let done = leader.finish();
    done.assert_code(0);
    for pid in &children {
        assert_eq!(done.count(&format!("got 15 pid {pid}")), 1, "{done}");
    }
}

/// The leader exits at once but its children ignore SIGTERM: the call waits for them, kills
/// the group at the deadline, and returns `Killed` once they are gone too.
#[test]
fn children_that_outlive_the_leader_are_awaited_and_killed() {
    let (leader, children) = worker(&["--child-ignore", "15"], 3);
    let opts = KillOptions::new()
        .group(true)
        .timeout(Duration::from_millis(300));
    assert_eq!(
        safe_kill_with(leader.pid() as u32, &opts).unwrap(),
        KillOutcome::Killed
    );
    for pid in &children {
        assert!(is_gone(*pid), "child {pid} is still there");
    }
    leader.finish().assert_signalled(libc::SIGTERM);
}

/// Without group mode only the leader is signalled: the children live on.
#[test]
fn without_group_mode_the_children_are_left_alone() {
    let (leader, children) = worker(&[], 2);
    assert_eq!(
        safe_exit::safe_kill(leader.pid() as u32).unwrap(),
        KillOutcome::Exited
    );
    for pid in &children {
        assert!(!is_gone(*pid), "child {pid} was signalled");
        // SAFETY: kill(2) on a specific positive pid, a live orphan we created.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    leader.finish().assert_signalled(libc::SIGTERM);
}

/// A member that does not lead the group: refused, nothing signalled.
#[test]
fn a_process_that_does_not_lead_its_group_is_refused() {
    let (leader, children) = worker(&["--report", "15", "--child-exit-on", "15"], 1);
    let opts = KillOptions::new().group(true);
    let err = safe_kill_with(children[0] as u32, &opts).unwrap_err();
    match &err {
        KillError::NotGroupLeader { pid, pgid } => {
            assert_eq!((*pid as i32, *pgid), (children[0], leader.pid()));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("not a group leader"), "{err}");
    assert!(!is_gone(children[0]));
    // The child exits on SIGTERM; it has not got one. End the group for real now.
    let opts = opts.timeout(Duration::from_millis(200));
    assert_eq!(
        safe_kill_with(leader.pid() as u32, &opts).unwrap(),
        KillOutcome::Killed
    );
    let done = leader.finish();
    assert_eq!(
        done.count(&format!("got 15 pid {}", children[0])),
        1,
        "{done}"
    );
}
