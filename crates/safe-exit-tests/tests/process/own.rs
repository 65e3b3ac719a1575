//! `own` (issue 13): owned children are stopped when the parent ends, by every path that runs
//! hooks, all at once under one deadline and before the hooks; never reaped; disowned ones
//! outlive the parent; bad input refused with nothing signalled. The parent is the `owner`
//! program; its children are `kill_target`s.

use std::process::Stdio;
use std::time::{Duration, Instant};

use safe_exit_tests::{bin, command, is_gone, still_running_after, Child, KillOnDrop, Pinned};

/// Starts `owner` with `args`, and reads its children's pids up to `ready`.
fn owner(args: &[&str]) -> (Child, Vec<i32>, KillOnDrop) {
    let mut cmd = command(bin!("owner"));
    cmd.args(args).stdin(Stdio::piped());
    let mut parent = Child::from_command(cmd);
    let ready = parent.ready();
    let children: Vec<i32> = parent
        .seen_lines()
        .iter()
        .filter_map(|l| l.strip_prefix("child ").map(|p| p.parse().unwrap()))
        .collect();
    assert!(!children.is_empty(), "{ready}");
    let guard = KillOnDrop::new(&children);
    (parent, children, guard)
}

/// The `status PID ...` line the parent's hook printed for `pid`.
fn status_of(out: &[String], pid: i32) -> String {
    let prefix = format!("status {pid} ");
    out.iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no status for {pid}: {out:?}"))
        .to_owned()
}

/// The case: three children, one of which ignores SIGTERM, deadline 300 ms. The
/// parent's hook starts after the stubborn one is forced, about 300 ms after the signal; the
/// hook sees each child's real status through its own `Child::try_wait` (never reaped by
/// safe-exit): SIGTERM for two, SIGKILL for the stubborn one.
#[test]
fn children_are_stopped_before_the_hooks_and_keep_their_status() {
    let (mut parent, kids, _guard) = owner(&["--children", "3", "--stubborn", "1"]);
    let sent = Instant::now();
    parent.signal(libc::SIGTERM);
    parent.expect_line("hook");
    let waited = sent.elapsed();
    let done = parent.finish();
    done.assert_signalled(libc::SIGTERM);
    assert_eq!(status_of(&done.stdout, kids[0]), "signal 15", "{done}");
    assert_eq!(status_of(&done.stdout, kids[1]), "signal 15", "{done}");
    assert_eq!(status_of(&done.stdout, kids[2]), "signal 9", "{done}");
    assert!(
        waited >= Duration::from_millis(300),
        "{waited:?}: not forced at the deadline"
    );
    // Generous: three stubborn-sized waits in a row would be 900 ms.
    assert!(waited < Duration::from_millis(850), "{waited:?}\n{done}");
    assert!(
        done.stderr
            .contains(&format!("owned child {} did not end", kids[2])),
        "{done}"
    );
}

/// One shared deadline: three children that all ignore SIGTERM are forced together, not one
/// after another (300 ms, not 900).
#[test]
fn stubborn_children_share_one_deadline() {
    let (mut parent, kids, _guard) = owner(&["--children", "3", "--stubborn", "3"]);
    let sent = Instant::now();
    parent.signal(libc::SIGTERM);
    parent.expect_line("hook");
    let waited = sent.elapsed();
    let done = parent.finish();
    for &k in &kids {
        assert_eq!(status_of(&done.stdout, k), "signal 9", "{done}");
    }
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(
        waited < Duration::from_millis(850),
        "{waited:?}: one deadline each?\n{done}"
    );
}

/// Every ending that runs hooks stops the owned children first: `main` returning, `exit`,
/// `request_shutdown`, and notify mode once `main` returns after the drain.
#[test]
fn every_ending_that_runs_hooks_stops_them_first() {
    // Notify mode ends by the signal that asked for the shutdown, as the policy says.
    for (end, code) in [("return", 0), ("exit", 3), ("request", 4), ("notify", -15)] {
        let (mut parent, kids, _guard) = owner(&["--children", "2", "--end", end]);
        if end == "notify" {
            parent.signal(libc::SIGTERM);
            parent.expect_line("draining");
        } else {
            parent.send_line("go");
        }
        let done = parent.finish();
        if code < 0 {
            done.assert_signalled(-code);
        } else {
            done.assert_code(code);
        }
        let hook = done
            .stdout
            .iter()
            .position(|l| l == "hook")
            .expect("hook ran");
        for &k in &kids {
            assert_eq!(status_of(&done.stdout, k), "signal 15", "{end}\n{done}");
            assert!(
                done.stdout[..hook].iter().all(|l| !l.starts_with("status")),
                "{end}\n{done}"
            );
        }
    }
}

/// A disowned child outlives its parent; the others do not.
#[test]
fn a_disowned_child_outlives_the_parent() {
    let (mut parent, kids, _guard) = owner(&["--children", "2", "--disown"]);
    let disowned: i32 = parent
        .seen_lines()
        .iter()
        .find_map(|l| l.strip_prefix("disowned ").map(|p| p.parse().unwrap()))
        .expect("disowned line");
    assert_eq!(disowned, kids[0]);
    // Pinned before the parent ends: from then on it is reaped by someone else.
    let pinned = Pinned::new(disowned).expect("pin");
    parent.signal(libc::SIGTERM);
    parent.expect_line("hook");
    safe_exit_tests::wait_gone(parent.pid());
    assert!(still_running_after(disowned, Duration::from_millis(100)));
    assert!(is_gone(kids[1]));
    drop(pinned); // kills it, so that its inherited stderr closes
    let done = parent.finish();
    assert_eq!(status_of(&done.stdout, kids[0]), "running", "{done}");
    assert_eq!(status_of(&done.stdout, kids[1]), "signal 15", "{done}");
}

/// Group mode: the child's whole process group is stopped before the hooks, its stubborn
/// grandchild included (forced with the group).
#[test]
fn group_mode_stops_the_grandchildren_too() {
    let (parent, kids, _guard) = owner(&["--children", "2", "--stubborn", "1", "--group"]);
    let grandchildren: Vec<i32> = parent
        .seen_lines()
        .iter()
        .filter_map(|l| l.strip_prefix("grandchild ").map(|p| p.parse().unwrap()))
        .collect();
    assert_eq!(grandchildren.len(), 2);
    let _also = KillOnDrop::new(&grandchildren);
    parent.signal(libc::SIGTERM);
    let done = parent.finish();
    for g in grandchildren {
        assert!(
            done.stdout.contains(&format!("grandchild {g} gone")),
            "{done}"
        );
    }
    assert_eq!(status_of(&done.stdout, kids[0]), "signal 15", "{done}");
    assert_eq!(status_of(&done.stdout, kids[1]), "signal 9", "{done}");
}

/// A child owned by a hook while the hooks run is stopped before the next hook.
#[test]
fn a_child_owned_inside_a_hook_is_stopped_before_the_next_hook() {
    let (mut parent, _kids, _guard) = owner(&["--children", "1", "--own-in-hook"]);
    parent.signal(libc::SIGTERM);
    let late: i32 = parent.expect_value("late ");
    // Pinned if still running (killed if the test fails); it may well be gone already.
    let _late = Pinned::new(late).ok();
    let done = parent.finish();
    assert_eq!(status_of(&done.stdout, late), "signal 15", "{done}");
}

/// Bad input: clear errors, nothing signalled (a signal to the parent itself would end it
/// before `ready`), nothing panics; a child that has exited costs nothing and says so.
#[test]
fn bad_input_is_refused_and_nothing_is_signalled() {
    let mut cmd = command(bin!("owner"));
    cmd.arg("--bad").stdin(Stdio::piped());
    let mut parent = Child::from_command(cmd);
    parent.ready();
    assert!(parent.is_running());
    parent.close_stdin();
    let done = parent.finish();
    done.assert_code(0);
    for (what, kind) in [
        ("zero", "invalid_pid"),
        ("max", "invalid_pid"),
        ("self", "self_target"),
        ("thread", "own_thread"),
        ("signal", "invalid_signal"),
        ("stop", "invalid_signal"),
        ("own-group", "invalid_pid"),
        ("zombie", "not_running"),
        ("reaped", "not_running"),
    ] {
        let line = format!("bad {what} {kind}");
        assert!(done.stdout.contains(&line), "{line}\n{done}");
    }
    // The zombie was not reaped by `own`: its parent still got its status.
    assert!(
        done.stdout.contains(&"zombie status 0".to_owned()),
        "{done}"
    );
}

/// A process we may not signal is refused when it is owned (`PermissionDenied`), not found
/// out when the parent ends; it is untouched.
#[test]
fn a_process_we_may_not_signal_cannot_be_owned() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        safe_exit_tests::cannot_run("needs root (to run the owner as the user nobody)");
        return;
    }
    // Owned by root; reports (and survives) SIGTERM and SIGCONT if they arrive.
    let mut target = Child::spawn(bin!("kill_target"), &["--report", "15", "--report", "18"]);
    target.ready();
    let mut owner = Child::spawn(bin!("kill_as_user"), &[&target.pid().to_string(), "own"]);
    owner.ready();
    let line = owner.expect_line("result:");
    assert!(line.starts_with("result: err PermissionDenied: "), "{line}");
    owner.finish().assert_code(0);
    assert!(target.is_running());
    target.signal(libc::SIGKILL);
    let done = target.finish();
    assert!(
        done.starting_with("got").is_empty(),
        "it was signalled: {done}"
    );
}

/// A pid recycled between `own` and the end is never signalled: in group mode (the leader's
/// number now leads another group) and without pidfds (safe-exit can only poll by number).
/// As PID 1 of a PID namespace, where the next pid can be chosen; needs root.
#[test]
fn a_recycled_pid_is_never_signalled_at_the_end() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        safe_exit_tests::cannot_run("needs root (to choose the next pid in a PID namespace)");
        return;
    }
    for mode in ["group", "plain"] {
        let Some(cmd) =
            safe_exit_tests::command_in_pid_namespace(bin!("owner"), &["--recycle", mode])
        else {
            return;
        };
        let mut parent = Child::from_command(cmd);
        let recycled: i32 = parent.expect_value("recycled ");
        parent.ready();
        let done = parent.finish();
        done.assert_code(0);
        assert!(
            done.starting_with("got").is_empty(),
            "{mode}: pid {recycled}, recycled, was signalled\n{done}"
        );
    }
}
