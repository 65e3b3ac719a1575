//! Ctrl-C through the console runs the hooks once, on the console-control thread, and the
//! process then ends with STATUS_CONTROL_C_EXIT, which the parent reads.

use safe_exit_wintests::{
    bin, send_console_event, Child, ConsoleEvent, CREATE_NEW_CONSOLE, STATUS_CONTROL_C_EXIT,
};

#[test]
fn ctrl_c_runs_the_hooks_once_and_ends_with_status_control_c_exit() {
    let mut child = Child::spawn(bin!("win_hooks"), &["wait", "DEFAULT"], CREATE_NEW_CONSOLE);
    child.ready();
    assert!(send_console_event(child.pid(), ConsoleEvent::CtrlC));
    let done = child.finish();
    done.assert_once("hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}

#[test]
fn ctrl_c_is_handled_with_an_empty_configuration_too() {
    let mut child = Child::spawn(bin!("win_hooks"), &["wait", "EMPTY"], CREATE_NEW_CONSOLE);
    child.ready();
    assert!(send_console_event(child.pid(), ConsoleEvent::CtrlC));
    let done = child.finish();
    done.assert_once("hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}

#[test]
fn a_slow_hook_runs_to_completion_before_the_process_ends() {
    let mut child = Child::spawn(
        bin!("win_hooks"),
        &["wait-slow", "DEFAULT"],
        CREATE_NEW_CONSOLE,
    );
    child.ready();
    assert!(send_console_event(child.pid(), ConsoleEvent::CtrlC));
    let done = child.finish();
    done.assert_once("hook ran Some(Signal(2))");
    done.assert_once("hook done");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}
