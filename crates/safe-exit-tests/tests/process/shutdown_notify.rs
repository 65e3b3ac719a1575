//! Notify mode: a termination signal asks the program to drain and return from `main`.

use std::time::{Duration, Instant};

use safe_exit_tests::{bin, Child};

fn notify(extra: &[&str]) -> Child {
    let mut args = vec!["notify", "--notify"];
    args.extend_from_slice(extra);
    let mut child = Child::spawn(bin!("shutdown"), &args);
    child.expect_line("before: None");
    child.expect_line("requested before: false");
    child.ready();
    child
}

#[test]
fn a_signal_wakes_the_waiter_and_the_hooks_run_when_main_returns() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        let mut child = notify(&[]);
        child.signal(sig);
        child.expect_line(&format!("requested Signal({sig})"));
        child.expect_line("requested after: true");
        child.expect_line(&format!("exit_reason while draining: Some(Signal({sig}))"));
        // Draining: the process is still alive and no hook has run.
        assert!(
            child.is_running(),
            "notify mode must not end the process on the signal"
        );
        child.send_line("return");
        let out = child.finish();
        let hook = format!("hook Signal({sig})");
        assert_eq!(out.starting_with("hook"), [&hook], "{out}");
        assert!(
            out.position("main returning") < out.position(&hook),
            "hooks run at exit, after main returned\n{out}"
        );
        // By default the process still ends by the signal that asked it to stop.
        out.assert_signalled(sig);
    }
}

#[test]
fn keep_code_lets_main_choose_the_exit_status() {
    // Two codes, so that neither "always 0" nor "always the same" passes.
    for code in [3, 0] {
        let mut child = notify(&["--keep-code"]);
        child.signal(libc::SIGTERM);
        child.expect_line("requested Signal(15)");
        child.send_line(&format!("return {code}"));
        let out = child.finish();
        out.assert_code(code);
        assert_eq!(out.count("hook Signal(15)"), 1, "{out}");
    }
}

#[test]
fn the_grace_period_runs_the_hooks_and_ends_the_process_by_the_signal() {
    let mut child = notify(&["--grace", "300", "--never-return"]);
    child.signal(libc::SIGTERM);
    let signalled = Instant::now();
    child.expect_line("requested Signal(15)");
    let out = child.finish();
    // 300 ms asked; a bound ten times that still fails a grace period many times too long.
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a 300 ms grace period took {took:?}\n{out}"
    );
    assert_eq!(out.count("hook Signal(15)"), 1, "{out}");
    assert!(
        out.stderr.contains("grace period"),
        "stderr says why\n{out}"
    );
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn a_second_signal_is_ignored_by_default_and_forces_exit_when_asked() {
    // Default: the duplicate changes nothing; the drain completes.
    let mut child = notify(&[]);
    child.signal(libc::SIGTERM);
    child.expect_line("requested Signal(15)");
    child.signal(libc::SIGTERM);
    child.signal(libc::SIGINT);
    child.send_line("return");
    let out = child.finish();
    assert_eq!(out.count("main returning"), 1, "{out}");
    assert_eq!(out.count("hook Signal(15)"), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);

    // Opt-in: the second signal ends the process at once, by that signal, without hooks.
    let mut child = notify(&["--force"]);
    child.signal(libc::SIGTERM);
    child.expect_line("requested Signal(15)");
    child.signal(libc::SIGINT);
    let out = child.finish();
    out.assert_signalled(libc::SIGINT);
    assert_eq!(out.count("main returning"), 0, "{out}");
    assert!(out.starting_with("hook").is_empty(), "{out}");
}

#[test]
fn the_future_completes_under_a_plain_executor_on_every_task() {
    let mut child = Child::spawn(bin!("shutdown"), &["future", "--notify"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish();
    assert_eq!(out.count("main future: Signal(15)"), 1, "{out}");
    assert_eq!(out.count("thread future: Signal(15)"), 1, "{out}");
    assert_eq!(out.count("late future: Signal(15)"), 1, "{out}");
    assert_eq!(out.count("hook Signal(15)"), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn notify_mode_works_without_any_hook() {
    let mut child = Child::spawn(bin!("shutdown"), &["no-hooks", "--notify"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish();
    assert_eq!(out.count("requested Signal(15)"), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);
}
