//! What several test modules need: bounds, and the child programs started the same way.

use std::time::Duration;

use safe_exit_tests::{bin, command_in_new_session, Child};

/// A generous bound for a process that must end, or must not hang (a correct run takes
/// milliseconds, plus a grace period of a few hundred where there is one).
pub(crate) const BOUND: Duration = Duration::from_secs(5);

/// Starts `kill_target --children N ARGS...` (which starts `n` children in its own process
/// group and reports each as `child PID`) and waits until it is ready; returns it and the
/// children's pids.
pub(crate) fn kill_target_with_children(n: usize, args: &[&str]) -> (Child, Vec<i32>) {
    let count = n.to_string();
    let mut all = vec!["--children", count.as_str()];
    all.extend_from_slice(args);
    let mut parent = Child::spawn(bin!("kill_target"), &all);
    let pids = (0..n).map(|_| parent.expect_value("child ")).collect();
    parent.ready();
    (parent, pids)
}

/// Starts `kill_validate ARGS...` in a session of its own, so that a broken `kill(0, ..)` in
/// it reaches only that session (see `src/bin/kill_validate.rs`). It has not printed
/// anything yet.
pub(crate) fn kill_validate_in_session(args: &[&str]) -> Child {
    let mut cmd = command_in_new_session(bin!("kill_validate"));
    cmd.args(args);
    Child::from_command(cmd)
}
