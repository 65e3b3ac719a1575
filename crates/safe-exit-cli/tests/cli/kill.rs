//! The `safe-kill` command (and `safe-exit kill`, the same), run for real against real
//! processes.
//!
//! The targets are `sleep` and `sh`: a process started with every signal blocked records in
//! `/proc/PID/status` every signal it is sent, which shows that bad input signals nothing.

use std::process::{Command, Output, Stdio};

use safe_exit_tests::{
    block_all_signals, command, command_in_pid_namespace, is_gone, output_within, pending_signals,
    pidfd_open, Child, KillOnDrop,
};

use crate::common::{wait_pending, SAFE_EXIT};

const SAFE_KILL: &str = env!("CARGO_BIN_EXE_safe-kill");

/// Runs safe-kill to completion (it has its own deadlines; the harness's watchdog guards
/// the targets).
fn safe_kill(args: &[&str]) -> Output {
    let out = output_within(Command::new(SAFE_KILL).args(args).stdin(Stdio::null()))
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
    for stop in ["TSTP", "TTIN", "TTOU"] {
        assert_rejected(
            &["-s", stop],
            "stops a process by default instead of ending it",
        );
    }
    assert_rejected(&["-s", "99"], "signals on this platform are 1 to");
}

/// Any signal spec, however out of range, is one line on stderr and exit 2, never a panic (a
/// debug build used to overflow on `RTMIN+2147483647`). 0 is refused too: it only tests
/// whether a process exists, it cannot ask one to end.
#[test]
fn out_of_range_signal_specs_are_one_line_errors() {
    for (spec, says) in [
        (
            "RTMIN+2147483647",
            "is not a real-time signal here: they are RTMIN (",
        ),
        ("RTMAX-2147483648", "is not a real-time signal here"),
        ("RTMIN-1", "is not a real-time signal here"),
        ("RTMAX+1", "is not a real-time signal here"),
        ("99999999999", "99999999999 is not a signal number"),
        ("-99999999999", "-99999999999 is not a signal number"),
        ("2147483647", "signals on this platform are 1 to"),
        (
            "-1",
            "refusing to send signal -1: signals on this platform are 1 to",
        ),
        ("0", "refusing to send signal 0: 0 is not a signal"),
    ] {
        assert_rejected(&["-s", spec], says);
    }
}

#[test]
fn bad_durations_signal_nothing() {
    assert_rejected(&["-t", "5parsecs"], "unknown unit");
    assert_rejected(&["-t", "-1s"], "500ms, 4s");
    assert_rejected(&["-t", ""], "500ms, 4s");
    assert_rejected(&["-t", "inf"], "500ms, 4s");
    assert_rejected(&["-t", "NaN"], "500ms, 4s");
    assert_rejected(&["-t", "1e3s"], "unknown unit");
}

#[test]
fn bad_options_and_missing_pids_are_one_line() {
    assert_rejected(&["--frobnicate"], "--frobnicate");
    let out = safe_kill(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("<PID>"), "{}", stderr(&out));
}

/// Several bad values at once: pids that are read but refused get one line each, a refused
/// signal one line for all its pids (with `--json`, each pid's object instead), and a value
/// that cannot be read is the only line. Nothing is signalled.
#[test]
fn refused_pids_one_line_each_a_refused_signal_once_an_unreadable_value_alone() {
    let target = recorder();
    let other = recorder();
    let pid = target.pid().to_string();
    let other_pid = other.pid().to_string();

    let out = safe_kill(&["0", "2147483648", &pid]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].contains("refusing to signal pid 0"), "{err}");
    assert!(
        lines[1].contains("refusing to signal pid 2147483648"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");

    let out = safe_kill(&["-s", "STOP", &pid, &other_pid]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("SIGSTOP stops a process"), "{err}");

    let out = safe_kill(&["--json", "-s", "STOP", &pid, &other_pid]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    for (line, p) in text.lines().zip([&pid, &other_pid]) {
        assert!(
            line.starts_with(&format!("{{\"pid\":{p},\"error\":\"invalid_signal\"")),
            "{text}"
        );
    }
    assert_eq!(stderr(&out), "");

    let out = safe_kill(&["-t", "5parsecs", "0", "abc", &pid]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("5parsecs"), "{err}");

    for t in [&target, &other] {
        assert_eq!(pending_signals(t.pid()), 0, "a target was signalled");
        assert!(t.is_running());
    }
}

/// Were 4294967295 passed on as -1, kill(-1) would reach every process: run it in a PID
/// namespace, where it could reach only that namespace.
#[test]
fn minus_one_as_a_u32_is_refused() {
    let Some(mut cmd) = command_in_pid_namespace(SAFE_KILL, &["4294967295"]) else {
        return;
    };
    cmd.stdin(Stdio::null());
    let out = output_within(&mut cmd).expect("run");
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

/// A timeout too long to be a deadline means no deadline: wait until the process exits. It
/// used to panic (overflow when adding the timeout to the clock) right after SIGTERM had
/// been sent, leaving the caller without an outcome.
#[test]
fn a_timeout_too_long_for_a_deadline_waits_for_the_exit() {
    let target = shell("echo ready; exec sleep 1000");
    let pid = target.pid();
    let mut cmd = command(SAFE_KILL);
    cmd.args(["-t", "10000000000000000000s", &pid.to_string()]);
    let done = Child::from_command(cmd).finish();
    done.assert_code(0);
    assert_eq!(
        done.stdout,
        [format!("{pid}: exited after SIGTERM")],
        "{done}"
    );
    assert_eq!(done.stderr, "", "{done}");
    target.finish().assert_signalled(libc::SIGTERM);
}

/// Durations beyond what a `Duration` (or the clock) can hold are well-formed too: no
/// deadline, not "out of range" (u64::MAX seconds, and hours whose seconds only a rounding
/// float pushed past it, used to be refused).
#[test]
fn durations_beyond_any_deadline_mean_none() {
    for spec in [
        "18446744073709551615s",
        "5124095576030431h",
        "18446744073709551616s",
        "99999999999999999999999999999999999999999999h",
    ] {
        let target = shell("echo ready; exec sleep 1000");
        let pid = target.pid();
        let mut cmd = command(SAFE_KILL);
        cmd.args(["-t", spec, &pid.to_string()]);
        let done = Child::from_command(cmd).finish();
        done.assert_code(0);
        assert_eq!(
            done.stdout,
            [format!("{pid}: exited after SIGTERM")],
            "{spec}: {done}"
        );
        assert_eq!(done.stderr, "", "{spec}: {done}");
        target.finish().assert_signalled(libc::SIGTERM);
    }
}

/// The same with --no-force on a process that ignores SIGTERM: safe-kill keeps waiting (it is
/// still running well after the signal arrived), and reports `exited` once the process ends
/// for another reason (here our own SIGKILL).
#[test]
fn no_deadline_and_no_force_waits_until_the_process_ends() {
    // Blocks every signal: SIGTERM stays pending (where it shows), and it survives it.
    let target = recorder();
    let pid = target.pid();
    let mut cmd = command(SAFE_KILL);
    cmd.args([
        "--no-force",
        "-t",
        "10000000000000000000s",
        &pid.to_string(),
    ]);
    let caller = Child::from_command(cmd);
    wait_pending(pid, libc::SIGTERM);
    // A bounded check that safe-kill does *not* end (a pidfd poll that returns as soon as it
    // does), not a sleep in place of a ready line.
    let fd = pidfd_open(caller.pid()).expect("pidfd_open");
    let mut pfd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, 500) };
    assert_eq!(rc, 0, "safe-kill ended although there is no deadline");
    assert!(target.is_running());
    target.signal(libc::SIGKILL);
    let done = caller.finish();
    done.assert_code(0);
    assert_eq!(
        done.stdout,
        [format!("{pid}: exited after SIGTERM")],
        "{done}"
    );
    target.finish().assert_signalled(libc::SIGKILL);
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
             {{\"pid\":{},\"outcome\":\"not_running\"}}\n",
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
    assert!(lines[0].contains("\"error\":\"not_attempted\""), "{text}");
    assert!(
        lines[1].starts_with("{\"pid\":0,\"error\":\"invalid_pid\",\"message\":\"refusing"),
        "{text}"
    );
    // Only there: nothing on stderr to parse around.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
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

/// `--group` on a group whose leader has exited and been reaped while its members (ignoring
/// SIGTERM) live on: the group is ended, the members killed at the deadline. (It used to
/// say "not running" and leave them.) The leader is a shell in a new session (`setsid`),
/// reaped by the shell that started it before that one says `ready`.
#[test]
fn group_mode_ends_a_group_whose_leader_was_reaped() {
    let mut parent = Child::spawn(
        "/bin/sh",
        &[
            "-c",
            "setsid sh -c 'trap \"\" TERM; sleep 1000 >/dev/null & echo child $!; \
             sleep 1000 >/dev/null & echo child $!; echo leader $$'; echo ready; exec sleep 1000",
        ],
    );
    let members: Vec<i32> = (0..2)
        .map(|_| {
            parent.expect_line("child ")["child ".len()..]
                .parse()
                .unwrap()
        })
        .collect();
    let _guard = KillOnDrop::new(&members);
    let leader: i32 = parent.expect_line("leader ")["leader ".len()..]
        .parse()
        .unwrap();
    parent.ready();
    let reaped = pidfd_open(leader).unwrap_err();
    assert_eq!(reaped.raw_os_error(), Some(libc::ESRCH), "{reaped}");
    for m in &members {
        // SAFETY: getpgid on a positive pid only reads.
        assert_eq!(unsafe { libc::getpgid(*m) }, leader, "member {m}");
    }
    let out = safe_kill(&["--group", "-t", "200ms", &leader.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!(
            "{leader} (process group): killed with SIGKILL: still running 200ms after SIGTERM\n"
        )
    );
    for m in &members {
        assert!(is_gone(*m), "member {m} is still there");
    }
    parent.signal(libc::SIGTERM);
    parent.finish().assert_signalled(libc::SIGTERM);
}

/// A fresh directory that every user may enter, holding a copy of safe-kill that every user
/// may run, removed when dropped. The build directory may be out of another user's reach (a
/// checkout inside a `mktemp -d` folder, mode 0700), so the copy is what runs as `nobody`.
struct WorldRunnable {
    dir: std::path::PathBuf,
    exe: std::path::PathBuf,
}

impl WorldRunnable {
    /// Copies safe-kill into a new 0755 directory under the first of the usual temporary
    /// directories from which `nobody` can really run it (every ancestor must be searchable
    /// and the file system must allow exec: checked by running `--version` as `nobody`).
    fn new() -> WorldRunnable {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let mut tried = Vec::new();
        for base in [
            std::env::temp_dir(),
            "/tmp".into(),
            "/var/tmp".into(),
            "/dev/shm".into(),
        ] {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let dir = base.join(format!(
                "safe-kill-as-nobody-{}-{nanos}",
                std::process::id()
            ));
            // A new directory (`create` fails if the name exists), so nobody else's.
            if let Err(e) = std::fs::DirBuilder::new().mode(0o755).create(&dir) {
                tried.push(format!("{}: {e}", dir.display()));
                continue;
            }
            let copy = WorldRunnable {
                exe: dir.join("safe-kill"),
                dir,
            };
            // Modes set explicitly: the umask may have taken bits away.
            let copied = std::fs::set_permissions(&copy.dir, PermissionsExt::from_mode(0o755))
                .and_then(|()| std::fs::copy(SAFE_KILL, &copy.exe))
                .and_then(|_| {
                    std::fs::set_permissions(&copy.exe, PermissionsExt::from_mode(0o755))
                });
            if let Err(e) = copied {
                tried.push(format!("{}: {e}", copy.exe.display()));
                continue;
            }
            match output_within(as_nobody(&copy.exe).arg("--version")) {
                Ok(out) if out.status.success() => return copy,
                other => tried.push(format!("{}: {other:?}", copy.exe.display())),
            }
        }
        panic!("no directory from which nobody can run a copy of safe-kill: {tried:#?}");
    }
}

impl Drop for WorldRunnable {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `exe` to be run as the user and group `nobody` (65534), without supplementary groups
/// (std drops them when root sets a uid).
fn as_nobody(exe: &std::path::Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(exe);
    cmd.uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .current_dir("/");
    cmd
}

#[test]
fn permission_denied_is_an_error_and_the_target_is_untouched() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // safe-kill must run as another user than the target's owner; only root can arrange
        // that here.
        safe_exit_tests::cannot_run("needs root (to run safe-kill as the user nobody)");
        return;
    }
    let target = recorder();
    let copy = WorldRunnable::new();
    let out = output_within(as_nobody(&copy.exe).arg(target.pid().to_string()))
        .expect("run safe-kill as nobody");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("not allowed to signal pid {}", target.pid())),
        "{err}"
    );
    assert_eq!(pending_signals(target.pid()), 0);
    assert!(target.is_running());
    drop(copy);
}

/// `safe-exit kill ARGS`, run to completion.
fn safe_exit_kill(args: &[&str]) -> Output {
    let out = output_within(
        Command::new(SAFE_EXIT)
            .arg("kill")
            .args(args)
            .stdin(Stdio::null()),
    )
    .expect("run safe-exit kill");
    eprintln!(
        "safe-exit kill {args:?} -> {:?}\nstdout: {}stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `safe-exit kill` is `safe-kill`: for the same arguments the same status and stdout, and
/// the same errors after the name (`safe-exit:` instead of `safe-kill:`).
#[test]
fn safe_exit_kill_is_safe_kill() {
    let target = recorder();
    let pid = target.pid().to_string();
    for args in [
        &["0"][..],
        &["abc"],
        &["-s", "FOO", &pid],
        &["-s", "STOP", &pid],
        &["-t", "5parsecs", &pid],
        &["--json", "0", &pid],
        &["--frobnicate", &pid],
        &[],
    ] {
        let (a, b) = (safe_kill(args), safe_exit_kill(args));
        assert_eq!(a.status.code(), b.status.code(), "{args:?}");
        assert_eq!(stdout(&a), stdout(&b), "{args:?}");
        let (ea, eb) = (stderr(&a), stderr(&b));
        assert_eq!(eb.lines().count(), ea.lines().count(), "{args:?}: {eb}");
        for (la, lb) in ea.lines().zip(eb.lines()) {
            let la = la.strip_prefix("safe-kill: ").unwrap();
            let lb = lb.strip_prefix("safe-exit: ").unwrap();
            // The hint names the command's own help.
            assert_eq!(
                la.replace("see safe-kill --help", "HELP"),
                lb.replace("see safe-exit kill --help", "HELP"),
                "{args:?}"
            );
        }
    }
    assert_eq!(pending_signals(target.pid()), 0, "the target was signalled");

    for json in [false, true] {
        let polite = shell("echo ready; exec sleep 1000");
        let p = polite.pid().to_string();
        let mut args = vec!["-t", "2s", &p];
        if json {
            args.insert(0, "--json");
        }
        let out = safe_exit_kill(&args);
        assert_eq!(out.status.code(), Some(0));
        let expected = if json {
            format!("{{\"pid\":{p},\"outcome\":\"exited\"}}\n")
        } else {
            format!("{p}: exited after SIGTERM\n")
        };
        assert_eq!(stdout(&out), expected);
        assert_eq!(stderr(&out), "");
        polite.finish().assert_signalled(libc::SIGTERM);
    }
}

/// `safe-exit kill --help` has the options, examples and statuses of `safe-kill --help`, with
/// its own name in the examples.
#[test]
fn safe_exit_kill_help() {
    let out = safe_exit_kill(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for needle in [
        "Usage: safe-exit kill [OPTIONS] <PID>...",
        "-s, --signal <SIGNAL>",
        "-t, --timeout <DURATION>",
        "--no-force",
        "--group",
        "--json",
        "safe-exit kill -t 500ms 1234 1235",
        "Exit status:",
        "2  bad input",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}
