//! `CommandExt::die_with_parent`: once a process has called it, the children it starts from
//! then on (and theirs) end when it ends, however it ends: terminated (`TerminateProcess`,
//! as `Child::kill` and `taskkill /F` do) or returning from `main`. A child started before the
//! first call, or with `CREATE_BREAKAWAY_FROM_JOB`, outlives it; so does every child of a
//! process that never calls it (the control case). The parent is `job_parent`; the test holds
//! a handle to each process it reports, opened while the parent still holds one too (so no
//! pid is reused meanwhile), and waits on it with a limit. No test here calls safe_kill, so
//! none needs to run alone.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use safe_exit_wintests::{bin, Child, Finished, CREATE_NEW_CONSOLE, WATCHDOG};
use windows_sys::Win32::Foundation::{FALSE, WAIT_OBJECT_0};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, TerminateProcess, WaitForSingleObject,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE,
};

/// How long a process that dies with its parent may still run once the parent has ended
/// (Windows terminates it as the parent's last handle to the job closes: at once). Also how
/// long a survivor must keep running after its parent's end in the control case.
const GONE_WITHIN: Duration = Duration::from_secs(2);

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

    /// `TerminateProcess` with exit code 1, as `Child::kill` does (an error, for a process
    /// already gone, is irrelevant here).
    fn terminate(&self) {
        // SAFETY: a valid process handle with PROCESS_TERMINATE.
        unsafe { TerminateProcess(self.handle.as_raw_handle(), 1) };
    }

    /// Whether it ends within [`GONE_WITHIN`] (measured from now); if not, why that is wrong.
    fn gone(&self) -> Result<(), String> {
        let start = Instant::now();
        if !self.ended_within(GONE_WITHIN) {
            return Err(format!(
                "{} (pid {}) still runs {GONE_WITHIN:?} after its parent ended",
                self.name, self.pid
            ));
        }
        eprintln!(
            "{} gone {:?} after its parent, exit code {:#x}",
            self.name,
            start.elapsed(),
            self.exit_code()
        );
        Ok(())
    }

    /// Whether it still runs; if not, why that is wrong.
    fn running(&self) -> Result<(), String> {
        if self.ended_within(Duration::ZERO) {
            return Err(format!(
                "{} (pid {}) ended with its parent (exit code {:#x})",
                self.name,
                self.pid,
                self.exit_code()
            ));
        }
        Ok(())
    }

    /// Ends it and waits (watchdog) until it is gone, with the handles it inherited (the
    /// test's pipes, which the parent's output waits for).
    #[track_caller]
    fn end(self) {
        self.terminate();
        assert!(self.ended_within(WATCHDOG), "{} did not end", self.name);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Waits for the parent's line `NAME PID` and opens that process; fails on `NAME error ...`.
#[track_caller]
fn child_of(parent: &mut Child, name: &str) -> Process {
    let line = parent.expect_line(&format!("{name} "));
    match line[name.len() + 1..].parse() {
        Ok(pid) => Process::open(name, pid),
        Err(_) => panic!("the parent could not start {name}: {line}"),
    }
}

/// The children of `job_parent parent dwp ...`, in the order it reports them.
struct Family {
    early: Process,
    middle: Process,
    grandchild: Process,
    breakaway: Process,
    plain: Process,
}

impl Family {
    #[track_caller]
    fn of(parent: &mut Child) -> Family {
        let family = Family {
            early: child_of(parent, "early"),
            middle: child_of(parent, "middle"),
            grandchild: child_of(parent, "grandchild"),
            breakaway: child_of(parent, "breakaway"),
            plain: child_of(parent, "plain"),
        };
        parent.ready();
        family
    }

    /// Once the parent has ended: those started after `die_with_parent` are gone (the
    /// configured one, its own child, and the plain one), the early and the breakaway ones
    /// still run. Then ends them all and returns what was wrong, and the parent's output.
    fn check_after_parent(self, parent: Child) -> (Vec<String>, Finished) {
        let mut wrong = Vec::new();
        for p in [&self.middle, &self.grandchild, &self.plain] {
            wrong.extend(p.gone().err());
        }
        for p in [&self.early, &self.breakaway] {
            wrong.extend(p.running().err());
        }
        self.end();
        (wrong, parent.finish())
    }

    /// Ends every one of them.
    #[track_caller]
    fn end(self) {
        for p in [
            self.early,
            self.middle,
            self.grandchild,
            self.breakaway,
            self.plain,
        ] {
            p.end();
        }
    }
}

/// Asserts that nothing was `wrong`, that the parent ended with exit code `code`, and that
/// safe-exit reported no failure to set up `die_with_parent`; the parent's output (with any
/// such report) is in the message.
#[track_caller]
fn assert_right(wrong: &[String], done: &Finished, code: u32) {
    assert!(wrong.is_empty(), "{}\n{done}", wrong.join("\n"));
    assert!(
        !done.stderr.contains("die_with_parent"),
        "die_with_parent could not be set up\n{done}"
    );
    done.assert_code(code);
}

/// Terminates the parent (exit code 1) and waits until it has ended.
#[track_caller]
fn terminate(parent: &Child) {
    let process = Process::open("parent", parent.pid());
    process.terminate();
    assert!(process.ended_within(WATCHDOG), "the parent did not end");
}

#[test]
fn a_terminated_parent_takes_its_later_children_along_but_not_a_breakaway_one() {
    let mut parent = Child::spawn(
        bin!("job_parent"),
        &["parent", "dwp", "park"],
        CREATE_NEW_CONSOLE,
    );
    let family = Family::of(&mut parent);
    terminate(&parent);
    let (wrong, done) = family.check_after_parent(parent);
    assert_right(&wrong, &done, 1);
}

#[test]
fn a_parent_returning_from_main_takes_its_later_children_along() {
    let mut cmd = Command::new(bin!("job_parent"));
    cmd.args(["parent", "dwp", "return"])
        .creation_flags(CREATE_NEW_CONSOLE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut parent = Child::from_command(cmd);
    let family = Family::of(&mut parent);
    let process = Process::open("parent", parent.pid());
    parent.close_stdin();
    assert!(process.ended_within(WATCHDOG), "the parent did not return");
    let (wrong, done) = family.check_after_parent(parent);
    // Its own exit code is unchanged by the job that ended the others.
    assert_right(&wrong, &done, 3);
}

#[test]
fn a_child_that_calls_it_too_takes_its_own_children_along_alone() {
    let mut parent = Child::spawn(
        bin!("job_parent"),
        &["parent", "dwp", "park"],
        CREATE_NEW_CONSOLE,
    );
    let family = Family::of(&mut parent);
    // The middle process is in its parent's job and in one of its own inside it: ending it
    // ends its child, and nothing else.
    family.middle.terminate();
    let mut wrong = Vec::new();
    if !family.middle.ended_within(WATCHDOG) {
        wrong.push("the middle process did not end".to_owned());
    }
    wrong.extend(family.grandchild.gone().err());
    for p in [&family.early, &family.breakaway, &family.plain] {
        wrong.extend(
            p.running()
                .err()
                .map(|e| e.replace("its parent", "its sibling")),
        );
    }
    if !parent.is_running() {
        wrong.push("the parent ended with its child".to_owned());
    }
    // Then the parent: the others go as before (the middle and its child are gone already).
    terminate(&parent);
    let (more, done) = family.check_after_parent(parent);
    wrong.extend(more);
    assert_right(&wrong, &done, 1);
}

#[test]
fn without_it_a_child_outlives_its_terminated_parent() {
    let mut parent = Child::spawn(
        bin!("job_parent"),
        &["parent", "none", "park"],
        CREATE_NEW_CONSOLE,
    );
    let plain = child_of(&mut parent, "plain");
    parent.ready();
    terminate(&parent);
    let outlived = !plain.ended_within(GONE_WITHIN);
    let code = plain.exit_code();
    plain.end();
    let done = parent.finish();
    assert!(
        outlived,
        "a child ended with a parent that never called die_with_parent (exit code {code:#x})\n\
         {done}"
    );
    done.assert_code(1);
}
