//! Linux: a child is pinned by a pidfd, through which it is waited for (`poll`), signalled and
//! killed, so never a recycled pid; it ends by a signal or with an exit code.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Child, Finished, WATCHDOG};

/// What a [`Child`] is waited for and killed through: its pidfd.
pub(crate) struct Process(OwnedFd);

impl Process {
    pub(crate) fn spawn(cmd: &mut Command) -> io::Result<std::process::Child> {
        cmd.spawn()
    }

    pub(crate) fn new(child: &std::process::Child) -> Process {
        Process(pidfd_open(child.id() as i32).expect("pidfd_open on our own child"))
    }

    /// Waits up to `limit` for the child to end, without reaping it.
    pub(crate) fn wait_exit(&self, _child: &std::process::Child, limit: Duration) -> bool {
        pidfd_wait(self.0.as_fd(), limit)
    }

    pub(crate) fn kill(&self, _child: &mut std::process::Child) {
        // An error (already gone) is irrelevant here.
        let _ = pidfd_send_signal(self.0.as_fd(), libc::SIGKILL);
    }
}

/// `pidfd_open(2)`: a file descriptor that refers to the process `pid` and polls readable
/// when it exits.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `pidfd_send_signal(2)`: sends `sig` to the process that `pidfd` refers to (never to
/// another process that got its pid since).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a valid pidfd, a null siginfo and zero flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits up to `limit` for the process that `pidfd` refers to to exit (its pidfd polls
/// readable); whether it did. Nothing is reaped, so a zombie counts as exited.
pub fn pidfd_wait(pidfd: BorrowedFd<'_>, limit: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return true;
        }
        if rc == 0 || left.is_zero() {
            return false;
        }
    }
}

/// A [`Command`] for a child program, with stdin, stdout and stderr piped, in a process
/// group of its own, so that a stray group signal from a broken child can never reach the
/// test runner.
pub fn command(path: &str) -> Command {
    command_with(path, || {
        // SAFETY: setpgid is async-signal-safe.
        unsafe { libc::setpgid(0, 0) };
        Ok(())
    })
}

/// `path` with piped stdio, no core files (SIGQUIT tests), every signal at its default
/// action and none blocked, and `isolate` run in the child before exec (it must be
/// async-signal-safe): a new process group ([`command`]), a new session, ...
///
/// The signal state is reset because a test runner started under `nohup`, or as a background
/// job of a script, ignores SIGHUP or SIGINT, and `exec` passes an ignored signal on: the
/// child would then (rightly) leave it ignored, and the signal tests would fail for nothing.
/// A test that wants a signal ignored or blocked sets that up in its own `pre_exec`, which
/// runs after this one.
pub fn command_with(path: &str, isolate: fn() -> io::Result<()>) -> Command {
    let mut cmd = Command::new(path);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (setrlimit, sigemptyset, sigprocmask, signal, and
    // `isolate`) between fork and exec; `set` is a local, initialised by sigemptyset.
    unsafe {
        cmd.pre_exec(move || {
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            // 1 to 64: every signal Linux has; SIGKILL, SIGSTOP and the C library's own
            // real-time signals refuse the change, harmlessly.
            for sig in 1..=64 {
                libc::signal(sig, libc::SIG_DFL);
            }
            isolate()
        });
    }
    cmd
}

impl Child {
    /// Spawns a child program (see [`bin!`](crate::bin)) with the given arguments, as
    /// [`command`] prepares it.
    #[track_caller]
    pub fn spawn(path: &str, args: &[&str]) -> Child {
        let mut cmd = command(path);
        cmd.args(args);
        Child::from_command(cmd)
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.inner.id() as i32
    }

    /// Sends `sig` to the child (through its pidfd, so never to a recycled pid).
    #[track_caller]
    pub fn signal(&self, sig: i32) {
        if let Err(e) = pidfd_send_signal(self.process.0.as_fd(), sig) {
            panic!("pidfd_send_signal({sig}): {e}");
        }
    }

    /// Waits (watchdog) until the pipe of a child's unread stdout
    /// ([`Child::with_unread_stdout`]) is full: the bytes in it reach its capacity. The
    /// kernel gives no notification for this, so this looks every millisecond.
    #[track_caller]
    pub fn wait_stdout_full(&mut self) {
        let fd = self
            .unread_stdout
            .as_ref()
            .expect("a child spawned with_unread_stdout")
            .as_raw_fd();
        // SAFETY: fcntl(F_GETPIPE_SZ) on the read end of a pipe we hold.
        let capacity = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        assert!(capacity > 0, "F_GETPIPE_SZ: {}", io::Error::last_os_error());
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let mut queued: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int, into a local.
            let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) };
            assert_eq!(rc, 0, "FIONREAD: {}", io::Error::last_os_error());
            if queued >= capacity {
                return;
            }
            if Instant::now() >= deadline {
                let snapshot = self.snapshot();
                panic!("stdout pipe not full: {queued} of {capacity} bytes\n{snapshot}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Finished {
    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// The exit code, if the process exited rather than being killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts that the process ended by `sig` (not by an exit code), with a useful message.
    #[track_caller]
    pub fn assert_signalled(&self, sig: i32) {
        assert_eq!(
            self.signal(),
            Some(sig),
            "expected the child to end by signal {sig}; it ended with {:?}\n{self}",
            self.status
        );
    }

    /// Asserts that the process exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit code {code}; the child ended with {:?}\n{self}",
            self.status
        );
    }
}
