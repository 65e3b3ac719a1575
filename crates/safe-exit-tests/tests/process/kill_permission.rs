//! A target that the caller may not signal (issue 3, point 6): `PermissionDenied`, and the
//! target is untouched.

use safe_exit_tests::{bin, Child};

#[test]
fn a_process_we_may_not_signal_is_a_permission_error_and_untouched() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // The killer must run as another user than the target's owner; only root can
        // arrange that here.
        safe_exit_tests::cannot_run("needs root (to run the killer as the user nobody)");
        return;
    }
    // Owned by root; reports (and survives) SIGTERM, SIGINT and SIGCONT if they arrive.
    let mut target = Child::spawn(bin!("kill_target"), &["--report", "15", "--report", "18"]);
    target.ready();
    let mut killer = Child::spawn(bin!("kill_as_user"), &[&target.pid().to_string()]);
    killer.ready();
    let line = killer.expect_line("result:");
    assert!(line.starts_with("result: err PermissionDenied: "), "{line}");
    assert!(line.contains(&format!("pid {}", target.pid())), "{line}");
    killer.finish().assert_code(0);

    assert!(target.is_running());
    target.signal(libc::SIGKILL);
    let done = target.finish();
    assert!(
        done.starting_with("got").is_empty(),
        "it was signalled: {done}"
    );
}
