//! A signal handler that the program installs after safe-exit's owns its signal: the signal
//! runs that handler only; the process does not die and the hooks do not run until the
//! process really ends. One installed later through `signal-hook-registry` does not take the
//! signal over.

use safe_exit_tests::{bin, Child};

/// Sends `sig` `times` times to a child set up by `edges own-handler KIND`, waiting each time
/// for the line `handler_line` (so that no two signals merge), then checks that the process is
/// still serving, and that the hook runs exactly once, at the normal exit, with status 0.
fn assert_own_handler_owns_the_signal(kind: &str, sig: i32, handler_line: &str, times: usize) {
    let mut child = Child::spawn(bin!("edges"), &["own-handler", kind]);
    child.ready();
    for i in 0..times {
        if !child.is_running() {
            let out = child.finish();
            panic!(
                "{kind}: the process died ({:?}) after {i} signals {sig} that its own handler \
                 owns\n{out}",
                out.status
            );
        }
        child.signal(sig);
        child.expect_line(handler_line);
    }
    // Still alive and serving: main answers.
    child.send_line("ping");
    child.expect_line("pong");
    child.close_stdin();
    let out = child.finish();
    assert_eq!(
        out.count(handler_line),
        times,
        "{kind}: the program's handler runs for every signal\n{out}"
    );
    assert_eq!(
        out.starting_with("hook"),
        ["hook Exit"],
        "{kind}: the signal must not run the hooks; they run once, at the normal exit\n{out}"
    );
    assert!(
        out.position("main returning") < out.position("hook Exit"),
        "{kind}: the hook runs after main returned\n{out}"
    );
    out.assert_code(0);
}

#[test]
fn a_raw_sigterm_handler_installed_after_safe_exit_owns_sigterm() {
    assert_own_handler_owns_the_signal("sigaction", libc::SIGTERM, "own handler", 20);
}

#[test]
fn a_ctrlc_handler_installed_after_safe_exit_owns_sigint() {
    assert_own_handler_owns_the_signal("ctrlc", libc::SIGINT, "ctrlc handler", 20);
}

/// Installed later through `signal-hook-registry`, the program's action does not take SIGTERM
/// over: the hooks run once and the process ends by SIGTERM. The action runs at most once, and
/// not in every run: the process may end by the signal before the registry has called it, so
/// the test cannot ask for it.
#[test]
fn a_signal_hook_action_installed_after_safe_exit_does_not_take_the_signal_over() {
    let mut child = Child::spawn(bin!("edges"), &["own-handler", "signal-hook"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish();
    out.assert_signalled(libc::SIGTERM);
    assert!(out.count("signal-hook handler") <= 1, "{out}");
    assert_eq!(out.starting_with("hook"), ["hook Signal(15)"], "{out}");
}
