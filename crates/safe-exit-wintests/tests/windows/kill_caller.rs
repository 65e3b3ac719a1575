//! The caller of safe_kill stays safe: it does not receive the Ctrl-C it sends, it is back on
//! its own console afterwards (the same console window, still hidden if it was), and its own
//! hooks still run on its own Ctrl-C. Each caller is a `killer` process with a console of its
//! own; the target is a console program on another console.

use safe_exit_wintests::{
    bin, send_console_event, Child, ConsoleEvent, CREATE_NEW_CONSOLE, DETACHED_PROCESS,
    STATUS_CONTROL_C_EXIT,
};

fn window(line: &str) -> &str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("window="))
        .unwrap_or_default()
}

/// Runs a killer (started with `flags`, with `option`) against a console target, then
/// checks both.
fn caller_survives(flags: u32, option: &str) {
    let mut target = Child::spawn(bin!("win_hooks"), &["wait", "DEFAULT"], CREATE_NEW_CONSOLE);
    target.ready();
    let pid = target.pid().to_string();
    let mut killer = Child::spawn(bin!("killer"), &[&pid, "15", option], flags);
    let before = killer.expect_line("console-before ");
    let outcome = killer.expect_line("outcome ");
    assert_eq!(outcome, "outcome Exited");
    let after = killer.expect_line("console-after ");
    killer.ready();
    let done = target.finish();
    done.assert_once("hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);

    // Back on the same console, as visible as before.
    assert_ne!(window(&before), "0", "{before}");
    assert_eq!(
        before.replace("console-before", ""),
        after.replace("console-after", ""),
        "the caller's console changed"
    );
    // Its own handler still works: Ctrl-C on its console runs its hooks.
    own_ctrl_c_runs_its_hook(killer);
}

/// The safe_kill caller `killer` is still running (its Ctrl-C to the target did not hit it),
/// and a Ctrl-C on its own console runs its hook, once, and ends it by the event.
#[track_caller]
pub(crate) fn own_ctrl_c_runs_its_hook(killer: Child) {
    assert!(killer.is_running(), "the caller was hit by its own Ctrl-C");
    assert!(send_console_event(killer.pid(), ConsoleEvent::CtrlC));
    let done = killer.finish();
    done.assert_once("killer hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}

#[test]
fn a_caller_alone_on_its_console_keeps_it_and_its_handler() {
    caller_survives(CREATE_NEW_CONSOLE, "");
}

#[test]
fn a_caller_sharing_its_console_keeps_it_and_its_handler() {
    caller_survives(CREATE_NEW_CONSOLE, "companion");
}

#[test]
fn a_caller_with_a_hidden_auto_created_console_keeps_it_hidden() {
    caller_survives(DETACHED_PROCESS, "auto-console");
}

#[test]
fn a_target_on_the_callers_own_console_is_refused() {
    let mut killer = Child::spawn(bin!("killer"), &["shared", "15"], CREATE_NEW_CONSOLE);
    let error = killer.expect_line("error ");
    assert!(
        error.starts_with("error CannotAsk ") && error.contains("own console"),
        "{error}"
    );
    killer.ready();
    assert!(send_console_event(killer.pid(), ConsoleEvent::CtrlC));
    let done = killer.finish();
    done.assert_once("killer hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}
