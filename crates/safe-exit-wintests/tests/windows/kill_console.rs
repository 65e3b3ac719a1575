//! safe_kill of a console program without a window sends a console control event to its
//! console: its hooks run on the Ctrl-C, and the caller (this test process) is not signalled
//! and keeps going.

use std::time::Duration;

use safe_exit::{safe_kill, safe_kill_with, KillError, KillOptions, KillOutcome};
use safe_exit_wintests::{
    bin, is_wine, serial, skipped_under_wine, with_causes, Child, CREATE_NEW_CONSOLE,
    STATUS_CONTROL_C_EXIT,
};

#[test]
fn sigterm_sends_ctrl_c_to_a_console_program_without_a_window() {
    serial(|| {
        let mut child = Child::spawn(bin!("win_hooks"), &["wait", "DEFAULT"], CREATE_NEW_CONSOLE);
        child.ready();
        assert_eq!(safe_kill(child.pid()).unwrap(), KillOutcome::Exited);
        let done = child.finish();
        done.assert_once("hook ran Some(Signal(2))");
        done.assert_code(STATUS_CONTROL_C_EXIT);
    });
}

#[test]
fn sigint_sends_ctrl_c_and_the_caller_can_do_it_again() {
    serial(|| {
        for _ in 0..2 {
            let mut child =
                Child::spawn(bin!("win_hooks"), &["wait", "DEFAULT"], CREATE_NEW_CONSOLE);
            child.ready();
            let opts = KillOptions::new().signal(2);
            assert_eq!(
                safe_kill_with(child.pid(), &opts).unwrap(),
                KillOutcome::Exited
            );
            let done = child.finish();
            done.assert_once("hook ran Some(Signal(2))");
            done.assert_code(STATUS_CONTROL_C_EXIT);
        }
    });
}

#[test]
fn sigbreak_sends_ctrl_break() {
    serial(|| {
        let mut child = Child::spawn(bin!("win_hooks"), &["wait", "SIGBREAK"], CREATE_NEW_CONSOLE);
        child.ready();
        let opts = KillOptions::new()
            .signal(21)
            .timeout(Duration::from_secs(10));
        let result = safe_kill_with(child.pid(), &opts);
        if is_wine() {
            // Wine refuses the event; the target was not touched.
            // The OS's reason is a cause in the error's chain of sources.
            assert!(
                matches!(&result, Err(e @ KillError::Io(_)) if with_causes(e).contains("CTRL_BREAK_EVENT")),
                "{result:?}"
            );
            assert!(child.is_running());
            skipped_under_wine(
                "kill_console::sigbreak_sends_ctrl_break",
                "GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT) is not implemented",
            );
            return;
        }
        assert_eq!(result.unwrap(), KillOutcome::Exited);
        let done = child.finish();
        done.assert_once("hook ran Some(Signal(21))");
        done.assert_code(STATUS_CONTROL_C_EXIT);
    });
}
