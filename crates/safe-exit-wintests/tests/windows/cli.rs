//! The `safe-kill` command on Windows, with the same flags as on unix (built for this target
//! by `scripts/test-windows` before the tests run).

use safe_exit_wintests::{
    bin, program, Child, CREATE_NEW_CONSOLE, DETACHED_PROCESS, STATUS_CONTROL_C_EXIT,
};

/// Runs `safe-kill ARGS` and returns its exit code and stdout lines.
fn safe_kill(args: &[&str]) -> (u32, Vec<String>, String) {
    let done = Child::spawn(&program("safe-kill"), args, DETACHED_PROCESS).finish();
    (done.code(), done.stdout, done.stderr)
}

#[test]
fn ends_a_console_program_with_ctrl_c_and_reports_json() {
    let mut target = Child::spawn(bin!("win_hooks"), &["wait", "DEFAULT"], CREATE_NEW_CONSOLE);
    target.ready();
    let pid = target.pid().to_string();
    let (code, out, err) = safe_kill(&["--json", &pid]);
    assert_eq!(code, 0, "{out:?} {err}");
    assert_eq!(out, [format!(r#"{{"pid":{pid},"outcome":"exited"}}"#)]);
    let done = target.finish();
    done.assert_once("hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
}

#[test]
fn ends_a_windowed_program_and_forces_a_stubborn_one_with_one_deadline() {
    let mut windowed = Child::spawn(bin!("windowed"), &[], DETACHED_PROCESS);
    let mut stubborn = Child::spawn(bin!("stubborn"), &[], CREATE_NEW_CONSOLE);
    windowed.ready();
    stubborn.ready();
    let (w, s) = (windowed.pid().to_string(), stubborn.pid().to_string());
    let (code, out, err) = safe_kill(&["-s", "TERM", "-t", "500ms", "--json", &w, &s]);
    assert_eq!(code, 0, "{out:?} {err}");
    assert_eq!(
        out,
        [
            format!(r#"{{"pid":{w},"outcome":"exited"}}"#),
            format!(r#"{{"pid":{s},"outcome":"killed"}}"#),
        ]
    );
    windowed.finish().assert_once("hook ran Some(Exit)");
    stubborn.finish().assert_code(1);
}

#[test]
fn no_force_leaves_it_running_and_exits_1() {
    let mut stubborn = Child::spawn(bin!("stubborn"), &[], CREATE_NEW_CONSOLE);
    stubborn.ready();
    let pid = stubborn.pid().to_string();
    let (code, out, err) = safe_kill(&["-s", "INT", "-t", "200ms", "--no-force", &pid]);
    assert_eq!(code, 1, "{out:?} {err}");
    assert!(stubborn.is_running());
    let (code, out, err) = safe_kill(&["-s", "KILL", &pid]);
    assert_eq!(code, 0, "{out:?} {err}");
    stubborn.finish().assert_code(1);
}

#[test]
fn bad_pids_are_refused_with_one_line() {
    let (code, out, err) = safe_kill(&["0"]);
    assert_eq!(code, 2, "{out:?} {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("pid 0"), "{err}");
}
