//! Never the wrong process (issue 3, point 7): pid 0, pids that are negative as a `pid_t`,
//! our own pid and bad signals are refused before anything is signalled.
//!
//! Each case runs in `kill_validate`, in its own session, or for the negative pids as PID 1
//! of its own PID namespace, beside a sentinel that records every signal it receives: were
//! the validation broken, `kill(0)` or `kill(-1)` would reach only that session or namespace,
//! and the sentinel would report it.

use safe_exit_tests::{bin, command_in_pid_namespace, Child, Finished};

use crate::common::kill_validate_in_session;

/// Runs `child` (`kill_validate`) to its end; its sentinel must be clean.
fn run(mut child: Child) -> Finished {
    child.ready();
    let done = child.finish();
    done.assert_code(0);
    assert_eq!(
        done.count("sentinel clean"),
        1,
        "the sentinel was signalled:\n{done}"
    );
    assert_eq!(done.count("done"), 1, "{done}");
    done
}

fn in_session(args: &[&str]) -> Finished {
    run(kill_validate_in_session(args))
}

fn result<'a>(done: &'a Finished, pid: &str) -> &'a str {
    let prefix = format!("result {pid}: ");
    let line = done.stdout.iter().find(|l| l.starts_with(&prefix));
    &line.unwrap_or_else(|| panic!("no result for {pid}:\n{done}"))[prefix.len()..]
}

#[test]
fn pid_0_is_refused() {
    let done = in_session(&["0"]);
    let r = result(&done, "0");
    assert!(
        r.starts_with("err InvalidPid: refusing to signal pid 0: kill(0)"),
        "{r}"
    );
}

#[test]
fn our_own_pid_is_refused() {
    let done = in_session(&["self"]);
    let line = done
        .stdout
        .iter()
        .find(|l| l.starts_with("result "))
        .unwrap();
    assert!(
        line.contains(": err SelfTarget: refusing to signal pid "),
        "{line}"
    );
    assert!(line.contains("this process itself"), "{line}");
}

/// In a PID namespace: were 4294967295 passed on as -1, `kill(-1)` would signal every
/// process the caller may signal, here only those of the namespace.
#[test]
fn pids_that_are_negative_as_pid_t_are_refused() {
    for (pid, says) in [
        ("4294967295", "as a pid_t it is -1"),
        ("2147483648", "too large for a pid_t"),
        ("4294967294", "too large for a pid_t"),
    ] {
        let Some(cmd) = command_in_pid_namespace(bin!("kill_validate"), &[pid]) else {
            return;
        };
        let done = run(Child::from_command(cmd));
        let r = result(&done, pid);
        assert!(
            r.starts_with(&format!("err InvalidPid: refusing to signal pid {pid}: ")),
            "{r}"
        );
        assert!(r.contains(says), "{r}");
    }
}

/// Group mode on pid 1 would mean `kill(-1)`: refused (in a namespace, where pid 1 is the
/// validator itself, which must not be mistaken for "ourselves" first either).
#[test]
fn group_mode_on_pid_1_is_refused() {
    let Some(cmd) = command_in_pid_namespace(bin!("kill_validate"), &["--group", "1"]) else {
        return;
    };
    let done = run(Child::from_command(cmd));
    let r = result(&done, "1");
    assert!(
        r.starts_with("err InvalidPid: refusing to signal pid 1: the process group"),
        "{r}"
    );
}

/// Group mode on the group that we belong to: refused, as it would signal us. Run from a
/// member (not the leader) of a group in its own session.
#[test]
fn group_mode_on_our_own_group_is_refused() {
    let done = in_session(&["--from-member", "--group", "group"]);
    let line = done
        .stdout
        .iter()
        .find(|l| l.starts_with("result "))
        .unwrap();
    assert!(
        line.contains(": err OwnGroup: refusing to signal the process group of pid "),
        "{line}"
    );
}

/// The same when the group's leader has exited and been reaped: the group id names no
/// process, but the group is still ours. (It used to be reported `not-running`.)
#[test]
fn group_mode_on_our_own_group_without_its_leader_is_refused() {
    let done = in_session(&["--from-orphaned-member", "--group", "group"]);
    let line = done
        .stdout
        .iter()
        .find(|l| l.starts_with("result "))
        .unwrap();
    assert!(
        line.contains(": err OwnGroup: refusing to signal the process group of pid "),
        "{line}"
    );
}

/// All or nothing: one bad pid in a batch, and the valid one is not signalled either.
#[test]
fn one_bad_pid_in_a_batch_means_nothing_is_signalled() {
    let done = in_session(&["sentinel", "0"]);
    assert!(result(&done, "0").starts_with("err InvalidPid: "), "{done}");
    let sentinel = done
        .stdout
        .iter()
        .find(|l| l.starts_with("result "))
        .unwrap();
    assert!(sentinel.contains(": err NotAttempted: "), "{sentinel}");
}

#[test]
fn invalid_signals_are_refused_and_nothing_is_signalled() {
    for sig in ["0", "-15", "65", "1000", "19", "18"] {
        let done = in_session(&["--signal", sig, "sentinel"]);
        let line = done
            .stdout
            .iter()
            .find(|l| l.starts_with("result "))
            .unwrap();
        assert!(
            line.contains(&format!(
                ": err InvalidSignal: refusing to send signal {sig}"
            )),
            "{line}"
        );
    }
}

/// The check itself is not a no-op: a valid pid in the same harness is signalled (the
/// sentinel blocks every signal, so it records SIGTERM and SIGCONT; then SIGKILL ends it).
#[test]
fn the_sentinel_does_see_a_real_signal() {
    let mut child = kill_validate_in_session(&["--signal", "15", "sentinel"]);
    child.ready();
    let line = child.expect_line("result ");
    assert!(line.ends_with(": ok killed"), "{line}");
    let done = child.finish();
    // SIGKILL ended the sentinel before it could report.
    assert_eq!(done.count("sentinel clean"), 0, "{done}");
}
