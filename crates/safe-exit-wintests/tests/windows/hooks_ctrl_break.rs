//! Ctrl-Break (SIGBREAK) runs the hooks once when `ConfigFlag::SIGBREAK` is set. Wine 8 does
//! not implement `GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT)`: there the test says it is
//! skipped (and checks that Wine still refuses, so that the skip is removed once it can run).

use safe_exit_wintests::{
    bin, is_wine, send_console_event, skipped_under_wine, Child, ConsoleEvent, CREATE_NEW_CONSOLE,
    STATUS_CONTROL_C_EXIT,
};

#[test]
fn ctrl_break_runs_the_hooks_once() {
    let mut child = Child::spawn(bin!("win_hooks"), &["wait", "SIGBREAK"], CREATE_NEW_CONSOLE);
    child.ready();
    let sent = send_console_event(child.pid(), ConsoleEvent::CtrlBreak);
    if is_wine() && !sent {
        skipped_under_wine(
            "hooks_ctrl_break::ctrl_break_runs_the_hooks_once",
            "GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT) is not implemented",
        );
        return;
    }
    assert!(sent, "GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT) failed");
    let done = child.finish();
    done.assert_once("hook ran Some(Signal(21))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}

#[test]
fn ctrl_break_without_the_flag_takes_the_default_action_without_hooks() {
    let mut child = Child::spawn(bin!("win_hooks"), &["wait", "EMPTY"], CREATE_NEW_CONSOLE);
    child.ready();
    let sent = send_console_event(child.pid(), ConsoleEvent::CtrlBreak);
    if is_wine() && !sent {
        skipped_under_wine(
            "hooks_ctrl_break::ctrl_break_without_the_flag_takes_the_default_action_without_hooks",
            "GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT) is not implemented",
        );
        return;
    }
    assert!(sent, "GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT) failed");
    let done = child.finish();
    assert_eq!(done.count("hook ran Some(Signal(21))"), 0, "{done}");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}
