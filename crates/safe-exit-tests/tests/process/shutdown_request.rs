//! The program requests shutdown itself; hooks that overrun their deadline.

use std::time::{Duration, Instant};

use safe_exit_tests::{bin, Child};

/// A 300 ms hook deadline must end the process well within ten times that: the bound fails a
/// deadline many times too long (the stderr line only echoes the configured value).
fn assert_ended_soon(started: Instant, what: &str) {
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "{what}: a 300 ms hook deadline took {took:?}"
    );
}

/// Waits for the stuck hook, then for the end: within [`assert_ended_soon`]'s bound, with the
/// stuck hook named on stderr.
fn finish_past_the_deadline(mut child: Child, what: &str) -> safe_exit_tests::Finished {
    child.expect_line("hook stuck: started");
    let started = Instant::now();
    let out = child.finish();
    assert_ended_soon(started, what);
    assert!(
        out.stderr
            .contains("did not finish within 300ms; still running: stuck flush"),
        "stderr names the stuck hook\n{out}"
    );
    out
}

#[test]
fn a_worker_thread_requests_shutdown_in_notify_mode() {
    let mut child = Child::spawn(bin!("shutdown"), &["request", "--notify"]);
    child.ready();
    child.send_line("fail");
    let out = child.finish();
    assert_eq!(
        out.count("worker: request_shutdown returned"),
        1,
        "notify mode returns\n{out}"
    );
    assert_eq!(out.count("requested Requested(3)"), 1, "{out}");
    assert_eq!(out.count("hook Requested(3)"), 1, "{out}");
    out.assert_code(3);
}

/// Notify mode, and `main` never returns: the grace period runs the hooks and the library
/// itself ends the process with the requested code (the child never calls `exit`).
#[test]
fn a_request_whose_grace_period_expires_ends_with_the_requested_code() {
    let mut child = Child::spawn(
        bin!("shutdown"),
        &["request", "--notify", "--grace", "300", "--never-return"],
    );
    child.ready();
    child.send_line("fail");
    child.expect_line("requested Requested(3)");
    let out = child.finish();
    assert_eq!(out.count("hook Requested(3)"), 1, "{out}");
    out.assert_code(3);
}

#[test]
fn a_request_in_exit_mode_runs_the_hooks_and_ends_with_the_code() {
    let mut child = Child::spawn(bin!("shutdown"), &["request"]);
    child.ready();
    child.send_line("fail");
    let out = child.finish();
    assert_eq!(out.count("hook Requested(3)"), 1, "{out}");
    assert_eq!(
        out.count("worker: request_shutdown returned"),
        0,
        "exit mode ends there\n{out}"
    );
    out.assert_code(3);
}

#[test]
fn a_hook_past_its_deadline_is_named_and_the_process_still_ends_by_the_signal() {
    let mut child = Child::spawn(bin!("shutdown"), &["stuck-hook", "--hook-deadline", "300"]);
    child.ready();
    child.signal(libc::SIGTERM);
    finish_past_the_deadline(child, "after SIGTERM").assert_signalled(libc::SIGTERM);
}

#[test]
fn a_hook_past_its_deadline_at_normal_exit_ends_with_status_1() {
    let mut child = Child::spawn(bin!("shutdown"), &["stuck-hook", "--hook-deadline", "300"]);
    child.ready();
    child.close_stdin();
    finish_past_the_deadline(child, "at a normal exit").assert_code(1);
}

/// A hook deadline set after the shutdown started (here while draining, in notify mode) is the
/// one enforced when the hooks run.
#[test]
fn a_hook_deadline_set_after_the_request_is_enforced() {
    let mut child = Child::spawn(bin!("shutdown"), &["late-deadline", "--notify"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("requested Signal(15)");
    finish_past_the_deadline(child, "a deadline set while draining")
        .assert_signalled(libc::SIGTERM);
}

/// `wait_for_shutdown_timeout(Duration::MAX)` means no deadline: it neither panics nor returns
/// before the request, and returns the reason when it comes.
#[test]
fn a_wait_with_duration_max_waits_for_the_request() {
    let mut child = Child::spawn(bin!("shutdown"), &["wait-max", "--notify"]);
    child.ready();
    assert!(child.is_running(), "the wait returned or panicked at once");
    child.signal(libc::SIGTERM);
    child.expect_line("woke Some(Signal(15))");
    let out = child.finish();
    assert!(!out.stderr.contains("panicked"), "{out}");
}
