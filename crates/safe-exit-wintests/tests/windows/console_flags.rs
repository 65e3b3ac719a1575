//! AUTO_CREATE_CONSOLE gives a process without a console a hidden one (through which it then
//! receives Ctrl-C), keeping its redirected output; FORCE_HIDE_CONSOLE hides a shown one.

use safe_exit_wintests::{
    bin, send_console_event, Child, ConsoleEvent, CREATE_NEW_CONSOLE, DETACHED_PROCESS,
    STATUS_CONTROL_C_EXIT,
};

#[test]
fn auto_create_console_allocates_a_hidden_console_that_receives_ctrl_c() {
    let mut child = Child::spawn(
        bin!("win_hooks"),
        &["wait", "DEFAULT+AUTO_CREATE_CONSOLE"],
        DETACHED_PROCESS,
    );
    let before = child.expect_line("before ");
    assert!(before.starts_with("before console=0 "), "{before}");
    // Still on our pipe: AllocConsole did not take the redirected stdout.
    let after = child.expect_line("after ");
    assert!(after.starts_with("after console=1 visible=0 "), "{after}");
    child.ready();
    assert!(send_console_event(child.pid(), ConsoleEvent::CtrlC));
    let done = child.finish();
    done.assert_once("hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}

#[test]
fn without_auto_create_console_a_detached_process_stays_without_one() {
    let mut child = Child::spawn(bin!("win_hooks"), &["return", "DEFAULT"], DETACHED_PROCESS);
    let after = child.expect_line("after ");
    assert!(after.starts_with("after console=0 "), "{after}");
    child.finish().assert_code(7);
}

#[test]
fn force_hide_console_hides_the_console_window() {
    let mut child = Child::spawn(
        bin!("win_hooks"),
        &["return", "DEFAULT+FORCE_HIDE_CONSOLE"],
        CREATE_NEW_CONSOLE,
    );
    let before = child.expect_line("before ");
    assert!(
        before.starts_with("before console=1 visible=1 "),
        "{before}"
    );
    let after = child.expect_line("after ");
    assert!(after.starts_with("after console=1 visible=0 "), "{after}");
    child.finish().assert_code(7);
}
