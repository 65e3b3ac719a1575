//! `safe-exit run`: its exit status, usage errors, stdio passed through, the help, and the
//! signal state COMMAND starts with.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use safe_exit_tests::{command, command_in_new_session, output_within, Child};

use crate::common::{lines, run, run_command, TempDir, SAFE_EXIT};

/// The status is COMMAND's: its exit code, or 128 + the signal that ended it. Nothing is
/// written on stdout or stderr.
#[test]
fn the_status_is_the_commands() {
    for (script, status) in [
        ("exit 0", 0),
        ("exit 3", 3),
        ("exit 255", 255),
        ("kill -TERM $$", 143),
        ("kill -INT $$", 130),
        ("kill -KILL $$", 137),
        ("kill -USR1 $$", 128 + libc::SIGUSR1),
    ] {
        let done = run(&["--", "sh", "-c", script]).finish();
        done.assert_code(status);
        assert!(done.stdout.is_empty(), "{script}: {done}");
        assert_eq!(done.stderr, "", "{script}: {done}");
    }
}

/// 127 when COMMAND does not exist, 126 when it cannot be executed: one line on stderr that
/// names it.
#[test]
fn not_found_is_127_and_not_executable_126() {
    let dir = TempDir::new("exec");
    let plain = dir.0.join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&plain, PermissionsExt::from_mode(0o644)).unwrap();
    let plain = plain.to_str().unwrap();
    let missing = dir.0.join("missing");
    let missing = missing.to_str().unwrap();
    let a_dir = dir.0.to_str().unwrap();
    for (command, status, says) in [
        (
            "safe-exit-no-such-command",
            127,
            "No such file or directory",
        ),
        (missing, 127, "No such file or directory"),
        (plain, 126, "Permission denied"),
        (a_dir, 126, "Permission denied"),
    ] {
        let done = run(&["--", command, "arg"]).finish();
        done.assert_code(status);
        let err = lines(&done.stderr);
        assert_eq!(err.len(), 1, "{command}: {done}");
        assert!(
            err[0].starts_with(&format!("safe-exit: cannot run \"{command}\": {says}")),
            "{command}: {done}"
        );
        assert!(done.stdout.is_empty(), "{done}");
    }
}

/// A usage error: status 2 and one line on stderr, before anything is started (COMMAND would
/// create a file).
#[test]
fn usage_errors_are_2_and_one_line_and_start_nothing() {
    let dir = TempDir::new("usage");
    let marker = dir.0.join("started");
    let marker_arg = marker.to_str().unwrap();
    for (options, says) in [
        (&["--grace", "5parsecs"][..], "unknown unit"),
        (&["--grace", ""], "500ms, 4s"),
        (&["--grace", "-1s"], "unexpected argument '-1'"),
        (&["--stop-signal", "FOO"], "expected a signal name"),
        (&["--stop-signal", "STOP"], "SIGSTOP stops a process"),
        (&["--stop-signal", "TSTP"], "stops a process by default"),
        (&["--stop-signal", "CONT"], "SIGCONT continues a process"),
        (&["--stop-signal", "0"], "0 is not a signal"),
        (
            &["--stop-signal", "99"],
            "signals on this platform are 1 to",
        ),
        (
            &["--stop-signal", "RTMIN+99"],
            "is not a real-time signal here",
        ),
        (&["--frobnicate"], "--frobnicate"),
    ] {
        let mut args = vec!["run"];
        args.extend_from_slice(options);
        args.extend(["--", "touch", marker_arg]);
        let out = output_within(Command::new(SAFE_EXIT).args(&args).stdin(Stdio::null()))
            .expect("run safe-exit");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
        assert!(err.starts_with("safe-exit: "), "{err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(
            err.trim_end().ends_with("see safe-exit run --help"),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!marker.exists(), "{args:?}: COMMAND was started");
    }
    for (args, says) in [
        (&["run"][..], "<COMMAND>"),
        (&["run", "--"], "<COMMAND>"),
        (&["run", "--grace", "1s"], "<COMMAND>"),
        (&[], "requires a subcommand"),
        (&["frobnicate"], "unrecognized subcommand"),
    ] {
        let out = output_within(Command::new(SAFE_EXIT).args(args).stdin(Stdio::null()))
            .expect("run safe-exit");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// stdin, stdout and stderr are COMMAND's, untouched; the wrapper adds nothing. Arguments
/// that look like options after COMMAND are COMMAND's.
#[test]
fn stdio_and_arguments_pass_through() {
    let mut child = run(&[
        "sh",
        "-c",
        "read line; echo \"got $line\"; echo \"args $*\"; echo oops >&2; exit 5",
        "sh",
        "--grace",
        "-x",
    ]);
    child.send_line("hello");
    child.close_stdin();
    let done = child.finish();
    done.assert_code(5);
    assert_eq!(done.stdout, ["got hello", "args --grace -x"], "{done}");
    assert_eq!(done.stderr, "oops\n");
}

/// The help says what the defaults are and why, gives the Docker form, and lists the
/// statuses.
#[test]
fn help_has_the_defaults_examples_and_statuses() {
    let out = output_within(Command::new(SAFE_EXIT).args(["run", "--help"])).expect("run");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Usage: safe-exit run [--grace DURATION] [--stop-signal SIGNAL] [--no-group] [--] \
         COMMAND [ARGS]...",
        "[default: 8s]",
        "below the 10 s that docker stop waits",
        "terminationGracePeriodSeconds",
        "ENTRYPOINT [\"safe-exit\", \"run\", \"--\"]",
        "Exit status:",
        "128+N  COMMAND was ended by signal N",
        "126    COMMAND could not be executed",
        "127    COMMAND was not found",
        "2      usage error",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    let out = output_within(Command::new(SAFE_EXIT).arg("--help")).expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("run ") && help.contains("kill "), "{help}");
}

/// `SigBlk` and `SigIgn` of `/proc/self/status`, as COMMAND prints them.
fn signal_state(child: Child) -> (u64, u64) {
    let done = child.finish();
    done.assert_code(0);
    let field = |name: &str| {
        let line = done
            .stdout
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name}\n{done}"));
        u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
    };
    (field("SigBlk:"), field("SigIgn:"))
}

/// A program that prints its own `SigBlk` and `SigIgn` (not a shell: dash changes both when
/// it starts).
const READ_OWN_STATUS: &[&str] = &["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"];

/// Blocks USR1 and TERM, ignores HUP and CHLD (before `exec`).
fn block_some_ignore_some(cmd: &mut Command) {
    // SAFETY: only async-signal-safe calls between fork and exec, on locals.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            Ok(())
        });
    }
}

/// COMMAND starts with the signal mask and the ignored signals the wrapper was started with,
/// exactly as if it had been started without the wrapper, although the wrapper blocks nearly
/// every signal itself: by default none blocked (and the few ignored ones the test runner
/// passes on); a mask and ignored signals (`nohup`) are handed on as they were.
#[test]
fn the_command_gets_the_wrappers_original_signal_state() {
    let bit = |sig: i32| 1u64 << (sig - 1);
    let wrapped = |prepare: fn(&mut Command)| {
        let mut cmd = run_command(&[]);
        cmd.arg("--").args(READ_OWN_STATUS);
        prepare(&mut cmd);
        signal_state(Child::from_command(cmd))
    };
    let direct = |prepare: fn(&mut Command)| {
        let mut cmd = command(READ_OWN_STATUS[0]);
        cmd.args(&READ_OWN_STATUS[1..]);
        prepare(&mut cmd);
        signal_state(Child::from_command(cmd))
    };
    let (blocked, ignored) = wrapped(|_| {});
    assert_eq!((blocked, ignored), direct(|_| {}));
    assert_eq!(blocked, 0);
    assert_eq!(ignored & (bit(libc::SIGHUP) | bit(libc::SIGCHLD)), 0);

    let (blocked, ignored) = wrapped(block_some_ignore_some);
    assert_eq!((blocked, ignored), direct(block_some_ignore_some));
    assert_eq!(blocked, bit(libc::SIGUSR1) | bit(libc::SIGTERM));
    let both = bit(libc::SIGHUP) | bit(libc::SIGCHLD);
    assert_eq!(ignored & both, both);
}

/// The same without a controlling terminal, where COMMAND is started another way
/// (`posix_spawn` with a new session): a mask and ignored signals are handed on as they
/// were, and SIGPIPE, which the wrapper ignores, is not.
#[test]
fn without_a_terminal_the_command_gets_the_original_signal_state_too() {
    let bit = |sig: i32| 1u64 << (sig - 1);
    let state = |cmd: &mut Command| {
        // SAFETY: only async-signal-safe calls between fork and exec, on locals.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR2);
                libc::sigaddset(&mut set, libc::SIGINT);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                Ok(())
            });
        }
    };
    let mut cmd = command_in_new_session(SAFE_EXIT);
    cmd.args(["run", "--"]).args(READ_OWN_STATUS);
    state(&mut cmd);
    let (blocked, ignored) = signal_state(Child::from_command(cmd));
    assert_eq!(blocked, bit(libc::SIGUSR2) | bit(libc::SIGINT));
    assert_eq!(ignored & bit(libc::SIGHUP), bit(libc::SIGHUP));
    assert_eq!(ignored & bit(libc::SIGPIPE), 0);
}

/// Prints `PID PGID SID` of the shell itself (fields 5 and 6 of `/proc/PID/stat`, after the
/// command name).
const PRINT_IDS: &str = "read -r s < /proc/$$/stat; set -- ${s##*) }; echo \"$$ $3 $4\"";

/// With no controlling terminal (a container, a service, CI), COMMAND leads a session of its
/// own as well as a process group, as under dumb-init; signals passed on still reach it.
#[test]
fn without_a_terminal_the_command_leads_a_session_of_its_own() {
    let mut cmd = command_in_new_session(SAFE_EXIT);
    cmd.args(["run", "--", "sh", "-c", PRINT_IDS]);
    let done = Child::from_command(cmd).finish();
    done.assert_code(0);
    let ids: Vec<i32> = done.stdout[0]
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(ids, [ids[0]; 3], "pid, pgid, sid: {done}");

    let mut cmd = command_in_new_session(SAFE_EXIT);
    cmd.args([
        "run",
        "--",
        "sh",
        "-c",
        "trap 'exit 3' HUP; echo ready; while :; do sleep 1; done",
    ]);
    let mut child = Child::from_command(cmd);
    child.expect_line("ready");
    // SAFETY: kill on the wrapper, our child, not reaped yet.
    unsafe { libc::kill(child.pid(), libc::SIGHUP) };
    child.finish().assert_code(3);
}
