//! The end of the process: it never waits on a lock another thread holds (a full stdout pipe),
//! a signal still ends it after the hooks, and it ends only once `exit` has done its work
//! (older `atexit` handlers, C stdio buffers).

use safe_exit_tests::{bin, command, Child};

use crate::common::BOUND;

/// A child of `edges` whose stdout is a pipe the test never reads (it fills, and then the
/// child blocks writing to it). It reports on stderr, which is read line by line.
fn with_unread_stdout(args: &[&str]) -> Child {
    let mut cmd = command(bin!("edges"));
    cmd.args(args);
    Child::with_unread_stdout(cmd)
}

#[test]
fn a_signal_ends_the_process_while_main_holds_stdout_blocked_on_a_full_pipe() {
    let mut child = with_unread_stdout(&["stdout-blocked"]);
    child.ready();
    // Main is now blocked writing to stdout, holding stdout's lock.
    child.wait_stdout_full();
    child.signal(libc::SIGTERM);
    let end = child.finish_within(BOUND);
    assert_eq!(
        end.stderr.matches("hook ran").count(),
        1,
        "the hook runs once\n{end}"
    );
    end.assert_signalled(libc::SIGTERM);
}

#[test]
fn the_hook_deadline_ends_the_process_even_when_the_hook_is_stuck_in_println() {
    let mut child = with_unread_stdout(&["stuck-println"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let end = child.finish_within(BOUND);
    assert!(
        end.stderr.contains("did not finish within"),
        "stderr names the hook deadline\n{end}"
    );
    end.assert_signalled(libc::SIGTERM);
}

#[test]
fn a_signal_after_the_hooks_ends_a_process_stuck_in_an_older_atexit_handler() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let mut child = Child::spawn(bin!("edges"), &["slow-atexit"]);
        child.ready();
        child.close_stdin();
        child.expect_line("hook Exit");
        // The older atexit handler runs after safe-exit's, and blocks forever.
        child.expect_line("slow atexit");
        child.signal(sig);
        let out = child.finish_within(BOUND);
        assert_eq!(out.count("hook Exit"), 1, "signal {sig}\n{out}");
        out.assert_signalled(sig);
    }
}

#[test]
fn notify_mode_ends_by_the_signal_only_after_exit_ran_older_atexit_handlers_and_flushed_stdio() {
    let mut child = Child::spawn(bin!("edges"), &["notify-atexit"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("requested Signal(15)");
    let out = child.finish();
    assert_eq!(out.count("hook Signal(15)"), 1, "{out}");
    assert_eq!(
        out.count("older atexit ran"),
        1,
        "an atexit handler registered before safe-exit still runs\n{out}"
    );
    assert_eq!(
        out.count("c stdio line"),
        1,
        "exit flushes C stdio before the process ends by the signal\n{out}"
    );
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn request_shutdown_in_exit_mode_flushes_c_stdio_and_ends_with_its_code() {
    let mut child = Child::spawn(bin!("edges"), &["request-cstdio"]);
    child.ready();
    child.close_stdin();
    let out = child.finish();
    assert_eq!(out.count("hook Requested(3)"), 1, "{out}");
    assert_eq!(
        out.count("c stdio line"),
        1,
        "what printf left in C stdio's buffer is written before the process ends\n{out}"
    );
    assert_eq!(out.count("request_shutdown returned"), 0, "{out}");
    out.assert_code(3);
}
