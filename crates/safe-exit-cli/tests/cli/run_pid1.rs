//! `safe-exit run` as PID 1 of a PID namespace with its own `/proc` (a container's init:
//! `unshare --pid --fork --mount-proc`, which passes its child's status on): it reaps every
//! orphan, passes signals from outside on, ends a stubborn COMMAND after the grace period,
//! and stops what COMMAND leaves before it exits (politely: when PID 1 exits, the kernel
//! SIGKILLs the rest of the namespace, which the tests tell apart by what the leftovers say).

use std::time::{Duration, Instant};

use safe_exit_tests::{command_in_pid_namespace, Child, Pinned};

use crate::common::{finish, finish_within, KillTreeOnDrop, SAFE_EXIT};
use crate::run_leftovers::REAPS_ORPHANS;

/// `safe-exit run ARGS...` as PID 1 of a new PID namespace, started, with what kills the
/// namespace if the test fails (the harness kills `unshare`, not the wrapper below it);
/// `None` where namespaces cannot be made (a failure under CI).
fn run_as_pid_1(args: &[&str]) -> Option<(Child, KillTreeOnDrop)> {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let child = Child::from_command(command_in_pid_namespace(SAFE_EXIT, &all)?);
    let tree = KillTreeOnDrop::new(child.pid());
    Some((child, tree))
}

/// The wrapper (PID 1 inside) as seen from here: the only child of `unshare`, pinned.
fn init_of(unshare: &Child) -> Pinned {
    let pid = unshare.pid();
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let pids: Vec<i32> = text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(pids.len(), 1, "children of unshare: {text:?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", pids[0])).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")),
        "the wrapper is not PID 1 of its namespace:\n{status}"
    );
    Pinned::new(pids[0]).expect("pin the wrapper")
}

/// Orphans reparented to PID 1 are reaped at once (COMMAND sees their `/proc` entries go),
/// COMMAND's parent is PID 1, and its status is the namespace's.
#[test]
fn as_pid_1_every_orphan_is_reaped() {
    let Some((child, _tree)) =
        run_as_pid_1(&["--", "sh", "-c", &format!("{REAPS_ORPHANS}; exit 4")])
    else {
        return;
    };
    let done = finish(child);
    done.assert_code(4);
    assert_eq!(done.starting_with("parent "), ["parent 1"], "{done}");
    assert_eq!(done.starting_with("reaped ").len(), 3, "{done}");
}

/// TERM from outside the namespace (as `docker stop` sends it) reaches COMMAND, whose
/// status is the namespace's at once; a COMMAND that ignores TERM is killed after the grace
/// period.
#[test]
fn as_pid_1_term_from_outside_is_passed_on_then_the_grace_period() {
    for (script, status) in [
        ("echo ready; exec sleep 1000", 143),
        ("trap '' TERM; echo ready; exec sleep 1000", 137),
    ] {
        let Some((mut child, _tree)) =
            run_as_pid_1(&["--grace", "300ms", "--", "sh", "-c", script])
        else {
            return;
        };
        child.ready();
        let init = init_of(&child);
        let sent = Instant::now();
        init.signal(libc::SIGTERM);
        let done = finish(child);
        done.assert_code(status);
        let took = sent.elapsed();
        if status == 137 {
            assert!(took >= Duration::from_millis(300), "{took:?}");
            assert!(
                done.stderr.contains("still running 300ms after SIGTERM"),
                "{done}"
            );
        } else {
            assert!(took < Duration::from_secs(5), "{took:?}");
        }
    }
}

/// COMMAND exits while a detached process (`setsid`) and a member of its group still run:
/// both get TERM from the wrapper (they say so; a SIGKILL at the namespace's end would leave
/// them no time), and then the namespace ends with COMMAND's status.
#[test]
fn as_pid_1_what_the_command_leaves_is_stopped_politely() {
    // The `sleep` is started before the trap is set: a child forked after it runs the
    // shell's handler until it execs, and a TERM that came just then would be lost.
    let leftover = |name: &str| {
        format!(
            "sh -c 'sleep 1000 & trap \"echo {name} got TERM; exit 0\" TERM; \
             echo {name} ready; wait'"
        )
    };
    let script = format!(
        "setsid {} & {} & read x; exit 3",
        leftover("away"),
        leftover("member")
    );
    let Some((mut child, _tree)) = run_as_pid_1(&["--grace", "10s", "--", "sh", "-c", &script])
    else {
        return;
    };
    // In either order.
    let mut ready = std::collections::BTreeSet::new();
    while ready.len() < 2 {
        let line = child.expect_line("");
        if line.ends_with(" ready") {
            ready.insert(line);
        }
    }
    child.close_stdin();
    let done = finish_within(child, Duration::from_secs(8));
    done.assert_code(3);
    done.assert_once("away got TERM");
    done.assert_once("member got TERM");
}
