//! Hooks that end the process themselves (`std::process::exit`, `request_shutdown`), and
//! hooks that use thread-locals at a normal exit.

use std::time::Duration;

use safe_exit_tests::{bin, Child, Finished};

use crate::common::BOUND;

/// `hook B` then `hook A`, each exactly once.
#[track_caller]
fn assert_b_then_a_once(out: &Finished) {
    assert_eq!(out.count("hook B"), 1, "{out}");
    assert_eq!(
        out.count("hook A"),
        1,
        "the other hooks still run, once, after a hook ends the process\n{out}"
    );
    assert!(
        out.position("hook B") < out.position("hook A"),
        "hooks run newest first\n{out}"
    );
}

/// The process neither aborted nor reported a re-entrant exit.
#[track_caller]
fn assert_no_abort(out: &Finished) {
    assert_ne!(
        out.signal(),
        Some(libc::SIGABRT),
        "the process aborted\n{out}"
    );
    assert!(!out.stderr.contains("re-entrantly"), "{out}");
}

fn hook_exit_at_normal_exit(then: &str) -> Finished {
    let mut child = Child::spawn(bin!("edges"), &["hook-exit", then]);
    child.ready();
    child.close_stdin();
    child.finish_within(BOUND)
}

#[test]
fn a_hook_calling_exit_when_main_returns_ends_only_that_hook() {
    let out = hook_exit_at_normal_exit("return");
    assert_no_abort(&out);
    assert_b_then_a_once(&out);
    // At a normal exit the status is main's; the hook's exit call ended only the hook.
    out.assert_code(0);
}

#[test]
fn a_hook_calling_exit_after_main_called_exit_ends_only_that_hook() {
    let out = hook_exit_at_normal_exit("exit0");
    assert_no_abort(&out);
    assert_b_then_a_once(&out);
    out.assert_code(0);
}

#[test]
fn a_hook_calling_exit_in_a_signal_run_ends_with_its_code_after_the_other_hooks() {
    let mut child = Child::spawn(bin!("edges"), &["hook-exit", "return"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish_within(BOUND);
    assert_no_abort(&out);
    assert_b_then_a_once(&out);
    assert_eq!(out.count("main ending"), 0, "{out}");
    out.assert_code(7);
}

#[test]
fn a_hook_calling_exit_while_main_exits_during_a_signal_run_ends_by_the_signal() {
    let mut child = Child::spawn(bin!("edges"), &["hook-exit-race"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("hook B start");
    // Main now calls exit(0), which waits for the running hooks...
    child.send_line("exit");
    child.expect_line("main in exit");
    // ... and then hook B calls exit(7).
    child.send_line("go");
    let out = child.finish_within(BOUND);
    assert_no_abort(&out);
    assert_eq!(out.count("hook B start"), 1, "{out}");
    assert_eq!(out.count("hook A"), 1, "{out}");
    assert!(
        out.position("hook B start") < out.position("hook A"),
        "{out}"
    );
    // The run was started by SIGTERM; main's exit waited for it and ends the way the signal
    // would.
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn request_shutdown_inside_a_hook_at_normal_exit_does_not_return_and_ends_with_its_code() {
    let mut child = Child::spawn(bin!("edges"), &["request-in-hook"]);
    child.ready();
    child.close_stdin();
    let out = child.finish_within(BOUND);
    assert_eq!(
        out.count("returned"),
        0,
        "exit mode: request_shutdown does not return, even inside a hook\n{out}"
    );
    assert_b_then_a_once(&out);
    out.assert_code(3);
}

#[test]
fn request_shutdown_inside_a_signal_started_hook_does_not_return_and_ends_with_its_code() {
    let mut child = Child::spawn(bin!("edges"), &["request-in-hook"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish_within(BOUND);
    assert_eq!(
        out.count("returned"),
        0,
        "exit mode: request_shutdown does not return, even inside a hook\n{out}"
    );
    assert_b_then_a_once(&out);
    out.assert_code(3);
}

fn assert_hooks_use_thread_locals(then: &str) {
    let mut child = Child::spawn(bin!("edges"), &["tls", then]);
    child.ready();
    child.close_stdin();
    let out = child.finish_within(BOUND);
    assert!(!out.stderr.contains("panicked"), "{then}\n{out}");
    assert_eq!(
        out.count("hook tls ok"),
        1,
        "{then}: a hook can use a thread-local that main used\n{out}"
    );
    assert_eq!(
        out.count("hook late tls ok"),
        1,
        "{then}: a hook can use a thread-local for the first time\n{out}"
    );
    out.assert_code(0);
}

#[test]
fn hooks_can_use_thread_locals_when_main_returns() {
    assert_hooks_use_thread_locals("return");
}

#[test]
fn hooks_can_use_thread_locals_when_main_calls_exit() {
    assert_hooks_use_thread_locals("exit0");
}

#[test]
fn a_hook_calling_c_exit_when_main_returns_ends_only_that_hook() {
    let mut child = Child::spawn(bin!("edges"), &["hook-c-exit"]);
    child.ready();
    child.close_stdin();
    let out = child.finish_within(BOUND);
    assert_no_abort(&out);
    assert_b_then_a_once(&out);
    // As with Rust's exit: at a normal exit the status is main's.
    out.assert_code(0);
}

#[test]
fn a_hook_calling_c_exit_in_a_signal_run_ends_with_its_code_after_the_other_hooks() {
    let mut child = Child::spawn(bin!("edges"), &["hook-c-exit"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish_within(BOUND);
    assert_b_then_a_once(&out);
    out.assert_code(9);
}

#[test]
fn a_hook_waiting_in_pause_is_not_taken_for_one_that_called_exit() {
    let mut child = Child::spawn(bin!("edges"), &["hook-pause"]);
    child.ready();
    child.close_stdin();
    let tid: i32 = child
        .expect_line("hook B waiting ")
        .trim_start_matches("hook B waiting ")
        .parse()
        .expect("a thread id");
    // A hook that called exit at a normal exit is noticed within about 100 ms. Give that check
    // several turns to go wrong before waking the hook.
    std::thread::sleep(Duration::from_millis(400));
    assert!(child.is_running(), "the process ended under a waiting hook");
    // To the hook's own thread: `pause()` returns only when a handler runs on that thread.
    // SAFETY: tgkill with the child's pid and one of its thread ids (the child is alive and
    // not reaped, so neither can have been reused).
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, child.pid(), tid, libc::SIGUSR1) };
    assert_eq!(rc, 0, "tgkill: {}", std::io::Error::last_os_error());
    let out = child.finish_within(BOUND);
    assert_eq!(out.count("hook A"), 1, "{out}");
    assert!(
        out.position("hook B woke") < out.position("hook A"),
        "hook A ran while B still waited: B was cut short\n{out}"
    );
    assert!(!out.stderr.contains("called exit"), "{out}");
    out.assert_code(0);
}

#[test]
fn without_new_threads_at_exit_the_hooks_still_run_and_a_hook_may_exit() {
    let mut child = Child::spawn(bin!("edges"), &["no-threads-at-exit"]);
    child.ready();
    child.close_stdin();
    let out = child.finish_within(BOUND);
    assert_eq!(
        out.count("no threads true"),
        1,
        "the child could still start threads\n{out}"
    );
    assert_no_abort(&out);
    assert_b_then_a_once(&out);
    out.assert_code(0);
}
