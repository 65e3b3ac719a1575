//! Notify mode and a close event (CTRL_CLOSE_EVENT): the event requests shutdown, `main`
//! drains and returns, the hooks run at that exit, and the process ends once, with the status
//! the policy says: `STATUS_CONTROL_C_EXIT` by default, `main`'s code with
//! `exit_by_signal(false)`. The console handler keeps its thread until the hooks are done
//! (Windows would end the process when it returns), so it and `main`'s exit both reach the
//! end; each scenario runs several times, since a race between them shows as a random status.
//!
//! Wine's console host never calls the handlers for a closing console window, and
//! `GenerateConsoleCtrlEvent` cannot produce CTRL_CLOSE_EVENT. So the event is delivered the
//! way Windows delivers every console event: a thread started in the target at
//! `CtrlRoutine` (exported by kernelbase), with the event as its argument. That runs the
//! target's handlers just as a closing console window does, under Wine and on Windows alike.

use safe_exit_wintests::{bin, Child, CREATE_NEW_CONSOLE, STATUS_CONTROL_C_EXIT};
use windows_sys::Win32::Foundation::CloseHandle;
use windows_sys::Win32::System::Console::CTRL_CLOSE_EVENT;
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Threading::{
    CreateRemoteThread, OpenProcess, LPTHREAD_START_ROUTINE, PROCESS_CREATE_THREAD,
    PROCESS_QUERY_INFORMATION, PROCESS_VM_OPERATION, PROCESS_VM_READ, PROCESS_VM_WRITE,
};

/// How many times each scenario runs.
const RUNS: usize = 10;

/// Delivers the console control event `ctrl` to process `pid` as Windows does: a thread at
/// `CtrlRoutine` in that process (system DLLs are at the same address in every process).
fn deliver_console_event(pid: u32, ctrl: u32) {
    let name: Vec<u16> = "kernelbase.dll\0".encode_utf16().collect();
    // SAFETY: a NUL-terminated module name and export name; null results are checked for;
    // the thread routine has the signature of `CtrlRoutine` (one pointer-sized argument,
    // a DWORD result); the handles are ours and closed once.
    unsafe {
        let module = GetModuleHandleW(name.as_ptr());
        assert!(!module.is_null(), "kernelbase.dll is not loaded");
        let routine = GetProcAddress(module, c"CtrlRoutine".as_ptr().cast())
            .expect("kernelbase.dll exports CtrlRoutine");
        let start: LPTHREAD_START_ROUTINE = Some(std::mem::transmute::<
            unsafe extern "system" fn() -> isize,
            unsafe extern "system" fn(*mut core::ffi::c_void) -> u32,
        >(routine));
        let process = OpenProcess(
            PROCESS_CREATE_THREAD
                | PROCESS_QUERY_INFORMATION
                | PROCESS_VM_OPERATION
                | PROCESS_VM_READ
                | PROCESS_VM_WRITE,
            0,
            pid,
        );
        assert!(
            !process.is_null(),
            "OpenProcess({pid}): {}",
            std::io::Error::last_os_error()
        );
        let thread = CreateRemoteThread(
            process,
            std::ptr::null(),
            0,
            start,
            ctrl as usize as *const core::ffi::c_void,
            0,
            std::ptr::null_mut(),
        );
        let error = std::io::Error::last_os_error();
        CloseHandle(process);
        assert!(!thread.is_null(), "CreateRemoteThread in {pid}: {error}");
        // Not waited for: the handler keeps the thread until the process ends.
        CloseHandle(thread);
    }
}

/// Runs `win_notify BY_SIGNAL` [`RUNS`] times, ending each by a close event; every run must
/// run the hook once and end with `expected`.
fn one_status(by_signal: &str, expected: u32) {
    let mut codes = Vec::new();
    for _ in 0..RUNS {
        let mut child = Child::spawn(bin!("win_notify"), &[by_signal], CREATE_NEW_CONSOLE);
        child.ready();
        deliver_console_event(child.pid(), CTRL_CLOSE_EVENT);
        let done = child.finish();
        done.assert_once("requested ConsoleEvent(2)");
        done.assert_once("hook ran Some(ConsoleEvent(2))");
        codes.push((done.code(), done.to_string()));
    }
    let wrong: Vec<_> = codes.iter().filter(|(c, _)| *c != expected).collect();
    assert!(
        wrong.is_empty(),
        "expected exit code {expected:#x} in all {RUNS} runs, got {:x?}; first wrong run:\n{}",
        codes.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        wrong[0].1
    );
}

#[test]
fn a_close_event_in_notify_mode_ends_by_the_event_every_time() {
    one_status("true", STATUS_CONTROL_C_EXIT);
}

#[test]
fn a_close_event_in_notify_mode_without_exit_by_signal_ends_with_mains_code_every_time() {
    one_status("false", 7);
}
