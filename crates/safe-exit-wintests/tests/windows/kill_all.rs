//! safe_kill_all asks every target at once (a windowed one, a console one, a stubborn one)
//! and waits for all of them together.

use std::time::Duration;

use safe_exit::{safe_kill_all, KillOptions, KillOutcome};
use safe_exit_wintests::{
    bin, serial, Child, CREATE_NEW_CONSOLE, DETACHED_PROCESS, STATUS_CONTROL_C_EXIT,
};

#[test]
fn windowed_console_and_stubborn_targets_together() {
    serial(windowed_console_and_stubborn);
}

fn windowed_console_and_stubborn() {
    let mut windowed = Child::spawn(bin!("windowed"), &[], DETACHED_PROCESS);
    let mut console = Child::spawn(bin!("win_hooks"), &["wait", "DEFAULT"], CREATE_NEW_CONSOLE);
    let mut stubborn = Child::spawn(bin!("stubborn"), &[], CREATE_NEW_CONSOLE);
    for child in [&mut windowed, &mut console, &mut stubborn] {
        child.ready();
    }
    let pids = [windowed.pid(), console.pid(), stubborn.pid(), 0x7fff_fff0];
    let opts = KillOptions::new().timeout(Duration::from_secs(2));
    let results: Vec<KillOutcome> = safe_kill_all(&pids, &opts)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results,
        [
            KillOutcome::Exited,
            KillOutcome::Exited,
            KillOutcome::Killed,
            KillOutcome::NotRunning
        ]
    );
    windowed.finish().assert_once("hook ran Some(Exit)");
    let done = console.finish();
    done.assert_once("hook ran Some(Signal(2))");
    done.assert_code(STATUS_CONTROL_C_EXIT);
    stubborn.finish().assert_code(1);
}
