//! `safe-exit run`: its exit status, usage errors, stdio passed through, the help, and the
//! signal state COMMAND starts with.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use safe_exit_tests::{
    command, command_in_new_session, output_within, pidfd_open, pidfd_wait, Child, WATCHDOG,
};

use crate::common::{lines, run, run_command, KillTreeOnDrop, TempDir, SAFE_EXIT};

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

/// A pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors, which nothing else owns.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    }
}

/// Runs `safe-exit run ARGS` with stderr on `stderr` (stdin and stdout /dev/null), and
/// returns its exit code, which must come within the watchdog.
fn code_with_stderr(args: &[&str], stderr: OwnedFd) -> Option<i32> {
    let mut cmd = run_command(args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr));
    let mut child = cmd.spawn().expect("start the wrapper");
    let _tree = KillTreeOnDrop::new(child.id() as i32);
    let pidfd = pidfd_open(child.id() as i32).expect("pidfd");
    assert!(
        pidfd_wait(pidfd.as_fd(), WATCHDOG),
        "the wrapper did not end within {WATCHDOG:?}"
    );
    child.wait().unwrap().code()
}

/// COMMAND for the two tests below: ignores TERM, has the wrapper sent TERM, and sleeps: the
/// wrapper must SIGKILL it after the grace period and say so on stderr.
const STUBBORN: &[&str] = &[
    "--grace",
    "200ms",
    "--",
    "sh",
    "-c",
    "trap '' TERM; kill -TERM $PPID; sleep 5",
];

/// stderr a closed pipe: a message cannot be written, which must not crash the wrapper
/// (Rust ignores SIGPIPE, so the write fails; `eprintln!` would panic, status 101): the
/// statuses stay 127 and 137.
#[test]
fn a_closed_stderr_changes_no_status() {
    let (read, write) = pipe();
    drop(read);
    assert_eq!(
        code_with_stderr(&["--", "safe-exit-no-such-command"], write),
        Some(127)
    );
    let (read, write) = pipe();
    drop(read);
    assert_eq!(code_with_stderr(STUBBORN, write), Some(137));
}

/// stderr a full pipe that nobody reads (a stalled log collector): the message is dropped,
/// and the wrapper still kills, reaps and exits with 137 instead of blocking for good.
#[test]
fn a_full_stderr_does_not_block_the_wrapper() {
    let (read, write) = pipe();
    // SAFETY: fcntl on our own descriptor; write from a local buffer until the pipe is full.
    unsafe {
        let flags = libc::fcntl(write.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(write.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        let page = [b'x'; 4096];
        while libc::write(write.as_raw_fd(), page.as_ptr().cast(), page.len()) > 0 {}
        libc::fcntl(write.as_raw_fd(), libc::F_SETFL, flags);
    }
    assert_eq!(code_with_stderr(STUBBORN, write), Some(137));
    drop(read);
}

/// An executable script without `#!` runs under /bin/sh, as from a shell (glibc's execvp does
/// this itself; the static musl build's does not, so the wrapper does).
#[test]
fn a_script_without_a_shebang_runs_under_sh() {
    let dir = TempDir::new("noshebang");
    let script = dir.0.join("plain-script");
    std::fs::write(&script, "echo \"ran with $1\"\nexit 4\n").unwrap();
    std::fs::set_permissions(&script, PermissionsExt::from_mode(0o755)).unwrap();
    let done = run(&["--", script.to_str().unwrap(), "an-argument"]).finish();
    done.assert_code(4);
    assert_eq!(done.stdout, ["ran with an-argument"], "{done}");
}
