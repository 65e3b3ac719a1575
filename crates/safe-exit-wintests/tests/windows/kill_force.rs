//! A process that ignores every request is terminated at the deadline (`TerminateProcess`,
//! exit code 1), or left running with `force_kill(false)`; SIGKILL terminates at once.

use std::time::Duration;

use safe_exit::{safe_kill_with, KillOptions, KillOutcome};
use safe_exit_wintests::{bin, serial, Child, CREATE_NEW_CONSOLE};

#[test]
fn a_process_that_ignores_ctrl_c_is_terminated_at_the_deadline() {
    serial(|| {
        let mut child = Child::spawn(bin!("stubborn"), &[], CREATE_NEW_CONSOLE);
        child.ready();
        let opts = KillOptions::new().timeout(Duration::from_millis(300));
        assert_eq!(
            safe_kill_with(child.pid(), &opts).unwrap(),
            KillOutcome::Killed
        );
        let done = child.finish();
        done.assert_once("ignoring console event 0");
        done.assert_code(1);
    });
}

#[test]
fn without_force_it_is_left_running_and_sigkill_ends_it() {
    serial(|| {
        let mut child = Child::spawn(bin!("stubborn"), &[], CREATE_NEW_CONSOLE);
        child.ready();
        let polite = KillOptions::new()
            .timeout(Duration::from_millis(200))
            .force_kill(false);
        assert_eq!(
            safe_kill_with(child.pid(), &polite).unwrap(),
            KillOutcome::StillRunning
        );
        assert!(child.is_running());
        let kill = KillOptions::new().signal(9);
        assert_eq!(
            safe_kill_with(child.pid(), &kill).unwrap(),
            KillOutcome::Exited
        );
        child.finish().assert_code(1);
    });
}
