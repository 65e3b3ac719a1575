//! Termination signals run the hook exactly once, and the process then ends by that signal.

use safe_exit_tests::{bin, command, Child, Finished};

fn run_basic(args: &[&str], sig: i32) -> Finished {
    let mut child = Child::spawn(bin!("hooks"), args);
    child.ready();
    child.signal(sig);
    child.finish()
}

#[test]
fn each_default_signal_runs_the_hook_once_and_ends_by_that_signal() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT, libc::SIGHUP] {
        let out = run_basic(&["basic"], sig);
        out.assert_signalled(sig);
        assert_eq!(
            out.count(&format!("hook Signal({sig})")),
            1,
            "signal {sig}\n{out}"
        );
        assert_eq!(out.starting_with("hook").len(), 1, "{out}");
    }
}

#[test]
fn empty_config_leaves_sigquit_and_sighup_to_their_default_action() {
    for sig in [libc::SIGQUIT, libc::SIGHUP] {
        let out = run_basic(&["basic", "--config", "empty"], sig);
        out.assert_signalled(sig);
        assert!(
            out.starting_with("hook").is_empty(),
            "no hook may run for signal {sig} with an empty config\n{out}"
        );
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let out = run_basic(&["basic", "--config", "empty"], sig);
        out.assert_signalled(sig);
        assert_eq!(out.count(&format!("hook Signal({sig})")), 1, "{out}");
    }
}

#[test]
fn config_flags_choose_the_signals() {
    // SIGHUP only: SIGQUIT keeps its default action.
    let out = run_basic(&["basic", "--config", "sighup"], libc::SIGHUP);
    out.assert_signalled(libc::SIGHUP);
    assert_eq!(out.count("hook Signal(1)"), 1, "{out}");
    let out = run_basic(&["basic", "--config", "sighup"], libc::SIGQUIT);
    out.assert_signalled(libc::SIGQUIT);
    assert!(out.starting_with("hook").is_empty(), "{out}");
}

#[test]
fn a_signal_ignored_at_start_stays_ignored() {
    let mut cmd = command(bin!("hooks"));
    cmd.arg("basic");
    // SAFETY: only sigaction (async-signal-safe) between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = Child::from_command(cmd);
    child.ready();
    // SIGHUP is sent (and would be delivered first, being the lower number) before SIGTERM: if
    // it were handled, it would be the reason and the signal the process died of.
    child.signal(libc::SIGHUP);
    child.send_line("ping");
    child.expect_line("pong");
    child.signal(libc::SIGTERM);
    let out = child.finish();
    out.assert_signalled(libc::SIGTERM);
    assert_eq!(out.count("hook Signal(15)"), 1, "{out}");
}

#[test]
fn handlers_installed_earlier_are_chained_not_clobbered() {
    let mut child = Child::spawn(bin!("hooks"), &["chain"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish();
    out.assert_signalled(libc::SIGTERM);
    assert_eq!(
        out.count("prev handler ran"),
        1,
        "the earlier sigaction handler must run\n{out}"
    );
    assert_eq!(
        out.count("hook Signal(15) prev-sigterm=true sigint-flag=false"),
        1,
        "{out}"
    );

    let mut child = Child::spawn(bin!("hooks"), &["chain"]);
    child.ready();
    child.signal(libc::SIGINT);
    let out = child.finish();
    out.assert_signalled(libc::SIGINT);
    assert_eq!(
        out.count("hook Signal(2) prev-sigterm=false sigint-flag=true"),
        1,
        "the signal-hook flag registered earlier must be set\n{out}"
    );
}
