//! A child forked without exec never becomes unkillable and never runs its parent's hooks.

use safe_exit_tests::{bin, command, Child};

#[test]
fn a_forked_child_ends_on_sigterm_without_running_the_parents_hooks() {
    let mut child = Child::spawn(bin!("hooks"), &["fork"]);
    child.ready();
    let gc: i32 = child.expect_value("gc-ready ");
    // The grandchild is alive (its parent has not reaped it), so its pid is still its own.
    // SAFETY: kill(2) on a specific positive pid.
    assert_eq!(unsafe { libc::kill(gc, libc::SIGTERM) }, 0);
    child.expect_line("gc-ended signal 15");
    // The parent is untouched: its hook runs once, at its own normal exit.
    child.close_stdin();
    let out = child.finish();
    out.assert_code(0);
    assert_eq!(out.count("hook parent"), 1, "{out}");
}

#[test]
fn a_forked_child_may_register_hooks_of_its_own() {
    let mut cmd = command(bin!("hooks"));
    cmd.arg("fork").env("CHILD_REGISTERS", "1");
    let mut child = Child::from_command(cmd);
    child.ready();
    let gc: i32 = child.expect_value("gc-ready ");
    // SAFETY: kill(2) on a specific positive pid (alive, unreaped).
    assert_eq!(unsafe { libc::kill(gc, libc::SIGTERM) }, 0);
    child.expect_line("gc-ended signal 15");
    child.signal(libc::SIGTERM);
    let out = child.finish();
    out.assert_signalled(libc::SIGTERM);
    assert_eq!(
        out.count("hook child"),
        1,
        "the child's own hook runs once\n{out}"
    );
    assert_eq!(
        out.count("hook parent"),
        1,
        "the parent's hook runs once, in the parent\n{out}"
    );
}
