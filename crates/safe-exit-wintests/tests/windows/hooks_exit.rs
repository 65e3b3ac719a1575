//! The hooks run once when `main` returns (the exit code is unchanged), and on
//! `request_shutdown(code)`, which ends the process with that code. `std::process::exit` does
//! not run them on Windows (it calls `ExitProcess`, which skips the C runtime's exit handlers;
//! an executable's TLS callbacks, the only code of ours that `ExitProcess` still runs, are
//! called with the other threads already killed and the loader lock held, and Wine does not
//! call them at all): the crate docs say so and name `request_shutdown` instead, and the test
//! below pins that behaviour, so that a change to it is seen.

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

/// The documented gap: `std::process::exit(4)` ends the process with 4 and no hook runs
/// (`request_shutdown(4)` is what runs them, above).
#[test]
fn std_process_exit_skips_the_hooks_as_documented() {
    let done = Child::spawn(bin!("win_hooks"), &["exit", "DEFAULT"], DETACHED_PROCESS).finish();
    done.assert_once("ready");
    assert_eq!(done.count("hook ran Some(Exit)"), 0, "{done}");
    done.assert_code(4);
}
