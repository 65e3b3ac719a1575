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
    child.expect_line("hook stuck: started");
    let started = Instant::now();
    let out = child.finish();
    assert_ended_soon(started, "after SIGTERM");
    assert!(
        out.stderr
            .contains("did not finish within 300ms; still running: stuck flush"),
        "stderr names the stuck hook\n{out}"
    );
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn a_hook_past_its_deadline_at_normal_exit_ends_with_status_1() {
    let mut child = Child::spawn(bin!("shutdown"), &["stuck-hook", "--hook-deadline", "300"]);
    child.ready();
    child.close_stdin();
    child.expect_line("hook stuck: started");
    let started = Instant::now();
    let out = child.finish();
    assert_ended_soon(started, "at a normal exit");
    assert!(out.stderr.contains("still running: stuck flush"), "{out}");
    out.assert_code(1);
}

/// A hook deadline set after the shutdown started (here while draining, in notify mode) is the
/// one enforced when the hooks run.
#[test]
fn a_hook_deadline_set_after_the_request_is_enforced() {
    let mut child = Child::spawn(bin!("shutdown"), &["late-deadline", "--notify"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("requested Signal(15)");
    child.expect_line("hook stuck: started");
    let started = Instant::now();
    let out = child.finish();
    assert_ended_soon(started, "a deadline set while draining");
    assert!(
        out.stderr
            .contains("did not finish within 300ms; still running: stuck flush"),
        "stderr names the stuck hook\n{out}"
    );
    out.assert_signalled(libc::SIGTERM);
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
