//! Test harness for safe-exit's Windows process-level tests, which run on Linux under Wine
//! (`scripts/test-windows`) and on real Windows alike.
//!
//! Every scenario runs in real child processes (the programs in `src/bin/`), gets real console
//! events and window messages, and is observed through its stdout lines and its exit code.
//! Nothing here sleeps to synchronise: a child prints `ready` when it is set up, and every wait
//! has a deadline (the watchdog), after which the test fails with everything the child printed
//! so far. A child still running when its `Child` is dropped is terminated.
//!
//! What Wine cannot emulate (a Ctrl-Break event, a console window's close event) is tested on
//! real Windows only; under Wine such a test calls `skipped_under_wine`, which prints
//! `SKIPPED under Wine: ...` on the real stderr (never captured), and `scripts/test-windows`
//! lists those lines at the end of the run: a skip is never a silent pass.
//!
//! On other platforms this crate is empty and its programs only say that they need Windows.
#![cfg(windows)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::WAIT_OBJECT_0;
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Threading::WaitForSingleObject;

pub use windows_sys::Win32::System::Threading::{
    CREATE_NEW_CONSOLE, CREATE_NEW_PROCESS_GROUP, DETACHED_PROCESS,
};

/// How long any single wait may take before the test fails. Generous: under Wine on a
/// two-core CI machine a process takes up to a second to start; a correct run takes far less.
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// The exit code of a console program ended by Ctrl-C (`STATUS_CONTROL_C_EXIT`), which
/// safe-exit also uses after a handled console event.
pub const STATUS_CONTROL_C_EXIT: u32 = 0xC000_013A;

/// Path of a child program built from this crate's `src/bin/`.
#[macro_export]
macro_rules! bin {
    ($name:literal) => {
        env!(concat!("CARGO_BIN_EXE_", $name))
    };
}

/// Whether this process runs under Wine (its `ntdll.dll` exports `wine_get_version`).
pub fn is_wine() -> bool {
    let name: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
    // SAFETY: a NUL-terminated module name and a NUL-terminated export name; ntdll is always
    // loaded, and a null module is checked for.
    unsafe {
        let ntdll = GetModuleHandleW(name.as_ptr());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

/// Reports that `test` does not run here because Wine cannot emulate `why`, on the real
/// stderr (not captured by the test harness), so that a skip is never a silent pass.
pub fn skipped_under_wine(test: &str, why: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED under Wine: {test}: {why} (runs on real Windows)"
    );
}

/// A child process under test, with its stdout split into lines and its stderr collected.
pub struct Child {
    inner: std::process::Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

/// What a child left behind once it ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit code (an `NTSTATUS` such as [`STATUS_CONTROL_C_EXIT`] when it was ended by
    /// an event).
    pub code: u32,
    /// Every stdout line, in order.
    pub stdout: Vec<String>,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Finished {
    /// How many stdout lines are exactly `line`.
    pub fn count(&self, line: &str) -> usize {
        self.stdout.iter().filter(|l| *l == line).count()
    }

    /// Asserts the exit code, with everything the child printed in the message.
    #[track_caller]
    pub fn assert_code(&self, code: u32) {
        assert_eq!(
            self.code, code,
            "expected exit code {code:#x}, got {:#x}\n{self}",
            self.code
        );
    }

    /// Asserts that `line` was printed exactly once.
    #[track_caller]
    pub fn assert_once(&self, line: &str) {
        assert_eq!(self.count(line), 1, "expected {line:?} once\n{self}");
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

impl Child {
    /// Spawns a child program (see [`bin!`]) with the given arguments and process creation
    /// flags (`CREATE_NEW_CONSOLE`, `DETACHED_PROCESS`, or 0 to share our console).
    pub fn spawn(path: &str, args: &[&str], flags: u32) -> Child {
        let mut cmd = Command::new(path);
        cmd.args(args)
            .creation_flags(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut inner = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let out = inner.stdout.take().expect("stdout is piped");
        let mut err = inner.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.trim_end().to_owned()).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Child {
            inner,
            lines,
            seen: Vec::new(),
            stderr,
            stderr_thread: Some(stderr_thread),
            status: None,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.inner.id()
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
    pub fn ready(&mut self) {
        self.expect_line("ready");
    }

    /// Waits up to `limit` for the child to end (`WaitForSingleObject` on its handle).
    fn wait_exit(&self, limit: Duration) -> bool {
        let ms = limit.as_millis().min(u128::from(u32::MAX - 1)) as u32;
        // SAFETY: the child's process handle stays open while `self` lives.
        unsafe { WaitForSingleObject(self.inner.as_raw_handle(), ms) == WAIT_OBJECT_0 }
    }

    /// Whether the child is still running.
    pub fn is_running(&self) -> bool {
        !self.wait_exit(Duration::ZERO)
    }

    /// Waits (watchdog) for the child to end and returns everything it printed.
    #[track_caller]
    pub fn finish(mut self) -> Finished {
        if !self.wait_exit(WATCHDOG) {
            let snapshot = self.snapshot();
            panic!("the child did not end within {WATCHDOG:?} (terminated now)\n{snapshot}");
        }
        let status = self.inner.wait().expect("wait for our child");
        self.status = Some(status);
        // Its stdout closes when the child (and anything that inherited the pipe) is gone.
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
            code: status.code().unwrap_or(-1) as u32,
            stdout: std::mem::take(&mut self.seen),
            stderr: self.stderr.lock().unwrap().clone(),
        }
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
            let _ = self.inner.kill();
            let _ = self.inner.wait();
        }
    }
}

/// Which console control event [`send_console_event`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// `CTRL_C_EVENT`.
    CtrlC,
    /// `CTRL_BREAK_EVENT`.
    CtrlBreak,
}

/// Sends a console control event to the console of process `pid` with the `ctrl_send`
/// program (which attaches to that console and generates it there, independently of
/// safe-exit). Returns whether `GenerateConsoleCtrlEvent` succeeded.
#[track_caller]
pub fn send_console_event(pid: u32, event: ConsoleEvent) -> bool {
    let which = match event {
        ConsoleEvent::CtrlC => "c",
        ConsoleEvent::CtrlBreak => "break",
    };
    let pid = pid.to_string();
    let sender = Child::spawn(&program("ctrl_send"), &[&pid, which], DETACHED_PROCESS);
    let sender = sender.finish();
    match sender.code {
        0 => true,
        3 => false,
        _ => panic!("ctrl_send could not reach the console of pid {pid}\n{sender}"),
    }
}

/// The path of the program `name` of this workspace, found beside the running test
/// executable (`CARGO_BIN_EXE_*` exists only for this crate's programs, and only in the
/// integration tests themselves): tests run from `target/.../deps/`, the programs are one
/// level up. Panics if it has not been built.
pub fn program(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test's own path");
    let file = format!("{name}.exe");
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&file))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{file} not found near {}: build it for this target first \
                 (scripts/test-windows does)",
                exe.display()
            )
        })
        .to_string_lossy()
        .into_owned()
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

    /// Blocks this thread forever (the process is ended from outside).
    pub fn park_forever() -> ! {
        loop {
            std::thread::park();
        }
    }

    /// Parses `DEFAULT`, `EMPTY` or flag names joined by `+` (`SIGBREAK+CTRL_CLOSE`).
    pub fn flags(text: &str) -> safe_exit::ConfigFlag {
        let mut flags = safe_exit::ConfigFlag::empty();
        for name in text.split('+') {
            flags |= match name {
                "DEFAULT" => safe_exit::DEFAULT_CONFIG,
                "EMPTY" => safe_exit::ConfigFlag::empty(),
                _ => safe_exit::ConfigFlag::from_name(name)
                    .unwrap_or_else(|| panic!("unknown flag {name}")),
            };
        }
        flags
    }
}

/// Runs `f`, holding a lock shared by the tests of one test binary: safe_kill's console
/// visits from this process are serialized anyway, but the tests' expectations about
/// timing are easier to read one at a time.
pub fn serial<T>(f: impl FnOnce() -> T) -> T {
    static LOCK: Mutex<()> = Mutex::new(());
    let _one = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f()
}
