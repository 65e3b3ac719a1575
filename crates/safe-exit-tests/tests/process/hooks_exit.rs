//! Normal exit runs the hooks once with the exit code unchanged; an exit during a
//! signal-started run waits for it.

use safe_exit_tests::{bin, Child};

#[test]
fn returning_from_main_runs_the_hook_once_with_code_zero() {
    let mut child = Child::spawn(bin!("hooks"), &["basic", "--then", "return"]);
    child.ready();
    child.close_stdin();
    let out = child.finish();
    out.assert_code(0);
    assert_eq!(out.count("hook Exit"), 1, "{out}");
}

#[test]
fn process_exit_runs_the_hook_once_and_keeps_the_code() {
    let mut child = Child::spawn(bin!("hooks"), &["basic", "--then", "exit3"]);
    child.ready();
    child.close_stdin();
    let out = child.finish();
    out.assert_code(3);
    assert_eq!(out.count("hook Exit"), 1, "{out}");
}

#[test]
fn main_returning_during_a_signal_run_waits_for_the_hook_to_finish() {
    let mut child = Child::spawn(bin!("hooks"), &["slow-return"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("hook start Signal(15)");
    // The hook waits until main has returned and `exit` runs, then works a little longer.
    child.send_line("return");
    let out = child.finish();
    assert_eq!(out.count("main returning"), 1, "{out}");
    assert_eq!(out.count("hook start Signal(15)"), 1, "{out}");
    assert_eq!(out.count("hook sees exit: true"), 1, "{out}");
    assert_eq!(
        out.count("hook end"),
        1,
        "exit must wait for the running hook\n{out}"
    );
    // The run was started by SIGTERM, so the process ends by SIGTERM, whichever thread ends it.
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn no_thread_and_no_handler_before_the_first_register() {
    let mut child = Child::spawn(bin!("hooks"), &["nothing-before-register"]);
    child.ready();
    child.close_stdin();
    let out = child.finish();
    out.assert_code(0);
    assert_eq!(out.count("before: threads=1 sigterm=default"), 1, "{out}");
    assert_eq!(
        out.count("after queries: threads=1 sigterm=default"),
        1,
        "{out}"
    );
    assert_eq!(
        out.count("after register: threads=2 sigterm=handler"),
        1,
        "{out}"
    );
}
