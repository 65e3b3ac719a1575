//! As PID 1 of a PID namespace (a container's init), the process still ends after its hooks.

use safe_exit_tests::{bin, command_in_pid_namespace, Child};

/// The pid (in our namespace) of the only child of `parent`.
fn only_child_of(parent: i32) -> i32 {
    let path = format!("/proc/{parent}/task/{parent}/children");
    // `unshare` forked its child before the child could print `ready`.
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let pids: Vec<i32> = text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(pids.len(), 1, "children of unshare: {text:?}");
    pids[0]
}

#[test]
fn pid_1_still_ends_after_its_hooks_with_128_plus_signal() {
    let Some(cmd) = command_in_pid_namespace(bin!("hooks"), &["basic"]) else {
        return;
    };
    let mut child = Child::from_command(cmd);
    child.ready();
    let init = only_child_of(child.pid());
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap_or_default();
    assert!(
        nspid.ends_with("\t1"),
        "the hooks child must be PID 1 in its namespace: {nspid:?}"
    );
    // From outside the namespace, as `docker stop` does.
    // SAFETY: kill(2) on a specific positive pid that is alive (its parent, unshare, waits).
    assert_eq!(unsafe { libc::kill(init, libc::SIGTERM) }, 0);
    let out = child.finish();
    assert_eq!(out.count("hook Signal(15)"), 1, "{out}");
    // unshare passes on its child's exit code: 128 + SIGTERM.
    out.assert_code(128 + libc::SIGTERM);
}
