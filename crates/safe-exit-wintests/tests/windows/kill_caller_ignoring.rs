//! A safe_kill caller that ignores Ctrl-C (`SetConsoleCtrlHandler(NULL, TRUE)`, or started
//! with `CREATE_NEW_PROCESS_GROUP`) never gets its own copy of the Ctrl-C it generates on the
//! target's console: safe_kill must not wait for it, and must not take the caller's next
//! real Ctrl-C for it (which would swallow it: no hook, the caller keeps going).
//!
//! Under Wine `GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0)` reaches only the processes of the
//! caller's own process group on that console (Windows: every process on it), so a caller in
//! a process group of its own cannot reach the target there: that test says it is skipped.

use safe_exit_wintests::{
    bin, is_wine, skipped_under_wine, Child, CREATE_NEW_CONSOLE, CREATE_NEW_PROCESS_GROUP,
    DETACHED_PROCESS, STATUS_CONTROL_C_EXIT,
};

use crate::kill_caller::own_ctrl_c_runs_its_hook;

/// Well under the 2 s that safe_kill waits for a copy that does not come (the target ends
/// within milliseconds of the Ctrl-C).
const QUICK_MS: u64 = 1500;

fn caller_ignoring_ctrl_c(flags: u32, how: &str) {
    let mut target = Child::spawn(bin!("win_hooks"), &["wait", "DEFAULT"], CREATE_NEW_CONSOLE);
    target.ready();
    let pid = target.pid().to_string();
    let mut killer = Child::spawn(bin!("killer_ignoring"), &[&pid, how], flags);
    let outcome = killer.expect_line("outcome ");
    assert_eq!(outcome, "outcome Exited");
    let took: u64 = killer.expect_value("took ");
    killer.ready();
    let done = target.finish();
    done.assert_once("hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
    assert!(
        took < QUICK_MS,
        "safe_kill took {took} ms: it waited for a copy of the event that cannot come"
    );
    // Its next real Ctrl-C is its own: the hook runs, once, and the process ends by it.
    own_ctrl_c_runs_its_hook(killer);
}

#[test]
fn a_caller_with_a_null_handler_neither_waits_nor_swallows_its_next_ctrl_c() {
    caller_ignoring_ctrl_c(CREATE_NEW_CONSOLE, "null-handler");
}

#[test]
fn a_caller_started_in_a_new_process_group_neither_waits_nor_swallows_its_next_ctrl_c() {
    if is_wine() {
        skipped_under_wine(
            "kill_caller_ignoring::a_caller_started_in_a_new_process_group_neither_waits_nor_swallows_its_next_ctrl_c",
            "GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0) reaches only the caller's process group",
        );
        return;
    }
    caller_ignoring_ctrl_c(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP, "group");
}
