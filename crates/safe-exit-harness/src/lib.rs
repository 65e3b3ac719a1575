//! The process-level test harness shared by safe-exit's Linux tests (`safe-exit-tests`) and
//! its Windows tests (`safe-exit-wintests`, run under Wine by `scripts/test-windows`).
//!
//! Every scenario runs in a real child process and is observed through its output lines and
//! its exit status. Nothing here sleeps to synchronise: a child prints `ready` when it is set
//! up, and every wait has a deadline (the [`WATCHDOG`]), after which the test fails with
//! everything the child printed so far. A child that is still running when its [`Child`] is
//! dropped is killed, so a failing test never leaves processes behind.
//!
//! What is the same on both platforms is written once, here: reading a child's stdout line by
//! line with a deadline, collecting its stderr, waiting for it to end, [`Finished`] and its
//! assertions, [`bin!`], and the helpers of the child programs ([`child`]). What differs is
//! per platform (`linux.rs`, `windows.rs`): how a child is spawned (a process group of its own
//! and no core files; creation flags and consoles), how one waits for it with a limit and kills
//! it (a pidfd; its process handle), what its exit status says (a signal or an exit code; an
//! `NTSTATUS`), signals (Linux only), and keeping process starts out of the moments when a
//! test thread has the whole process away on another console (Windows only:
//! `console_exclusive`).
//!
//! On other platforms this crate is empty.
#![cfg(any(target_os = "linux", windows))]

use std::io::{BufRead, BufReader, Read};
use std::process::{ChildStdout, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as sys;
#[cfg(target_os = "linux")]
pub use linux::{command, command_with, pidfd_open, pidfd_send_signal, pidfd_wait};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;
#[cfg(windows)]
pub use windows::{console_exclusive, console_shared};

/// How long any single wait may take before the test fails. Generous: CI machines are slow
/// and have two cores; a correct run takes milliseconds.
#[cfg(target_os = "linux")]
pub const WATCHDOG: Duration = Duration::from_secs(20);

/// How long any single wait may take before the test fails. Generous: under Wine on a
/// two-core CI machine a process takes up to a second to start; a correct run takes far less.
#[cfg(windows)]
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// A test that cannot run on this machine (not root, no PID namespaces, Wine cannot deliver
/// the event). Under CI (`CI` set) that is a failure: CI runs as root on a machine that can.
/// Elsewhere the test returns without checking anything, but never in silence: the reason
/// goes to stderr and, when `SAFE_EXIT_NOT_RUN` names a file, into that file, which
/// `scripts/test` prints at the end of the run (nextest hides the stderr of passing tests).
pub fn cannot_run(reason: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    if std::env::var_os("CI").is_some() {
        panic!("{test} cannot run here, and under CI every test must run: {reason}");
    }
    eprintln!("NOT RUN: {test}: {reason}");
    if let Some(path) = std::env::var_os("SAFE_EXIT_NOT_RUN") {
        use std::io::Write;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut file) = file {
            let _ = writeln!(file, "{test}: {reason}");
        }
    }
}

/// Path of a child program built from the `src/bin/` of the crate whose integration tests
/// use it (`CARGO_BIN_EXE_<name>`, which Cargo sets for integration tests only).
#[macro_export]
macro_rules! bin {
    ($name:literal) => {
        env!(concat!("CARGO_BIN_EXE_", $name))
    };
}

/// A child process under test, with its stdout split into lines and its stderr collected.
pub struct Child {
    inner: std::process::Child,
    /// What the child is waited for (with a limit) and killed through.
    process: sys::Process,
    /// Lines not yet looked at: stdout's, or stderr's when stdout is left unread.
    lines: Receiver<String>,
    /// Lines already looked at, in order.
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    /// The thread that reads stderr; joined once the child has ended.
    stderr_reader: Option<JoinHandle<()>>,
    /// The read end of the child's stdout, held open and never read
    /// ([`Child::with_unread_stdout`]).
    unread_stdout: Option<ChildStdout>,
    status: Option<ExitStatus>,
}

/// What a child left behind once it ended.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub status: ExitStatus,
    /// Every stdout line, in order (none for a child whose stdout was left unread).
    pub stdout: Vec<String>,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Child {
    /// Spawns a prepared command. Its stdout and stderr must be piped.
    #[track_caller]
    pub fn from_command(cmd: Command) -> Child {
        Child::start(cmd, false)
    }

    /// Spawns a prepared command (stdout and stderr piped) whose stdout the test holds open
    /// and never reads: once that pipe is full, the child blocks writing to it. Its stderr is
    /// read line by line instead: [`Child::expect_line`] and [`Child::ready`] wait for stderr
    /// lines, and [`Finished::stdout`] stays empty.
    #[track_caller]
    pub fn with_unread_stdout(cmd: Command) -> Child {
        Child::start(cmd, true)
    }

    #[track_caller]
    fn start(mut cmd: Command, leave_stdout_unread: bool) -> Child {
        let mut inner =
            sys::Process::spawn(&mut cmd).unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let process = sys::Process::new(&inner);
        let out = inner.stdout.take().expect("stdout must be piped");
        let err = inner.stderr.take().expect("stderr must be piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let (tx, lines) = mpsc::channel();
        let (stderr_reader, unread_stdout) = if leave_stdout_unread {
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    sink.lock().unwrap().push_str(&format!("{line}\n"));
                    // Still collected for `Finished::stderr` once nobody waits for lines.
                    let _ = tx.send(line);
                }
            });
            (reader, Some(out))
        } else {
            std::thread::spawn(move || send_lines(out, &tx));
            (std::thread::spawn(move || collect(err, &sink)), None)
        };
        Child {
            inner,
            process,
            lines,
            seen: Vec::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
            unread_stdout,
            status: None,
        }
    }

    /// Closes the child's stdin (children that block reading stdin then go on).
    pub fn close_stdin(&mut self) {
        drop(self.inner.stdin.take());
    }

    /// Writes a line to the child's stdin (which must be piped and still open).
    #[track_caller]
    pub fn send_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.inner.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("write to child's stdin");
    }

    /// Waits (watchdog: [`WATCHDOG`]) for the next line that starts with `prefix` and returns
    /// it. Lines before it are kept for [`Child::finish`].
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
                        RecvTimeoutError::Disconnected => "output closed",
                    };
                    let snapshot = self.snapshot();
                    panic!("waiting for a line starting with {prefix:?}: {why}\n{snapshot}");
                }
            }
        }
    }

    /// Waits for the next line `PREFIXVALUE` (such as `child 1234` for the prefix `"child "`)
    /// and returns its VALUE, parsed.
    #[track_caller]
    pub fn expect_value<T: std::str::FromStr>(&mut self, prefix: &str) -> T {
        let line = self.expect_line(prefix);
        match line[prefix.len()..].trim().parse() {
            Ok(value) => value,
            Err(_) => {
                let snapshot = self.snapshot();
                panic!("expected {prefix:?} and a value, got {line:?}\n{snapshot}");
            }
        }
    }

    /// The lines looked at so far (up to and including the last one a wait returned), in
    /// order.
    pub fn seen_lines(&self) -> &[String] {
        &self.seen
    }

    /// Waits for the `ready` line that every child program prints once it is set up, and
    /// returns it.
    #[track_caller]
    pub fn ready(&mut self) -> String {
        self.expect_line("ready")
    }

    /// Whether the child is still running (it has not exited), without reaping it.
    pub fn is_running(&self) -> bool {
        !self.process.wait_exit(&self.inner, Duration::ZERO)
    }

    /// Waits (watchdog) for the child to end and returns everything it printed.
    #[track_caller]
    pub fn finish(self) -> Finished {
        self.finish_within(WATCHDOG)
    }

    /// Like [`Child::finish`] with a limit of its own.
    #[track_caller]
    pub fn finish_within(mut self, limit: Duration) -> Finished {
        if !self.process.wait_exit(&self.inner, limit) {
            let snapshot = self.snapshot();
            panic!("the child did not end within {limit:?} (killed now)\n{snapshot}");
        }
        let status = self.inner.wait().expect("wait for our child");
        self.status = Some(status);
        // Its output closes when the child (and anything that inherited its pipes) is gone.
        let deadline = Instant::now() + WATCHDOG;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        if let Some(t) = self.stderr_reader.take() {
            let _ = t.join();
        }
        let stdout = match self.unread_stdout {
            // The lines were stderr's, which `stderr` holds.
            Some(_) => Vec::new(),
            None => std::mem::take(&mut self.seen),
        };
        Finished {
            status,
            stdout,
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }

    /// Everything the child printed so far, for a failure message.
    fn snapshot(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let stderr = self.stderr.lock().unwrap();
        match self.unread_stdout {
            Some(_) => format!("--- stdout: not read ---\n--- stderr so far ---\n{stderr}"),
            None => format!(
                "--- stdout so far ---\n{}\n--- stderr so far ---\n{stderr}",
                self.seen.join("\n"),
            ),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            self.process.kill(&mut self.inner);
            let _ = self.inner.wait();
        }
    }
}

/// Sends each line of `out` until it closes (or nobody listens any more).
fn send_lines(out: impl Read, tx: &Sender<String>) {
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        if tx.send(line).is_err() {
            break;
        }
    }
}

/// Appends everything read from `err` to `sink`, until it closes.
fn collect(mut err: impl Read, sink: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = err.read(&mut buf) {
        sink.lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

impl Finished {
    /// How many stdout lines are exactly `line`.
    pub fn count(&self, line: &str) -> usize {
        self.stdout.iter().filter(|l| *l == line).count()
    }

    /// Asserts that `line` was printed exactly once.
    #[track_caller]
    pub fn assert_once(&self, line: &str) {
        assert_eq!(self.count(line), 1, "expected {line:?} once\n{self}");
    }

    /// The stdout lines that start with `prefix`, in order.
    pub fn starting_with(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .iter()
            .filter(|l| l.starts_with(prefix))
            .map(String::as_str)
            .collect()
    }

    /// The index of the first stdout line that is exactly `line`; fails, with the output, if
    /// there is none.
    #[track_caller]
    pub fn position(&self, line: &str) -> usize {
        self.stdout
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no line {line:?}\n{self}"))
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

/// `e` and each of its causes (its chain of [`source`](std::error::Error::source)s), joined
/// by `": "`.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// Child-side helpers, for the child programs.
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

    /// Blocks this thread forever (the process is ended from outside).
    pub fn park_forever() -> ! {
        loop {
            std::thread::park();
        }
    }
}
