//! Closing the console window (CTRL_CLOSE_EVENT) runs the hooks to completion on the
//! console-control thread before the process ends. Wine's console host ends the processes of
//! a closed console without calling their handlers, and `GenerateConsoleCtrlEvent` cannot
//! produce the event: under Wine the test says it is skipped.

use safe_exit_wintests::{
    bin, is_wine, skipped_under_wine, Child, CREATE_NEW_CONSOLE, STATUS_CONTROL_C_EXIT,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{PostMessageW, WM_CLOSE};

#[test]
fn closing_the_console_window_runs_a_slow_hook_to_completion() {
    if is_wine() {
        skipped_under_wine(
            "hooks_close::closing_the_console_window_runs_a_slow_hook_to_completion",
            "CTRL_CLOSE_EVENT is never delivered to handlers",
        );
        return;
    }
    let mut child = Child::spawn(
        bin!("win_hooks"),
        &["wait-slow", "DEFAULT"],
        CREATE_NEW_CONSOLE,
    );
    let line = child.expect_line("after ");
    child.ready();
    let window: usize = line
        .rsplit("window=")
        .next()
        .and_then(|w| w.parse().ok())
        .expect("the child's console window");
    assert_ne!(window, 0, "the child has no console window: {line}");
    // SAFETY: posting a message without pointers to a window handle.
    let posted = unsafe { PostMessageW(window as _, WM_CLOSE, 0, 0) };
    assert_ne!(
        posted,
        0,
        "PostMessageW: {}",
        std::io::Error::last_os_error()
    );
    let done = child.finish();
    done.assert_once("hook ran Some(ConsoleEvent(2))");
    done.assert_once("hook done");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}
