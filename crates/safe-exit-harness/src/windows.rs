//! Windows: a child is waited for and ended through its process handle (which stays open,
//! and its process id reserved, until it is dropped); it ends with a 32-bit exit code.

use std::cell::Cell;
use std::io;
use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use windows_sys::Win32::Foundation::WAIT_OBJECT_0;
use windows_sys::Win32::System::Threading::WaitForSingleObject;

use crate::{Child, Finished};

/// What a [`Child`] is waited for and killed through: the process handle that
/// `std::process::Child` holds, so nothing of its own.
pub(crate) struct Process;

impl Process {
    /// Starts `cmd`, never while another thread has this process away from its console
    /// ([`console_exclusive`]).
    pub(crate) fn spawn(cmd: &mut Command) -> io::Result<std::process::Child> {
        console_shared(|| cmd.spawn())
    }

    pub(crate) fn new(_child: &std::process::Child) -> Process {
        Process
    }

    /// Waits up to `limit` for the child to end (`WaitForSingleObject` on its handle).
    pub(crate) fn wait_exit(&self, child: &std::process::Child, limit: Duration) -> bool {
        let ms = limit.as_millis().min(u128::from(u32::MAX - 1)) as u32;
        // SAFETY: the child's process handle stays open while `child` lives.
        unsafe { WaitForSingleObject(child.as_raw_handle(), ms) == WAIT_OBJECT_0 }
    }

    pub(crate) fn kill(&self, child: &mut std::process::Child) {
        // `TerminateProcess`; an error (already gone) is irrelevant here.
        let _ = child.kill();
    }
}

/// Held exclusively while a thread of this process may be away from its console
/// ([`console_exclusive`]), shared while one starts a process or writes to the real standard
/// handles ([`console_shared`]).
static CONSOLE: RwLock<()> = RwLock::new(());

thread_local! {
    /// Whether this thread holds [`CONSOLE`] exclusively.
    static EXCLUSIVE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` while no other thread of this process starts a process or writes to the real
/// standard handles (they wait in [`console_shared`]): for a test that calls safe_kill in this
/// process. To send a console control event, safe_kill leaves this process's console for the
/// target's and comes back; meanwhile the standard handles and the table of control handlers
/// are the visit's, and a process started by another thread fails to start (under Wine,
/// `ERROR_INTERNAL_ERROR`) or gets the wrong console. Tests in one test binary run as threads
/// of one process, so such a test runs alone.
pub fn console_exclusive<T>(f: impl FnOnce() -> T) -> T {
    /// Clears [`EXCLUSIVE`] (before the lock is released), even if `f` panics.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            EXCLUSIVE.with(|e| e.set(false));
        }
    }
    let _lock = CONSOLE.write().unwrap_or_else(PoisonError::into_inner);
    EXCLUSIVE.with(|e| e.set(true));
    let _clear = Clear;
    f()
}

/// Runs `f` (starting a process, writing to the real stderr) while this process is on its own
/// console: never during another thread's [`console_exclusive`]. Within this thread's own, at
/// once.
pub fn console_shared<T>(f: impl FnOnce() -> T) -> T {
    if EXCLUSIVE.with(Cell::get) {
        return f();
    }
    let _lock = CONSOLE.read().unwrap_or_else(PoisonError::into_inner);
    f()
}

impl Child {
    /// Spawns a child program (see [`bin!`](crate::bin)) with the given arguments and process
    /// creation flags (`CREATE_NEW_CONSOLE`, `DETACHED_PROCESS`, or 0 to share our console).
    /// Its stdin is empty.
    #[track_caller]
    pub fn spawn(path: &str, args: &[&str], flags: u32) -> Child {
        let mut cmd = Command::new(path);
        cmd.args(args)
            .creation_flags(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Child::from_command(cmd)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.inner.id()
    }
}

impl Finished {
    /// The exit code: an `NTSTATUS` such as `STATUS_CONTROL_C_EXIT` when a console event
    /// ended the process.
    pub fn code(&self) -> u32 {
        // Windows exit codes are 32-bit; std gives them as an i32.
        self.status.code().unwrap_or(-1) as u32
    }

    /// Asserts the exit code, with everything the child printed in the message.
    #[track_caller]
    pub fn assert_code(&self, code: u32) {
        assert_eq!(
            self.code(),
            code,
            "expected exit code {code:#x}, got {:#x}\n{self}",
            self.code()
        );
    }
}
