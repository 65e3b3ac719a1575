//! `safe-exit run` in a terminal (a pseudo-terminal the test holds the master side of):
//! COMMAND's group gets the foreground, so Ctrl-C reaches it from the terminal itself;
//! Ctrl-Z stops it, and the wrapper stops its own job too, so an interactive shell shows the
//! job stopped and `fg` resumes it with the terminal; where nothing could resume the
//! wrapper (it leads its session), COMMAND is resumed at once.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use safe_exit_tests::{
    cannot_run, command_with, parent_of, pidfd_open, pidfd_wait, wait_stopped, KillOnDrop, WATCHDOG,
};

use crate::common::{wait_until, KillTreeOnDrop, SAFE_EXIT};

/// The master side of a pseudo-terminal, and everything read from it so far.
struct Pty {
    master: File,
    output: Arc<(Mutex<String>, Condvar)>,
}

/// A process started on the terminal, killed (SIGKILL) with everything below it if still
/// running when dropped.
struct OnTerminal(std::process::Child, Option<KillTreeOnDrop>);

impl Drop for OnTerminal {
    fn drop(&mut self) {
        drop(self.1.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl OnTerminal {
    /// Waits (watchdog) for it to end; its exit code.
    #[track_caller]
    fn code(mut self) -> Option<i32> {
        let fd = pidfd_open(self.0.id() as i32).expect("pidfd_open");
        assert!(
            pidfd_wait(fd.as_fd(), WATCHDOG),
            "it did not end within {WATCHDOG:?}"
        );
        self.0.wait().expect("wait").code()
    }
}

/// `setsid` and the terminal on stdin as the controlling terminal (in the child, before
/// `exec`): the process leads a session, as a login shell or a container's PID 1 does.
fn lead_a_session_on_stdin() -> std::io::Result<()> {
    // SAFETY: setsid and ioctl(TIOCSCTTY) are async-signal-safe; stdin is the terminal.
    unsafe {
        if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Pty {
    /// Opens a pseudo-terminal and starts `program args...` on it, leading a session of its
    /// own with the terminal as its controlling terminal.
    fn start(program: &str, args: &[&str], env: &[(&str, &str)]) -> (Pty, OnTerminal) {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two descriptors; no name, termios or window size asked.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened and are owned by nothing else.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd: Command = command_with(program, lead_a_session_on_stdin);
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        let child = cmd.spawn().expect("start on the terminal");
        let tree = KillTreeOnDrop::new(child.id() as i32);
        let child = OnTerminal(child, Some(tree));
        let output = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let sink = Arc::clone(&output);
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once nothing has the terminal open any more.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                let (text, changed) = &*sink;
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
                changed.notify_all();
            }
        });
        (Pty { master, output }, child)
    }

    /// Types `bytes`.
    fn write(&self, bytes: &[u8]) {
        (&self.master)
            .write_all(bytes)
            .expect("write to the terminal");
    }

    /// Waits (watchdog) for a line of output (without `\r`) for which `found` gives a value.
    #[track_caller]
    fn wait_for<T>(&self, what: &str, found: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + WATCHDOG;
        let (text, changed) = &*self.output;
        let mut text = text.lock().unwrap();
        loop {
            if let Some(value) = text
                .split('\n')
                .map(|l| l.trim_end_matches('\r'))
                .find_map(&found)
            {
                return value;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} on the terminal:\n{text}");
            text = changed.wait_timeout(text, left).unwrap().0;
        }
    }

    /// Waits for a line that ends in `PREFIX NUMBER` (a prompt or an echoed ^Z may come
    /// first) and returns the number.
    #[track_caller]
    fn wait_value(&self, prefix: &str) -> i32 {
        self.wait_for(prefix, |l| {
            l[l.rfind(prefix)? + prefix.len()..].trim().parse().ok()
        })
    }

    /// The terminal's foreground process group (`tcgetpgrp` on the master side).
    fn foreground(&self) -> i32 {
        // SAFETY: tcgetpgrp only reads.
        unsafe { libc::tcgetpgrp(self.master.as_raw_fd()) }
    }

    /// Waits (watchdog) until the foreground process group is `pgid`. The kernel offers no
    /// notification for that, so this looks every millisecond.
    #[track_caller]
    fn wait_foreground(&self, pgid: i32) {
        let deadline = Instant::now() + WATCHDOG;
        while self.foreground() != pgid {
            assert!(
                Instant::now() < deadline,
                "the foreground group is {}, not {pgid}",
                self.foreground()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The state letter of `/proc/PID/stat` (`T` for stopped).
fn state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next())
        .unwrap_or('?')
}

/// COMMAND's group has the terminal's foreground from its start, and Ctrl-C, sent by the
/// terminal to that group (not through the wrapper), ends it: status 130.
#[test]
fn the_command_has_the_foreground_and_ctrl_c_ends_it() {
    let (pty, wrapper) = Pty::start(
        SAFE_EXIT,
        &["run", "--", "sh", "-c", "echo ready $$; exec sleep 1000"],
        &[],
    );
    let command = pty.wait_value("ready ");
    let _guard = KillOnDrop::new(&[command]);
    // SAFETY: getpgid only reads.
    let group = unsafe { libc::getpgid(command) };
    assert_eq!(group, command, "a group of its own");
    // SAFETY: getsid only reads.
    let (session, wrappers) =
        unsafe { (libc::getsid(command), libc::getsid(wrapper.0.id() as i32)) };
    assert_eq!(
        session, wrappers,
        "in the terminal's session, not one of its own"
    );
    assert_eq!(pty.foreground(), command);
    pty.write(b"\x03");
    assert_eq!(wrapper.code(), Some(130));
}

/// Ctrl-Z where nothing can resume the wrapper (it leads its session, as PID 1 of
/// `docker run -it` does): COMMAND is continued at once, with the terminal, and Ctrl-C then
/// still ends it.
#[test]
fn ctrl_z_without_job_control_resumes_the_command_at_once() {
    let (pty, wrapper) = Pty::start(
        SAFE_EXIT,
        &[
            "run",
            "--",
            "sh",
            "-c",
            "trap 'echo continued' CONT; echo ready $$; while :; do sleep 1000 & wait; done",
        ],
        &[],
    );
    let command = pty.wait_value("ready ");
    let _guard = KillOnDrop::new(&[command]);
    assert_eq!(pty.foreground(), command);
    pty.write(b"\x1a");
    // Only the wrapper sends SIGCONT here (the terminal stops, it never continues).
    // (After the terminal's echo of the ^Z.)
    pty.wait_for("continued", |l| l.ends_with("continued").then_some(()));
    pty.wait_foreground(command);
    pty.write(b"\x03");
    assert_eq!(wrapper.code(), Some(130));
}

/// Under an interactive shell (bash, with job control): Ctrl-Z stops COMMAND and the
/// wrapper, so bash reports the job stopped and has the terminal back; `fg` continues both,
/// and COMMAND gets the terminal again (Ctrl-C ends it: status 130).
#[test]
fn ctrl_z_under_a_shell_stops_the_job_and_fg_resumes_it() {
    if Command::new("bash")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        cannot_run("needs bash, for an interactive shell with job control");
        return;
    }
    let (pty, bash) = Pty::start(
        "bash",
        &["--norc", "--noprofile", "--noediting", "-i"],
        &[("PS1", "$ "), ("HISTFILE", "/dev/null"), ("TERM", "dumb")],
    );
    pty.write(format!("{SAFE_EXIT} run -- sh -c 'echo ready $$; exec sleep 1000'\n").as_bytes());
    let command = pty.wait_value("ready ");
    let _guard = KillOnDrop::new(&[command]);
    let wrapper = parent_of(command).expect("the wrapper");
    assert_eq!(pty.foreground(), command);

    pty.write(b"\x1a");
    pty.wait_for("the job stopped", |l| l.contains("Stopped").then_some(()));
    wait_stopped(command);
    wait_stopped(wrapper);
    assert_eq!(
        pty.foreground(),
        bash.0.id() as i32,
        "bash has the terminal"
    );

    pty.write(b"fg\n");
    pty.wait_foreground(command);
    assert_ne!(state(command), 'T');
    assert_ne!(state(wrapper), 'T');

    pty.write(b"\x03");
    // fg's status is the job's.
    pty.write(b"echo status=$?\n");
    pty.wait_for("status=130", |l| l.ends_with("status=130").then_some(()));
    pty.write(b"exit\n");
    bash.code();
}

/// With a controlling terminal that stdin is not (`< /dev/null`), COMMAND gets a process
/// group of its own but stays in the terminal's session (it can still open `/dev/tty`, as
/// `ssh` and `gpg` do to ask for a password), and does not get the foreground.
#[test]
fn with_stdin_elsewhere_the_command_stays_in_the_terminals_session() {
    let script = format!(
        "'{SAFE_EXIT}' run -- sh -c 'read -r s < /proc/$$/stat; set -- ${{s##*) }}; \
         echo \"ids $$ $3 $4\"; : < /dev/tty && echo tty-ok' < /dev/null; echo done"
    );
    let (pty, shell) = Pty::start("sh", &["-c", &script], &[]);
    let ids: Vec<i32> = pty.wait_for("ids", |l| {
        let rest = &l[l.find("ids ")? + 4..];
        rest.split(' ').map(|n| n.parse().ok()).collect()
    });
    let session = shell.0.id() as i32;
    assert_eq!(ids[1], ids[0], "a group of its own: {ids:?}");
    assert_eq!(ids[2], session, "the terminal's session: {ids:?}");
    pty.wait_for("tty-ok", |l| l.contains("tty-ok").then_some(()));
    pty.wait_for("done", |l| (l == "done").then_some(()));
    assert_eq!(shell.code(), Some(0));
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_ascii_whitespace().collect())
        .unwrap_or_default();
    // Fields 14 and 15, counted from 1 with pid and comm: 11 and 12 after comm.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    tick(11) + tick(12)
}

/// COMMAND reads the terminal from the background while the wrapper's own group is orphaned
/// (its parent shell is gone), so nothing can stop and continue the wrapper as a job: COMMAND
/// stays stopped by SIGTTIN, as a background job does, instead of being resumed into
/// another SIGTTIN in a loop that burns both CPUs.
#[test]
fn a_background_read_in_an_orphaned_group_stays_stopped_without_spinning() {
    let script = format!(
        "set -m; sh -c '\"$0\" run -- cat <&3 & echo wrapper $!' '{SAFE_EXIT}' 3<&0; \
         sleep 1000"
    );
    let (pty, _shell) = Pty::start("sh", &["-c", &script], &[]);
    let wrapper = pty.wait_value("wrapper ");
    let _tree = KillTreeOnDrop::new(wrapper);
    let first_child = || {
        std::fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next()?.parse::<i32>().ok())
    };
    wait_until("the wrapper to start cat", || first_child().is_some());
    let cat = first_child().unwrap();
    let _guard = KillOnDrop::new(&[cat]);
    wait_stopped(cat);
    let before = cpu_ticks(wrapper) + cpu_ticks(cat);
    // An observation window, not a wait for an event: in a loop both would be busy in it.
    std::thread::sleep(Duration::from_millis(500));
    let spent = cpu_ticks(wrapper) + cpu_ticks(cat) - before;
    assert_eq!(state(cat), 'T', "cat is resumed in the background");
    assert!(spent < 10, "{spent} ticks of CPU in 0.5 s: spinning");
}

/// COMMAND moves itself into another process group (here the wrapper's, from which signals to
/// COMMAND's own group no longer reach it): a termination signal still reaches it.
#[test]
fn a_command_that_left_its_group_still_gets_the_signals() {
    let python = "import os, signal, time\n\
                  signal.signal(15, lambda *a: (print('got TERM', flush=True), os._exit(0)))\n\
                  os.setpgid(0, os.getpgid(os.getppid()))\n\
                  print('moved', flush=True)\n\
                  time.sleep(30)\n";
    let script = format!(
        "'{SAFE_EXIT}' run --grace 20s -- python3 -c \"{python}\" < /dev/null & echo wrapper $!; \
         wait $!; echo rc=$?; sleep 1000"
    );
    let (pty, _shell) = Pty::start("sh", &["-c", &script], &[]);
    let wrapper = pty.wait_value("wrapper ");
    let _tree = KillTreeOnDrop::new(wrapper);
    // Matched within a line: under load the terminal was seen to join the two lines
    // ("movedgot TERM").
    pty.wait_for("moved", |l| l.contains("moved").then_some(()));
    // SAFETY: kill on the wrapper, alive (the shell waits for it).
    unsafe { libc::kill(wrapper, libc::SIGTERM) };
    pty.wait_for("got TERM", |l| l.contains("got TERM").then_some(()));
    assert_eq!(pty.wait_value("rc="), 0);
}
