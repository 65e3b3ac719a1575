//! The phases of a shutdown and the pre-drain delay: SIGTERM announces (readiness fails, the
//! waiters still sleep), the waiters wake after the delay, the hooks see `Ending`; SIGINT and
//! `request_shutdown` skip the delay; the grace period counts from the signal.

use std::time::{Duration, Instant};

use safe_exit_tests::{bin, Child};

/// `shutdown phases --notify OPTIONS...`, ready; its phase checked to be `Running`.
fn phases(extra: &[&str]) -> Child {
    let mut args = vec!["phases", "--notify"];
    args.extend_from_slice(extra);
    let mut child = Child::spawn(bin!("shutdown"), &args);
    child.ready();
    child.send_line("phase");
    child.expect_line("phase Running requested false");
    child
}

#[test]
fn sigterm_is_announced_at_once_and_the_waiters_wake_after_the_delay() {
    let delay = Duration::from_millis(1500);
    let mut child = phases(&["--pre-drain", "1500"]);
    let sent = Instant::now();
    child.signal(libc::SIGTERM);
    // Asked right after the signal: announced, not requested, and the waiter still sleeps.
    // (The answer comes from the main thread; the watcher may take a moment to record the
    // signal, so ask until it has. The delay counts from then.)
    loop {
        child.send_line("phase");
        let line = child.expect_line("phase ");
        if line == "phase Announced requested false" {
            break;
        }
        assert_eq!(line, "phase Running requested false", "never Announced");
    }
    let woken = child.expect_line("woken ");
    assert!(
        sent.elapsed() >= delay,
        "the waiter woke {:?} after the signal, before the delay",
        sent.elapsed()
    );
    assert_eq!(woken, "woken Signal(15) phase Draining");
    child.send_line("phase");
    child.expect_line("phase Draining requested true");
    child.send_line("return");
    let out = child.finish();
    assert_eq!(out.starting_with("hook"), ["hook phase Ending"], "{out}");
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn sigint_and_request_shutdown_skip_the_delay() {
    // A delay far beyond the watchdog: a waiter that wakes at all was not delayed.
    let mut child = phases(&["--pre-drain", "3600000"]);
    child.signal(libc::SIGINT);
    child.expect_line("woken Signal(2) phase Draining");
    child.send_line("return");
    child.finish().assert_signalled(libc::SIGINT);

    let mut child = phases(&["--pre-drain", "3600000"]);
    child.send_line("request");
    child.expect_line("woken Requested(0) phase Draining");
    child.send_line("return");
    child.finish().assert_code(0);

    // During the delay, request_shutdown ends it: the waiter wakes with the first reason.
    let mut child = phases(&["--pre-drain", "3600000"]);
    child.signal(libc::SIGTERM);
    loop {
        child.send_line("phase");
        if child.expect_line("phase ") == "phase Announced requested false" {
            break;
        }
    }
    child.send_line("request");
    child.expect_line("woken Signal(15) phase Draining");
    child.send_line("return");
    child.finish().assert_signalled(libc::SIGTERM);
}

#[test]
fn the_grace_period_counts_from_the_signal_not_from_the_end_of_the_delay() {
    // The delay would outlast the watchdog; the grace period, from the signal, ends it all.
    let child = phases(&["--pre-drain", "3600000", "--grace", "300"]);
    child.signal(libc::SIGTERM);
    let out = child.finish();
    assert_eq!(out.starting_with("hook"), ["hook phase Ending"], "{out}");
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn exit_mode_ignores_the_delay() {
    let mut child = Child::spawn(bin!("shutdown"), &["phases", "--pre-drain", "3600000"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish();
    assert_eq!(out.starting_with("hook"), ["hook phase Ending"], "{out}");
    out.assert_signalled(libc::SIGTERM);
}
