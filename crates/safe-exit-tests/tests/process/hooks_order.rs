//! LIFO order, unregister, panicking hooks, and re-entrant calls from a hook.

use safe_exit_tests::{bin, Child};

#[test]
fn hooks_run_lifo_without_the_unregistered_one_and_survive_a_panic_on_signal() {
    let mut child = Child::spawn(bin!("hooks"), &["order", "return"]);
    child.expect_line("unregister second: true");
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish();
    assert_eq!(
        out.starting_with("hook"),
        ["hook fourth", "hook third", "hook first"],
        "{out}"
    );
    assert!(
        out.stderr.contains("deliberate panic in a hook"),
        "panic not reported\n{out}"
    );
    assert!(
        out.stderr.contains("safe-exit: an exit hook panicked"),
        "{out}"
    );
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn hooks_run_lifo_and_survive_a_panic_at_normal_exit() {
    let mut child = Child::spawn(bin!("hooks"), &["order", "exit3"]);
    child.ready();
    child.close_stdin();
    let out = child.finish();
    assert_eq!(
        out.starting_with("hook"),
        ["hook fourth", "hook third", "hook first"],
        "{out}"
    );
    assert!(out.stderr.contains("deliberate panic in a hook"), "{out}");
    out.assert_code(3);
}

#[test]
fn register_and_config_inside_a_hook_do_not_deadlock() {
    for how in ["signal", "exit"] {
        let mut child = Child::spawn(bin!("hooks"), &["reenter", "exit3"]);
        child.ready();
        if how == "signal" {
            child.signal(libc::SIGINT);
        } else {
            child.close_stdin();
        }
        let out = child.finish();
        assert_eq!(
            out.stdout[1..],
            [
                "hook outer start",
                "config same: true",
                "config other: error",
                "hook outer end",
                "hook inner"
            ],
            "{how}\n{out}"
        );
        if how == "signal" {
            out.assert_signalled(libc::SIGINT);
        } else {
            out.assert_code(3);
        }
    }
}
