//! safe_kill of a process with a visible window posts WM_CLOSE: the program closes its window,
//! returns from `main`, and its hooks run. One that ignores WM_CLOSE is terminated at the
//! deadline.

use std::time::Duration;

use safe_exit::{safe_kill, safe_kill_with, KillOptions, KillOutcome};
use safe_exit_wintests::{bin, serial, Child, DETACHED_PROCESS};

#[test]
fn wm_close_ends_a_windowed_program_which_runs_its_hooks() {
    serial(|| {
        // No console at all: WM_CLOSE is the only way to ask it.
        let mut child = Child::spawn(bin!("windowed"), &[], DETACHED_PROCESS);
        child.ready();
        assert_eq!(safe_kill(child.pid()).unwrap(), KillOutcome::Exited);
        let done = child.finish();
        done.assert_once("closed");
        done.assert_once("hook ran Some(Exit)");
        done.assert_code(0);
    });
}

#[test]
fn a_window_that_ignores_wm_close_is_terminated_at_the_deadline() {
    serial(|| {
        let mut child = Child::spawn(bin!("windowed"), &["ignore-close"], DETACHED_PROCESS);
        child.ready();
        let opts = KillOptions::new().timeout(Duration::from_millis(500));
        assert_eq!(
            safe_kill_with(child.pid(), &opts).unwrap(),
            KillOutcome::Killed
        );
        let done = child.finish();
        done.assert_once("ignoring WM_CLOSE");
        assert_eq!(done.count("hook ran Some(Exit)"), 0, "{done}");
        done.assert_code(1);
    });
}
