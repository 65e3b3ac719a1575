//! Group mode (issue 3, point 9): `.group(true)` ends a worker and every process in the
//! process group it leads, and waits for all of them.

use std::time::Duration;

use safe_exit::{safe_kill_with, KillError, KillOptions, KillOutcome};
use safe_exit_tests::{bin, is_gone, pidfd_open, Child, KillOnDrop};

use crate::common::{kill_target_with_children, kill_validate_in_session};

/// Every member exits on SIGTERM: `Exited`, and all of them are gone.
#[test]
fn the_whole_group_gets_the_signal_and_is_awaited() {
    // The leader reports SIGTERM and lives on; the children exit on it.
    let (leader, children) =
        kill_target_with_children(3, &["--exit-on", "15", "--child-exit-on", "15"]);
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
    let (leader, children) = kill_target_with_children(3, &["--child-ignore", "15"]);
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
    let (leader, children) = kill_target_with_children(2, &[]);
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
    let (leader, children) =
        kill_target_with_children(1, &["--report", "15", "--child-exit-on", "15"]);
    let opts = KillOptions::new().group(true);
    let err = safe_kill_with(children[0] as u32, &opts).unwrap_err();
    match &err {
        KillError::NotGroupLeader { pid, pgid } => {
            assert_eq!((*pid as i32, *pgid as i32), (children[0], leader.pid()));
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

/// A group whose leader has exited and been reaped, with members that live on: `kill_target
/// --reaped-leader` forks the leader, which starts the group and its members and exits, and
/// reaps it. Returns that process (the members' stdout is its stdout), the members (killed
/// when the guard is dropped, should the test fail) and the former leader's pid, now only
/// the group's id.
fn group_without_leader(args: &[&str], members: usize) -> (Child, Vec<i32>, KillOnDrop, i32) {
    let count = members.to_string();
    let mut all = vec!["--reaped-leader", "--children", count.as_str()];
    all.extend_from_slice(args);
    let mut parent = Child::spawn(bin!("kill_target"), &all);
    let pids: Vec<i32> = (0..members)
        .map(|_| parent.expect_value("child "))
        .collect();
    let guard = KillOnDrop::new(&pids);
    let leader: i32 = parent.expect_value("leader ");
    parent.ready();
    // The leader is reaped: no process has its pid, only the group has its number.
    let gone = pidfd_open(leader).unwrap_err();
    assert_eq!(
        gone.raw_os_error(),
        Some(libc::ESRCH),
        "leader {leader}: {gone}"
    );
    for pid in &pids {
        // SAFETY: getpgid on a positive pid only reads.
        assert_eq!(unsafe { libc::getpgid(*pid) }, leader, "member {pid}");
    }
    (parent, pids, guard, leader)
}

/// The leader has exited and been reaped, the members ignore SIGTERM: the group is still
/// there, so it is signalled, awaited, and forced at the deadline: `Killed`, all gone. (It
/// used to stop at the leader's missing pid: `NotRunning`, members left running.)
#[test]
fn a_group_whose_leader_was_reaped_is_still_ended() {
    let (parent, members, _guard, leader) = group_without_leader(&["--child-ignore", "15"], 2);
    let opts = KillOptions::new()
        .group(true)
        .timeout(Duration::from_millis(300));
    assert_eq!(
        safe_kill_with(leader as u32, &opts).unwrap(),
        KillOutcome::Killed
    );
    for pid in &members {
        assert!(is_gone(*pid), "member {pid} is still there");
    }
    parent.signal(libc::SIGTERM);
    parent.finish().assert_signalled(libc::SIGTERM);
}

/// The same group whose members exit on SIGTERM: each gets it once, and the outcome is
/// `Exited`.
#[test]
fn a_group_whose_leader_was_reaped_exits_on_the_signal() {
    let (parent, members, _guard, leader) = group_without_leader(&["--child-exit-on", "15"], 2);
    let opts = KillOptions::new()
        .group(true)
        .timeout(Duration::from_secs(10));
    assert_eq!(
        safe_kill_with(leader as u32, &opts).unwrap(),
        KillOutcome::Exited
    );
    for pid in &members {
        assert!(is_gone(*pid), "member {pid} is still there");
    }
    parent.signal(libc::SIGTERM);
    let done = parent.finish();
    done.assert_signalled(libc::SIGTERM);
    for pid in &members {
        assert_eq!(done.count(&format!("got 15 pid {pid}")), 1, "{done}");
    }
}

/// The same without pidfds (a seccomp filter makes them fail with `ENOSYS`): the `kill`
/// fallback signals the group with `kill(-pgid)`. Run by `kill_validate` in its own session,
/// beside its sentinel, which must get nothing.
#[test]
fn a_group_whose_leader_was_reaped_is_ended_without_pidfds() {
    let (parent, members, _guard, leader) = group_without_leader(&["--child-ignore", "15"], 2);
    let pgid = leader.to_string();
    let mut caller =
        kill_validate_in_session(&["--no-pidfd", "--group", "--timeout", "300", &pgid]);
    caller.expect_line("pidfd unavailable");
    caller.ready();
    let done = caller.finish();
    done.assert_code(0);
    assert_eq!(
        done.count(&format!("result {leader}: ok killed")),
        1,
        "{done}"
    );
    assert_eq!(done.count("sentinel clean"), 1, "{done}");
    for pid in &members {
        assert!(is_gone(*pid), "member {pid} is still there");
    }
    parent.signal(libc::SIGTERM);
    parent.finish().assert_signalled(libc::SIGTERM);
}

/// A reaped leader whose group has no members left: there is nothing to signal.
#[test]
fn a_reaped_leader_without_members_is_not_running() {
    let (parent, _, _guard, leader) = group_without_leader(&[], 0);
    let opts = KillOptions::new().group(true);
    assert_eq!(
        safe_kill_with(leader as u32, &opts).unwrap(),
        KillOutcome::NotRunning
    );
    parent.signal(libc::SIGTERM);
    parent.finish().assert_signalled(libc::SIGTERM);
}
