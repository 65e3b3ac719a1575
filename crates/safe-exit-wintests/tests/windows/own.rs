//! `safe_exit::own`: a parent (`win_owner`) owns two children with SIGTERM and a shared 300 ms
//! deadline. When it ends (`main` returns, `request_shutdown`, or Ctrl-C on its console), the
//! polite child ends on its request (`WM_CLOSE` to its window, or Ctrl-C on its own console),
//! the stubborn one is terminated at the deadline (exit code 1), and only then does the
//! parent's hook run: it sees both exit codes through its own `Child::try_wait` (nothing was
//! reaped), and the parent's exit code is unchanged. `Handle::unregister` disowns a child,
//! which outlives the parent; bad requests are refused with the right error and keep nothing.
//!
//! The test holds a handle to each child the parent reports, opened while the parent still
//! holds one too (so no pid is reused meanwhile), and ends what survives before it waits for
//! the parent's output to close (the children inherited the parent's standard handles). No
//! test here calls safe_kill in this process (the parent does, in its own), so none needs to
//! run alone.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::time::Duration;

use safe_exit_wintests::{
    bin, send_console_event, Child, ConsoleEvent, Finished, CREATE_NEW_CONSOLE,
    STATUS_CONTROL_C_EXIT, WATCHDOG,
};
use windows_sys::Win32::Foundation::{FALSE, WAIT_OBJECT_0};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, TerminateProcess, WaitForSingleObject,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE,
};

/// The deadline the parent gives its children (`owner.rs`).
const TIMEOUT: Duration = Duration::from_millis(300);

/// A process the test watches through a handle of its own; terminated, if still running, when
/// dropped (so a failing test leaves none behind).
struct Process {
    name: String,
    pid: u32,
    handle: OwnedHandle,
}

impl Process {
    /// Opens process `pid` (to wait for it, end it and read its exit code).
    #[track_caller]
    fn open(name: &str, pid: u32) -> Process {
        let access = PROCESS_SYNCHRONIZE | PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION;
        // SAFETY: no pointers; the result is checked for null before it is owned.
        let raw = unsafe { OpenProcess(access, FALSE, pid) };
        assert!(
            !raw.is_null(),
            "cannot open {name} (pid {pid}): {}",
            std::io::Error::last_os_error()
        );
        Process {
            name: name.to_owned(),
            pid,
            // SAFETY: a new handle that nothing else owns.
            handle: unsafe { OwnedHandle::from_raw_handle(raw) },
        }
    }

    /// Whether the process has ended within `limit`.
    fn ended_within(&self, limit: Duration) -> bool {
        let ms = limit.as_millis().min(u128::from(u32::MAX - 1)) as u32;
        // SAFETY: a valid process handle, open while `self` lives.
        unsafe { WaitForSingleObject(self.handle.as_raw_handle(), ms) == WAIT_OBJECT_0 }
    }

    /// Its exit code (`STILL_ACTIVE`, 259, while it runs).
    fn exit_code(&self) -> u32 {
        let mut code = 0;
        // SAFETY: a valid process handle and a place for the code.
        unsafe { GetExitCodeProcess(self.handle.as_raw_handle(), &mut code) };
        code
    }

    /// `TerminateProcess` with exit code 1 (an error, for a process already gone, is
    /// irrelevant here).
    fn terminate(&self) {
        // SAFETY: a valid process handle with PROCESS_TERMINATE.
        unsafe { TerminateProcess(self.handle.as_raw_handle(), 1) };
    }

    /// Asserts that it has already ended, with exit code `code`.
    #[track_caller]
    fn assert_ended_with(&self, code: u32, parent: &Finished) {
        assert!(
            self.ended_within(Duration::ZERO),
            "{} (pid {}) still runs after its owner ended\n{parent}",
            self.name,
            self.pid
        );
        assert_eq!(
            self.exit_code(),
            code,
            "{} (pid {}): expected exit code {code:#x}, got {:#x}\n{parent}",
            self.name,
            self.pid,
            self.exit_code()
        );
    }

    /// Ends it and waits (watchdog) until it is gone, with the handles it inherited (the
    /// parent's output, which the test waits for).
    #[track_caller]
    fn end(&self) {
        self.terminate();
        assert!(self.ended_within(WATCHDOG), "{} did not end", self.name);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Waits for the parent's line `pid NAME PID` and opens that process.
#[track_caller]
fn child_of(parent: &mut Child, name: &str) -> Process {
    let pid = parent.expect_value(&format!("pid {name} "));
    Process::open(name, pid)
}

/// The two children of `owner window|console END`, reported and ready.
struct Pair {
    polite: Process,
    stubborn: Process,
}

impl Pair {
    /// Starts `win_owner SETUP END` on a console of its own and waits until its children are
    /// owned.
    #[track_caller]
    fn start(setup: &str, end: &str) -> (Child, Pair) {
        let mut parent = Child::spawn(bin!("win_owner"), &[setup, end], CREATE_NEW_CONSOLE);
        let pair = Pair {
            polite: child_of(&mut parent, "polite"),
            stubborn: child_of(&mut parent, "stubborn"),
        };
        parent.ready();
        (parent, pair)
    }

    /// Once the parent has ended (`done`): the polite child ended on its request with
    /// `polite_code`, the stubborn one was terminated at the deadline (and the parent said
    /// so), both before the parent's hook, which saw their exit codes through its own
    /// `Child`; the parent's exit code is `code` and the hook ran once, with `reason`.
    #[track_caller]
    fn check(&self, done: &Finished, polite_code: u32, code: u32, reason: &str) {
        self.polite.assert_ended_with(polite_code, done);
        self.stubborn.assert_ended_with(1, done);
        done.assert_once(&format!("hook ran {reason}"));
        done.assert_once(&format!("hook polite exit {polite_code:#x}"));
        done.assert_once("hook stubborn exit 0x1");
        let forced = |pid: u32| {
            done.stderr.contains(&format!(
                "owned child {pid} did not end within its deadline; killed"
            ))
        };
        assert!(
            forced(self.stubborn.pid) && !forced(self.polite.pid),
            "only the stubborn child must be reported as forced\n{done}"
        );
        done.assert_code(code);
    }

    /// [`Pair::check`], and the stubborn child had its whole deadline before it was forced:
    /// the hook ran at least [`TIMEOUT`] after the parent began to end (which it says when
    /// it ends by itself).
    #[track_caller]
    fn check_timed(&self, done: &Finished, polite_code: u32, code: u32, reason: &str) {
        self.check(done, polite_code, code, reason);
        let prefix = "hook stopped after ";
        let took = done.starting_with(prefix).first().and_then(|l| {
            l[prefix.len()..]
                .trim_end_matches(" ms")
                .parse::<u128>()
                .ok()
        });
        assert!(
            took.is_some_and(|ms| ms >= TIMEOUT.as_millis()),
            "the hook ran before the deadline, or the parent did not say when\n{done}"
        );
    }
}

/// The windowed children: `WM_CLOSE` ends the polite one (its own hook runs, exit code 0,
/// returned); the stubborn one ignores it (and says so, unless it is terminated before its
/// message loop has got to it).
fn window_ended(done: &Finished) -> u32 {
    done.assert_once("polite closed");
    done.assert_once("polite hook ran Some(Exit)");
    assert!(done.count("stubborn ignoring WM_CLOSE") <= 1, "{done}");
    0
}

/// The console children: Ctrl-C on its own console ends the polite one (its own hook runs,
/// `STATUS_CONTROL_C_EXIT`, returned); the stubborn one ignores it (and says so, unless it is
/// terminated before the thread that Windows starts for the event has got to it).
fn console_ended(done: &Finished) -> u32 {
    done.assert_once("polite hook ran Some(Signal(2))");
    assert!(
        done.count("stubborn ignoring console event 0") <= 1,
        "{done}"
    );
    STATUS_CONTROL_C_EXIT
}

/// `win_owner SETUP END`, ended by itself (`return`, `request`) or by Ctrl-C on its console
/// (`park`); then [`Pair::check`], with the polite child's exit code from `polite_ended`,
/// which checks its output (and the stubborn one's).
fn stop_pair(setup: &str, end: &str, polite_ended: fn(&Finished) -> u32) {
    let (parent, pair) = Pair::start(setup, end);
    let (code, reason) = match end {
        "return" => (7, "Some(Exit)"),
        "request" => (5, "Some(Requested(5))"),
        _ => {
            assert!(
                send_console_event(parent.pid(), ConsoleEvent::CtrlC),
                "GenerateConsoleCtrlEvent(CTRL_C_EVENT) failed"
            );
            (STATUS_CONTROL_C_EXIT, "Some(Signal(2))")
        }
    };
    let done = parent.finish();
    let polite_code = polite_ended(&done);
    // (`request_shutdown` does not return: the exit code is its 5, not `main`'s 1.)
    if end == "park" {
        pair.check(&done, polite_code, code, reason);
    } else {
        pair.check_timed(&done, polite_code, code, reason);
    }
}

#[test]
fn windowed_children_are_stopped_before_the_hooks_when_main_returns() {
    stop_pair("window", "return", window_ended);
}

#[test]
fn windowed_children_are_stopped_before_the_hooks_on_request_shutdown() {
    stop_pair("window", "request", window_ended);
}

#[test]
fn windowed_children_are_stopped_before_the_hooks_on_ctrl_c() {
    stop_pair("window", "park", window_ended);
}

#[test]
fn console_children_get_ctrl_c_before_the_hooks_when_main_returns() {
    stop_pair("console", "return", console_ended);
}

#[test]
fn console_children_get_ctrl_c_before_the_hooks_on_request_shutdown() {
    stop_pair("console", "request", console_ended);
}

/// The hooks, and the visits to the children's consoles, run on the thread that Windows
/// starts for the parent's own Ctrl-C. Wine holds its console lock on that thread while the
/// handlers run, so the parent's own copy of each Ctrl-C it generates cannot arrive before the
/// process ends: each visit waits out its full 2 s for it, and the children's deadline is
/// stretched by that much (about 4 s here instead of 300 ms). Nothing here depends on time.
#[test]
fn console_children_get_ctrl_c_before_the_hooks_on_ctrl_c() {
    stop_pair("console", "park", console_ended);
}

#[test]
fn a_disowned_child_outlives_its_parent() {
    let mut parent = Child::spawn(bin!("win_owner"), &["disown", "return"], CREATE_NEW_CONSOLE);
    let owned = child_of(&mut parent, "owned");
    let disowned = child_of(&mut parent, "disowned");
    parent.expect_line("unregister true");
    parent.ready();
    let process = Process::open("parent", parent.pid());
    assert!(process.ended_within(WATCHDOG), "the parent did not return");
    let survived = !disowned.ended_within(Duration::ZERO);
    let code = disowned.exit_code();
    disowned.end();
    let done = parent.finish();
    assert!(
        survived,
        "the disowned child ended with its parent (exit code {code:#x})\n{done}"
    );
    owned.assert_ended_with(0, &done);
    done.assert_once("hook owned exit 0x0");
    done.assert_once("hook disowned running");
    assert!(!done.stderr.contains("owned child"), "{done}");
    done.assert_code(7);
}

#[test]
fn bad_requests_are_refused_and_nothing_is_owned() {
    let mut parent = Child::spawn(bin!("win_owner"), &["bad", "return"], CREATE_NEW_CONSOLE);
    for (what, kind) in [("zero", "invalid_pid"), ("self", "self_target")] {
        let line = parent.expect_line("error ");
        assert!(
            line.starts_with(&format!("error {kind} {what}: ")),
            "{line}"
        );
    }
    let exited = child_of(&mut parent, "exited");
    let line = parent.expect_line("error ");
    assert!(line.starts_with("error not_running exited: "), "{line}");
    let witness = child_of(&mut parent, "witness");
    for (what, kind) in [
        ("group", "unsupported"),
        ("signal", "invalid_signal"),
        ("unsendable", "invalid_signal"),
    ] {
        let line = parent.expect_line("error ");
        assert!(
            line.starts_with(&format!("error {kind} {what}: ")),
            "{line}"
        );
    }
    parent.ready();
    let process = Process::open("parent", parent.pid());
    assert!(process.ended_within(WATCHDOG), "the parent did not return");
    // Nothing kept: the witness, refused twice, is not stopped with its parent.
    let survived = !witness.ended_within(Duration::ZERO);
    witness.end();
    let done = parent.finish();
    assert!(survived, "a refused own() stopped the witness\n{done}");
    assert_eq!(done.starting_with("owned ").len(), 0, "{done}");
    exited.assert_ended_with(0, &done);
    done.assert_once("hook exited exit 0x0");
    done.assert_once("hook witness running");
    assert!(!done.stderr.contains("owned child"), "{done}");
    done.assert_code(7);
}

/// An owned child that the polite request cannot reach (no window, no console of its own) is
/// forced at once, not left running: an owned child must not outlive its parent.
#[test]
fn an_owned_child_that_cannot_be_asked_is_forced() {
    let mut parent = Child::spawn(
        bin!("win_owner"),
        &["unaskable", "return"],
        CREATE_NEW_CONSOLE,
    );
    let unaskable = child_of(&mut parent, "unaskable");
    parent.ready();
    let done = parent.finish();
    unaskable.assert_ended_with(1, &done);
    done.assert_once("hook unaskable exit 0x1");
    assert!(
        done.stderr.contains(&format!(
            "owned child {} could not be asked to end",
            unaskable.pid
        )),
        "{done}"
    );
    done.assert_code(7);
}
