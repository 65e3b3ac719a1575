//! The hooks run once when `main` returns (the exit code is unchanged), and on
//! `request_shutdown(code)`, which ends the process with that code.

use safe_exit_wintests::{bin, Child, CREATE_NEW_CONSOLE, DETACHED_PROCESS};

#[test]
fn returning_from_main_runs_the_hooks_once_and_keeps_the_exit_code() {
    for flags in [CREATE_NEW_CONSOLE, DETACHED_PROCESS] {
        let done = Child::spawn(bin!("win_hooks"), &["return", "DEFAULT"], flags).finish();
        done.assert_once("hook ran Some(Exit)");
        done.assert_code(7);
    }
}

#[test]
fn request_shutdown_runs_the_hooks_and_ends_with_its_code() {
    let done = Child::spawn(bin!("win_hooks"), &["request", "DEFAULT"], DETACHED_PROCESS).finish();
    done.assert_once("hook ran Some(Requested(5))");
    assert_eq!(done.count("request_shutdown returned"), 0, "{done}");
    done.assert_code(5);
}
