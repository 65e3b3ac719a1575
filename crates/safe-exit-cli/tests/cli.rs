//! The `safe-kill` command, run for real against real processes.
//!
//! The targets are `sleep` and `sh`: a process started with every signal blocked records in
//! `/proc/PID/status` every signal it is sent, which shows that bad input signals nothing.
#![cfg(target_os = "linux")]

use std::process::{Command, Output, Stdio};

use safe_exit_tests::{
    block_all_signals, command, command_in_pid_namespace, is_gone, pending_signals, Child,
};

const SAFE_KILL: &str = env!("CARGO_BIN_EXE_safe-kill");

/// Runs safe-kill to completion (it has its own deadlines; the harness's watchdog guards
/// the targets).
fn safe_kill(args: &[&str]) -> Output {
    let out = Command::new(SAFE_KILL)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run safe-kill");
    eprintln!(
        "safe-kill {args:?} -> {:?}\nstdout: {}stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `sleep 1000` with every signal blocked: it records what it is sent.
fn recorder() -> Child {
    let mut cmd = command("sleep");
    cmd.arg("1000");
    block_all_signals(&mut cmd);
    Child::from_command(cmd)
}

/// `sh -c SCRIPT`, waiting for its `ready` line.
fn shell(script: &str) -> Child {
    let mut child = Child::spawn("/bin/sh", &["-c", script]);
    child.ready();
    child
}

/// Bad input: exit 2, exactly one line on stderr, nothing on stdout, nothing signalled.
#[track_caller]
fn assert_rejected(args: &[&str], says: &str) {
    let target = recorder();
    let pid = target.pid().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.push(&pid);
    let out = safe_kill(&all);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
    assert!(err.starts_with("safe-kill: "), "{err}");
    assert!(err.contains(says), "{args:?}: {err}");
    assert_eq!(stdout(&out), "", "{args:?}");
    assert_eq!(
        pending_signals(target.pid()),
        0,
        "{args:?}: the target was signalled"
    );
    assert!(target.is_running());
}

#[test]
fn bad_pids_signal_nothing() {
    assert_rejected(&["0"], "refusing to signal pid 0");
    assert_rejected(&["abc"], "expected a process id");
    assert_rejected(&["-1"], "negative numbers name process groups");
    assert_rejected(&["99999999999"], "too large for a process id");
    assert_rejected(&["2147483648"], "too large for a pid_t");
}

#[test]
fn bad_signals_signal_nothing() {
    assert_rejected(&["-s", "FOO"], "expected a signal name");
    assert_rejected(&["-s", "0"], "refusing to send signal 0");
    assert_rejected(&["-s", "STOP"], "SIGSTOP stops a process");
    assert_rejected(&["-s", "99"], "signals on this platform are 1 to");
}

#[test]
fn bad_durations_signal_nothing() {
    assert_rejected(&["-t", "5parsecs"], "unknown unit");
    assert_rejected(&["-t", "-1s"], "500ms, 4s");
    assert_rejected(&["-t", ""], "500ms, 4s");
}

#[test]
fn bad_options_and_missing_pids_are_one_line() {
    assert_rejected(&["--frobnicate"], "--frobnicate");
    let out = safe_kill(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("<PID>"), "{}", stderr(&out));
}

/// Were 4294967295 passed on as -1, kill(-1) would reach every process: run it in a PID
/// namespace, where it could reach only that namespace.
#[test]
fn minus_one_as_a_u32_is_refused() {
    let Some(mut cmd) = command_in_pid_namespace(SAFE_KILL, &["4294967295"]) else {
        return;
    };
    cmd.stdin(Stdio::null());
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("refusing to signal pid 4294967295: as a pid_t it is -1"),
        "{err}"
    );
}

#[test]
fn help_has_examples_and_exit_codes() {
    let out = safe_kill(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for needle in [
        "Examples:",
        "safe-kill -t 500ms",
        "--no-force",
        "--group",
        "--json",
        "Exit status:",
        "2  bad input",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn a_process_that_exits_on_sigterm() {
    let target = shell("echo ready; exec sleep 1000");
    let pid = target.pid();
    let out = safe_kill(&[&pid.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{pid}: exited after SIGTERM\n"));
    assert_eq!(stderr(&out), "");
    target.finish().assert_signalled(libc::SIGTERM);
}

#[test]
fn signals_by_name_or_number() {
    for (spelling, sig) in [
        ("INT", 2),
        ("sigint", 2),
        ("2", 2),
        ("HUP", 1),
        ("SIGTERM", 15),
        ("term", 15),
    ] {
        let target = shell("echo ready; exec sleep 1000");
        let out = safe_kill(&["-s", spelling, &target.pid().to_string()]);
        assert_eq!(out.status.code(), Some(0), "{spelling}");
        target.finish().assert_signalled(sig);
    }
}

#[test]
fn a_process_ignoring_sigterm_is_killed_after_the_deadline() {
    let target = shell("trap '' TERM; echo ready; exec sleep 1000");
    let pid = target.pid();
    let out = safe_kill(&["-t", "200ms", &pid.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("{pid}: killed with SIGKILL: still running 200ms after SIGTERM\n")
    );
    target.finish().assert_signalled(libc::SIGKILL);
}

#[test]
fn no_force_exits_1_while_still_running() {
    let target = shell("trap '' TERM; echo ready; exec sleep 1000");
    let pid = target.pid();
    let out = safe_kill(&["--no-force", "-t", "100ms", &pid.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with(&format!("{pid}: still running 100ms after SIGTERM")));
    assert!(target.is_running());
}

#[test]
fn several_pids_one_line_each_and_json() {
    let polite = shell("echo ready; exec sleep 1000");
    let stubborn = shell("trap '' TERM; echo ready; exec sleep 1000");
    let gone = shell("echo ready; exec sleep 1000");
    let gone_pid = gone.pid();
    gone.signal(libc::SIGKILL);
    gone.finish();
    let pids = [polite.pid(), stubborn.pid(), gone_pid].map(|p| p.to_string());
    let out = safe_kill(&["--json", "-t", "200ms", &pids[0], &pids[1], &pids[2]]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!(
            "{{\"pid\":{},\"outcome\":\"exited\"}}\n{{\"pid\":{},\"outcome\":\"killed\"}}\n\
             {{\"pid\":{},\"outcome\":\"not-running\"}}\n",
            pids[0], pids[1], pids[2]
        )
    );
    polite.finish().assert_signalled(libc::SIGTERM);
    stubborn.finish().assert_signalled(libc::SIGKILL);
}

#[test]
fn json_reports_errors_too() {
    let target = recorder();
    let out = safe_kill(&["--json", &target.pid().to_string(), "0"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("\"error\":\"not-attempted\""), "{text}");
    assert!(
        lines[1].starts_with("{\"pid\":0,\"error\":\"invalid-pid\",\"message\":\"refusing"),
        "{text}"
    );
    assert_eq!(pending_signals(target.pid()), 0);
}

#[test]
fn group_mode_ends_the_worker_and_its_children() {
    // A shell (leading its own group) with two children in the group.
    let mut worker = Child::spawn(
        "/bin/sh",
        &[
            "-c",
            "sleep 1000 & echo child $!; sleep 1000 & echo child $!; echo ready; wait",
        ],
    );
    let children: Vec<i32> = (0..2)
        .map(|_| {
            worker.expect_line("child ")["child ".len()..]
                .parse()
                .unwrap()
        })
        .collect();
    worker.ready();
    let pid = worker.pid();
    let out = safe_kill(&["--group", &pid.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("{pid} (process group): exited after SIGTERM\n")
    );
    for c in children {
        assert!(is_gone(c), "child {c} is still there");
    }
    worker.finish().assert_signalled(libc::SIGTERM);
}

#[test]
fn permission_denied_is_an_error_and_the_target_is_untouched() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (to run safe-kill as the user nobody)");
        return;
    }
    let target = recorder();
    let mut cmd = Command::new(SAFE_KILL);
    cmd.arg(target.pid().to_string());
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    std::os::unix::process::CommandExt::gid(&mut cmd, 65534);
    let out = cmd.output().expect("run safe-kill as nobody");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("not allowed to signal pid {}", target.pid())),
        "{err}"
    );
    assert_eq!(pending_signals(target.pid()), 0);
}
