//! Shutdown policies at their edges: unbounded durations, and a grace period set after the
//! shutdown was requested.

use safe_exit_tests::{bin, Child, Finished};

use crate::common::BOUND;

#[track_caller]
fn assert_no_panic(out: &Finished) {
    assert!(!out.stderr.contains("panicked"), "{out}");
}

/// The gated hook of `edges max-durations`: it has started with `reason`; let it finish.
#[track_caller]
fn let_the_hook_finish(child: &mut Child, reason: &str) {
    child.expect_line(&format!("hook start {reason}"));
    child.send_line("go");
}

#[track_caller]
fn assert_hook_ran_once(out: &Finished, reason: &str) {
    assert_eq!(
        out.starting_with("hook"),
        [format!("hook start {reason}"), format!("hook end {reason}")],
        "{out}"
    );
}

#[test]
fn an_unbounded_hook_deadline_runs_the_hooks_on_sigterm() {
    let mut child = Child::spawn(bin!("edges"), &["max-durations", "deadline"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let_the_hook_finish(&mut child, "Signal(15)");
    let out = child.finish();
    assert_no_panic(&out);
    assert_hook_ran_once(&out, "Signal(15)");
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn an_unbounded_hook_deadline_runs_the_hooks_at_a_normal_exit() {
    let mut child = Child::spawn(bin!("edges"), &["max-durations", "deadline"]);
    child.ready();
    child.send_line("return");
    let_the_hook_finish(&mut child, "Exit");
    let out = child.finish();
    assert_no_panic(&out);
    assert_hook_ran_once(&out, "Exit");
    out.assert_code(0);
}

#[test]
fn an_unbounded_grace_period_lets_main_return_and_the_hooks_run_on_sigterm() {
    let mut child = Child::spawn(bin!("edges"), &["max-durations", "grace"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("requested Signal(15)");
    child.send_line("return");
    let_the_hook_finish(&mut child, "Signal(15)");
    let out = child.finish();
    assert_no_panic(&out);
    assert_hook_ran_once(&out, "Signal(15)");
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn an_unbounded_grace_period_runs_the_hooks_at_a_normal_exit() {
    let mut child = Child::spawn(bin!("edges"), &["max-durations", "grace"]);
    child.ready();
    child.send_line("return");
    let_the_hook_finish(&mut child, "Exit");
    let out = child.finish();
    assert_no_panic(&out);
    assert_hook_ran_once(&out, "Exit");
    out.assert_code(0);
}

#[test]
fn a_grace_period_set_after_shutdown_was_requested_is_enforced() {
    let mut child = Child::spawn(bin!("edges"), &["late-grace"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("requested Signal(15)");
    child.expect_line("grace set");
    // Main never returns and stdin stays open: only the grace period can end the process.
    let out = child.finish_within(BOUND);
    assert_eq!(out.starting_with("hook"), ["hook Signal(15)"], "{out}");
    out.assert_signalled(libc::SIGTERM);
}
