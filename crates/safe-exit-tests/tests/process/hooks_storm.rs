//! Hundreds of signals back to back: the hook runs once and is never cut short.

use safe_exit_tests::{bin, Child};

#[test]
fn a_storm_during_a_slow_hook_neither_reruns_nor_interrupts_it() {
    let mut child = Child::spawn(bin!("hooks"), &["slow-gated"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("hook start Signal(15)");
    for i in 0..500 {
        let sig = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT][i % 4];
        child.signal(sig);
    }
    // The hook is still waiting for its `go`: it has not been cut short.
    assert!(
        child.is_running(),
        "the storm ended the process under a running hook"
    );
    child.send_line("go");
    let out = child.finish();
    assert_eq!(out.starting_with("hook start").len(), 1, "{out}");
    assert_eq!(out.starting_with("hook end").len(), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn a_storm_before_the_hook_starts_runs_it_once() {
    let mut child = Child::spawn(bin!("hooks"), &["slow-gated"]);
    child.ready();
    for _ in 0..1000 {
        child.signal(libc::SIGTERM);
    }
    child.expect_line("hook start Signal(15)");
    child.send_line("go");
    let out = child.finish();
    assert_eq!(out.starting_with("hook start").len(), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);
}
