//! The end of the process: it never waits on a lock another thread holds (a full stdout pipe),
//! a signal still ends it after the hooks, and it ends only once `exit` has done its work
//! (older `atexit` handlers, C stdio buffers).

use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStdout, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use safe_exit_tests::{bin, command, pidfd_open, Child, WATCHDOG};

/// A generous bound for a process that must end (a correct run takes milliseconds).
const BOUND: Duration = Duration::from_secs(5);

/// A child of `edges` whose stdout is a pipe the test never reads (it fills, and then the
/// child blocks writing to it). It reports on stderr, which is read line by line. Killed
/// (SIGKILL) if it is still running when dropped.
struct UnreadStdout {
    inner: std::process::Child,
    pidfd: OwnedFd,
    /// The read end of the child's stdout: held open, never read.
    stdout: ChildStdout,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    reaped: bool,
}

/// How an [`UnreadStdout`] child ended, and its stderr.
struct Ended {
    status: ExitStatus,
    stderr: String,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {:?}\n--- stderr ---\n{}",
            self.status, self.stderr
        )
    }
}

impl UnreadStdout {
    fn spawn(args: &[&str]) -> UnreadStdout {
        let mut cmd = command(bin!("edges"));
        cmd.args(args);
        let mut inner = cmd.spawn().expect("spawn edges");
        let pidfd = pidfd_open(inner.id() as i32).expect("pidfd_open on our own child");
        let stdout = inner.stdout.take().expect("piped stdout");
        let err = inner.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        UnreadStdout {
            inner,
            pidfd,
            stdout,
            lines,
            stderr,
            reaped: false,
        }
    }

    /// Waits (watchdog) for a stderr line that starts with `prefix`.
    #[track_caller]
    fn expect_stderr_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "waiting for a stderr line starting with {prefix:?}: {e:?}\n--- stderr so \
                     far ---\n{}",
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// Waits (watchdog) until the stdout pipe is full: the bytes in it reach its capacity.
    /// The kernel gives no notification for this, so this looks every millisecond.
    #[track_caller]
    fn wait_stdout_full(&self) {
        let fd = self.stdout.as_raw_fd();
        // SAFETY: fcntl(F_GETPIPE_SZ) on the read end of a pipe we hold.
        let capacity = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        assert!(
            capacity > 0,
            "F_GETPIPE_SZ: {}",
            std::io::Error::last_os_error()
        );
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let mut queued: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int, into a local.
            let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) };
            assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
            if queued >= capacity {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "stdout pipe not full: {queued} of {capacity} bytes\n--- stderr ---\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Sends `sig` through the pidfd.
    fn signal(&self, sig: i32) {
        // SAFETY: pidfd_send_signal with a valid pidfd, a null siginfo and zero flags.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        assert_eq!(rc, 0, "pidfd_send_signal({sig})");
    }

    /// Waits up to `limit` for the child to end (failing, and killing it, if it does not).
    #[track_caller]
    fn finish_within(mut self, limit: Duration) -> Ended {
        let mut pfd = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if rc > 0 {
                break;
            }
            if rc == 0 || left.is_zero() {
                panic!(
                    "the child did not end within {limit:?} (killed now)\n--- stderr so far \
                     ---\n{}",
                    self.stderr.lock().unwrap()
                );
            }
        }
        let status = self.inner.wait().expect("wait for our child");
        self.reaped = true;
        // Its stderr closes now that it is gone: collect the rest.
        let deadline = Instant::now() + WATCHDOG;
        while self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
        {}
        let stderr = self.stderr.lock().unwrap().clone();
        Ended { status, stderr }
    }
}

impl Drop for UnreadStdout {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: as in `signal`; an error (already gone) is irrelevant here.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    self.pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            }
            let _ = self.inner.wait();
        }
    }
}

#[test]
fn a_signal_ends_the_process_while_main_holds_stdout_blocked_on_a_full_pipe() {
    let mut child = UnreadStdout::spawn(&["stdout-blocked"]);
    child.expect_stderr_line("ready");
    // Main is now blocked writing to stdout, holding stdout's lock.
    child.wait_stdout_full();
    child.signal(libc::SIGTERM);
    let end = child.finish_within(BOUND);
    assert_eq!(
        end.stderr.matches("hook ran").count(),
        1,
        "the hook runs once\n{end}"
    );
    assert_eq!(
        end.status.signal(),
        Some(libc::SIGTERM),
        "the process ends by SIGTERM\n{end}"
    );
}

#[test]
fn the_hook_deadline_ends_the_process_even_when_the_hook_is_stuck_in_println() {
    let mut child = UnreadStdout::spawn(&["stuck-println"]);
    child.expect_stderr_line("ready");
    child.signal(libc::SIGTERM);
    let end = child.finish_within(BOUND);
    assert!(
        end.stderr.contains("did not finish within"),
        "stderr names the hook deadline\n{end}"
    );
    assert_eq!(
        end.status.signal(),
        Some(libc::SIGTERM),
        "the process ends by SIGTERM\n{end}"
    );
}

#[test]
fn a_signal_after_the_hooks_ends_a_process_stuck_in_an_older_atexit_handler() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let mut child = Child::spawn(bin!("edges"), &["slow-atexit"]);
        child.ready();
        child.close_stdin();
        child.expect_line("hook Exit");
        // The older atexit handler runs after safe-exit's, and blocks forever.
        child.expect_line("slow atexit");
        child.signal(sig);
        let out = child.finish_within(BOUND);
        assert_eq!(out.count("hook Exit"), 1, "signal {sig}\n{out}");
        out.assert_signalled(sig);
    }
}

#[test]
fn notify_mode_ends_by_the_signal_only_after_exit_ran_older_atexit_handlers_and_flushed_stdio() {
    let mut child = Child::spawn(bin!("edges"), &["notify-atexit"]);
    child.ready();
    child.signal(libc::SIGTERM);
    child.expect_line("requested Signal(15)");
    let out = child.finish();
    assert_eq!(out.count("hook Signal(15)"), 1, "{out}");
    assert_eq!(
        out.count("older atexit ran"),
        1,
        "an atexit handler registered before safe-exit still runs\n{out}"
    );
    assert_eq!(
        out.count("c stdio line"),
        1,
        "exit flushes C stdio before the process ends by the signal\n{out}"
    );
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn request_shutdown_in_exit_mode_flushes_c_stdio_and_ends_with_its_code() {
    let mut child = Child::spawn(bin!("edges"), &["request-cstdio"]);
    child.ready();
    child.close_stdin();
    let out = child.finish();
    assert_eq!(out.count("hook Requested(3)"), 1, "{out}");
    assert_eq!(
        out.count("c stdio line"),
        1,
        "what printf left in C stdio's buffer is written before the process ends\n{out}"
    );
    assert_eq!(out.count("request_shutdown returned"), 0, "{out}");
    out.assert_code(3);
}
