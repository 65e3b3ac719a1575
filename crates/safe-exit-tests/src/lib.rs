//! Test harness for safe-exit's process-level tests.
//!
//! Every scenario runs in a real child process (the programs in `src/bin/`), gets real signals,
//! and is observed through its stdout lines and its exit status. Nothing here sleeps to
//! synchronise: a child prints `ready` when it is set up, and every wait has a deadline (the
//! watchdog), after which the test fails with everything the child printed so far. A child that
//! is still running when its [`Child`] is dropped is killed, so a failing test never leaves
//! processes behind.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails. Generous: CI machines are slow
/// and have two cores; a correct run takes milliseconds.
pub const WATCHDOG: Duration = Duration::from_secs(20);

/// Path of a child program built from this crate's `src/bin/`.
#[macro_export]
macro_rules! bin {
    ($name:literal) => {
        env!(concat!("CARGO_BIN_EXE_", $name))
    };
}

/// A child process under test, with its stdout split into lines and its stderr collected.
pub struct Child {
    inner: std::process::Child,
    pidfd: OwnedFd,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

/// What a child left behind once it ended.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub status: ExitStatus,
    /// Every stdout line, in order.
    pub stdout: Vec<String>,
    /// Everything it wrote to stderr.
    pub stderr: String,
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

    /// How many stdout lines are exactly `line`.
    pub fn count(&self, line: &str) -> usize {
        self.stdout.iter().filter(|l| *l == line).count()
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

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "--- stdout ---")?;
        for l in &self.stdout {
            writeln!(f, "{l}")?;
        }
        writeln!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// A [`Command`] for a child program, with stdin, stdout and stderr piped.
pub fn command(path: &str) -> Command {
    // A fresh process group so that a stray group signal from a broken child can never reach
    // the test runner.
    piped(path, || {
        // SAFETY: setpgid is async-signal-safe.
        unsafe { libc::setpgid(0, 0) };
        Ok(())
    })
}

/// `path` with piped stdio, no core files (SIGQUIT tests), and `isolate` run in the child
/// before exec. `isolate` must be async-signal-safe.
fn piped(path: &str, isolate: fn() -> std::io::Result<()>) -> Command {
    let mut cmd = Command::new(path);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (setrlimit, and `isolate`) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            isolate()
        });
    }
    cmd
}

impl Child {
    /// Spawns a child program (see [`bin!`]) with the given arguments.
    pub fn spawn(path: &str, args: &[&str]) -> Child {
        let mut cmd = command(path);
        cmd.args(args);
        Child::from_command(cmd)
    }

    /// Spawns a prepared command. Its stdout and stderr must be piped.
    pub fn from_command(mut cmd: Command) -> Child {
        let mut inner = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let pidfd = pidfd_open(inner.id() as i32).expect("pidfd_open on our own child");
        let out = inner.stdout.take().expect("stdout must be piped");
        let mut err = inner.stderr.take().expect("stderr must be piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        Child {
            inner,
            pidfd,
            lines,
            seen: Vec::new(),
            stderr,
            stderr_thread: Some(stderr_thread),
            status: None,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.inner.id() as i32
    }

    /// Sends `sig` to the child (through its pidfd, so never to a recycled pid).
    pub fn signal(&self, sig: i32) {
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
        assert_eq!(
            rc,
            0,
            "pidfd_send_signal({sig}): {}",
            std::io::Error::last_os_error()
        );
    }

    /// Closes the child's stdin (children that block reading stdin then go on).
    pub fn close_stdin(&mut self) {
        drop(self.inner.stdin.take());
    }

    /// Writes a line to the child's stdin.
    pub fn send_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.inner.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("write to child's stdin");
    }

    /// Waits (watchdog: [`WATCHDOG`]) for the next stdout line that starts with `prefix` and
    /// returns it. Lines before it are kept for [`Child::finish`].
    #[track_caller]
    pub fn expect_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(e) => {
                    let why = match e {
                        RecvTimeoutError::Timeout => "watchdog expired",
                        RecvTimeoutError::Disconnected => "stdout closed",
                    };
                    let snapshot = self.snapshot();
                    panic!("waiting for a line starting with {prefix:?}: {why}\n{snapshot}");
                }
            }
        }
    }

    /// Waits for the `ready` line that every child program prints once it is set up.
    #[track_caller]
    pub fn ready(&mut self) -> String {
        self.expect_line("ready")
    }

    /// Waits (watchdog) for the child to end, without reaping it.
    fn wait_exit(&self, limit: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
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

    /// Waits (watchdog) for the child to end and returns everything it printed.
    #[track_caller]
    pub fn finish(self) -> Finished {
        self.finish_within(WATCHDOG)
    }

    /// Like [`Child::finish`] with a custom limit.
    #[track_caller]
    pub fn finish_within(mut self, limit: Duration) -> Finished {
        if !self.wait_exit(limit) {
            let snapshot = self.snapshot();
            panic!("the child did not end within {limit:?} (killed now)\n{snapshot}");
        }
        let status = self.inner.wait().expect("wait for our child");
        self.status = Some(status);
        // Its stdout closes when the child (and anything it forked) is gone.
        let deadline = Instant::now() + WATCHDOG;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        Finished {
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }

    /// Whether the child is still running (not exited), without reaping it.
    pub fn is_running(&self) -> bool {
        !self.wait_exit(Duration::ZERO)
    }

    fn snapshot(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        format!(
            "--- stdout so far ---\n{}\n--- stderr so far ---\n{}",
            self.seen.join("\n"),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            // SAFETY: as in `signal`; errors (already gone) are irrelevant here.
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

/// `pidfd_open(2)`: a file descriptor that refers to the process `pid` and polls readable
/// when it exits.
pub fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Child-side helpers, for the programs in `src/bin/`.
pub mod child {
    use std::io::Write;

    /// Prints a line to stdout and flushes it (stdout is a pipe in tests).
    pub fn say(line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// Blocks until stdin reaches end of file (the test closes it) or a line arrives.
    pub fn block_on_stdin() -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end().to_owned()),
        }
    }

    /// Makes each system call `nr` of `rules` fail with its `errno` for the calling thread and
    /// the threads and children it starts from now on (a seccomp filter, as a sandbox, an old
    /// kernel or a limit would). Other architectures' calls are left alone. Panics where
    /// seccomp filters cannot be installed.
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    ))]
    pub fn deny_syscalls(rules: &[(libc::c_long, i32)]) {
        use libc::{sock_filter, sock_fprog};
        /// The `AUDIT_ARCH_*` value of this architecture (`<linux/audit.h>`; not in `libc`).
        #[cfg(target_arch = "x86_64")]
        const AUDIT_ARCH: u32 = 0xC000_003E;
        #[cfg(target_arch = "aarch64")]
        const AUDIT_ARCH: u32 = 0xC000_00B7;
        #[cfg(target_arch = "riscv64")]
        const AUDIT_ARCH: u32 = 0xC000_00F3;
        const fn stmt(code: u32, k: u32) -> sock_filter {
            sock_filter {
                code: code as u16,
                jt: 0,
                jf: 0,
                k,
            }
        }
        const fn jeq(k: u32, jt: u8, jf: u8) -> sock_filter {
            sock_filter {
                code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
                jt,
                jf,
                k,
            }
        }
        let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
        let ret = libc::BPF_RET | libc::BPF_K;
        let mut filter = vec![
            stmt(load, std::mem::offset_of!(libc::seccomp_data, arch) as u32),
            jeq(AUDIT_ARCH, 1, 0),
            stmt(ret, libc::SECCOMP_RET_ALLOW),
            stmt(load, std::mem::offset_of!(libc::seccomp_data, nr) as u32),
        ];
        for &(nr, errno) in rules {
            // Equal: the next instruction (fail with errno); else skip it.
            filter.push(jeq(nr as u32, 0, 1));
            filter.push(stmt(
                ret,
                libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
            ));
        }
        filter.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
        let prog = sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_mut_ptr(),
        };
        // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers; then seccomp with a valid filter
        // program that lives across the call (the kernel copies it).
        unsafe {
            assert_eq!(
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
                0,
                "PR_SET_NO_NEW_PRIVS: {}",
                std::io::Error::last_os_error()
            );
            assert_eq!(
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &prog as *const sock_fprog,
                ),
                0,
                "seccomp: {}",
                std::io::Error::last_os_error()
            );
        }
    }

    /// Blocks in `pause(2)` until a signal handler runs, forever.
    pub fn pause_forever() -> ! {
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for the safe_kill and safe-kill tests (`tests/kill_*.rs`, the CLI's tests).
// ---------------------------------------------------------------------------------------------

/// Whether the process `pid` has exited (or no longer exists), judged through a pidfd, so a
/// zombie counts as exited and nothing is reaped.
pub fn is_gone(pid: i32) -> bool {
    let Ok(fd) = pidfd_open(pid) else { return true };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut pfd, 1, 0) > 0 }
}

/// Processes that are not the test's own children (a child's children, orphaned once their
/// parent is gone): killed with SIGKILL when this is dropped, so that a failing test leaves
/// none behind. Their pidfds are opened at once, while they are known to run, so a recycled
/// pid is never signalled; one that has already ended is simply skipped.
pub struct KillOnDrop(Vec<OwnedFd>);

impl KillOnDrop {
    /// Pins `pids` (which must be running now) to be killed on drop.
    #[track_caller]
    pub fn new(pids: &[i32]) -> KillOnDrop {
        KillOnDrop(
            pids.iter()
                .map(|&pid| pidfd_open(pid).unwrap_or_else(|e| panic!("pidfd_open({pid}): {e}")))
                .collect(),
        )
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for fd in &self.0 {
            // SAFETY: pidfd_send_signal with a valid pidfd, a null siginfo and zero flags;
            // errors (already gone) are irrelevant here.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            }
        }
    }
}

/// Waits (watchdog: [`WATCHDOG`]) until the process `pid` is stopped (state `T` in
/// `/proc/PID/stat`), e.g. after SIGSTOP. The kernel offers no notification for another
/// process stopping, so this looks every millisecond.
#[track_caller]
pub fn wait_stopped(pid: i32) {
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        if state == Some("T") {
            return;
        }
        assert!(Instant::now() < deadline, "pid {pid} did not stop: {stat}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A [`command`] whose process starts a new session (`setsid`) instead of a new process
/// group: a broken `kill(0, ..)` in it reaches only its own session's processes.
pub fn command_in_new_session(path: &str) -> Command {
    piped(path, || {
        // SAFETY: setsid is async-signal-safe.
        if unsafe { libc::setsid() } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })
}

/// A command that runs `path args...` as PID 1 of a new PID namespace with its own `/proc`
/// (`unshare --pid --fork --mount-proc`), in a new session: a broken `kill(-1, ..)` there
/// reaches only that namespace. `None` (with a message on stderr) where namespaces cannot be
/// created; under CI, where the tests run as root, that is a failure instead.
pub fn command_in_pid_namespace(path: &str, args: &[&str]) -> Option<Command> {
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        other if std::env::var_os("CI").is_some() => {
            panic!("cannot create a PID namespace: {other:?}")
        }
        other => {
            eprintln!("skipped: cannot create a PID namespace here ({other:?})");
            return None;
        }
    }
    let mut cmd = command_in_new_session("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", path])
        .args(args);
    Some(cmd)
}

/// Waits (watchdog: [`WATCHDOG`]) until the process `pid` has exited, without reaping it.
#[track_caller]
pub fn wait_gone(pid: i32) {
    let Ok(fd) = pidfd_open(pid) else { return };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = WATCHDOG.as_millis() as i32;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(rc > 0, "pid {pid} did not exit within {WATCHDOG:?}");
}

/// The signals pending for the process `pid` (the `SigPnd` and `ShdPnd` masks of
/// `/proc/PID/status`; bit `n - 1` is signal `n`). Signals that a process blocks stay
/// pending, so a process spawned with [`block_all_signals`] records every signal sent to it.
pub fn pending_signals(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .fold(0, |a, b| a | b)
}

/// Makes `cmd`'s process start with every signal blocked (the mask survives `exec`), so that
/// [`pending_signals`] shows what it was sent. SIGKILL and SIGSTOP cannot be blocked.
pub fn block_all_signals(cmd: &mut Command) {
    // SAFETY: sigfillset and sigprocmask are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
            Ok(())
        });
    }
}
