//! Exit hooks on Windows: `SetConsoleCtrlHandler` and the C runtime's `atexit`.
//!
//! Windows calls a console control handler on a thread it creates for the purpose: an
//! ordinary thread, so the hooks run right there, with no watcher thread of our own. For
//! Ctrl-C and Ctrl-Break the handler may return at once; for close, logoff and shutdown
//! Windows ends the process as soon as the handler returns (or after its own budget, about
//! 5 s for a closing console window and 5–20 s at logoff or shutdown), so the handler keeps
//! the thread until the hooks are done and then ends the process itself.
//!
//! After a handled event the process ends with `STATUS_CONTROL_C_EXIT` (0xC000013A), the
//! status Windows' own default handler gives a console program ended by Ctrl-C; after
//! [`crate::request_shutdown`] with its code.
//!
//! `main` returning runs the hooks through the C runtime's `atexit`. `std::process::exit`
//! does not: on Windows it calls `ExitProcess` directly, which skips the C runtime's exit
//! handlers (rust-lang/rust#104816), and an executable's TLS callbacks, the only other code
//! that `ExitProcess` runs, are called with all other threads already killed and the loader
//! lock held, where running arbitrary hooks could deadlock (under Wine they are not called at
//! all). A program that must end early with the hooks run calls
//! [`crate::request_shutdown`] instead.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::time::Duration;

use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{FALSE, STATUS_CONTROL_C_EXIT, TRUE};
use windows_sys::Win32::System::Console::{
    AllocConsole, GetConsoleWindow, SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT,
    CTRL_C_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
};
use windows_sys::Win32::System::Threading::ExitProcess;
use windows_sys::Win32::UI::WindowsAndMessaging::{ShowWindow, SW_HIDE};

use super::kill::{SIGBREAK, SIGINT, SIGTERM};
use super::{console, service};
use crate::{ConfigFlag, ExitReason, Signal};

/// The flags in force, for the handler.
static FLAGS: AtomicU32 = AtomicU32::new(0);
/// Whether [`handler`] is registered (for [`reinstall`]).
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The core's functions: for a console event, and at a normal exit.
static ON_EVENT: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
static ON_EXIT: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
/// Whether [`at_exit`] is registered with the C runtime's `atexit`.
static AT_EXIT_REGISTERED: AtomicBool = AtomicBool::new(false);

/// What the console control handler reports to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A termination request: Ctrl-C, Ctrl-Break or a console event.
    Reason(ExitReason),
    /// A wake-up (never sent here: there is no watcher thread).
    #[allow(dead_code)]
    Wake,
}

extern "C" {
    /// The C runtime's `atexit`: runs `f` when `main` returns (the runtime then calls `exit`).
    fn atexit(f: extern "C" fn()) -> core::ffi::c_int;
}

/// SIGINT (Ctrl-C) and SIGTERM always (Windows delivers SIGTERM only to a process that
/// raises it itself), SIGBREAK (Ctrl-Break) by flag.
pub(crate) fn handled_signals(flags: ConfigFlag) -> Vec<i32> {
    let mut sigs = vec![SIGINT, SIGTERM];
    if flags.contains(ConfigFlag::SIGBREAK) {
        sigs.push(SIGBREAK);
    }
    sigs
}

/// Sets up the console (by flag), the console control handler, which calls `on_event` on the
/// thread Windows creates for each event, and `on_exit` at a normal exit.
pub(crate) fn install(flags: ConfigFlag, on_event: fn(Event), on_exit: fn()) -> io::Result<()> {
    ON_EVENT.store(on_event as *mut (), Ordering::Release);
    ON_EXIT.store(on_exit as *mut (), Ordering::Release);
    FLAGS.store(flags.bits(), Ordering::Release);
    // SAFETY: console functions without pointer arguments; a null window is checked for.
    unsafe {
        if flags.contains(ConfigFlag::AUTO_CREATE_CONSOLE) && GetConsoleWindow().is_null() {
            // AllocConsole points the standard handles at the new console: a process whose
            // output goes to a pipe or a file keeps it there.
            let std_handles = console::StdHandles::save();
            if AllocConsole() != 0 {
                std_handles.restore_redirections();
                // A console of our own, to receive console events, but not shown to anyone.
                let window = GetConsoleWindow();
                if !window.is_null() {
                    ShowWindow(window, SW_HIDE);
                }
            }
        }
        if flags.contains(ConfigFlag::FORCE_HIDE_CONSOLE) {
            let window = GetConsoleWindow();
            if !window.is_null() {
                ShowWindow(window, SW_HIDE);
            }
        }
    }
    // SAFETY: `handler` is a valid `extern "system"` handler that lives for the whole program.
    if unsafe { SetConsoleCtrlHandler(Some(handler), TRUE) } == 0 {
        return Err(io::Error::last_os_error());
    }
    INSTALLED.store(true, Ordering::Release);
    if !AT_EXIT_REGISTERED.swap(true, Ordering::AcqRel) {
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that lives as long as the program.
        if unsafe { atexit(at_exit) } != 0 {
            return Err(io::Error::other("atexit refused to register the exit hook"));
        }
    }
    Ok(())
}

/// Registers [`handler`] again if it was installed: Windows empties the table of control
/// handlers whenever the process changes console (safe_kill's visit to a target's console).
pub(super) fn reinstall() {
    if INSTALLED.load(Ordering::Acquire) {
        // SAFETY: as in `install`.
        unsafe { SetConsoleCtrlHandler(Some(handler), TRUE) };
    }
}

/// Console control handler, on the thread Windows created for the event.
unsafe extern "system" fn handler(ctrl: u32) -> BOOL {
    if console::swallow(ctrl) {
        // A Ctrl-C or Ctrl-Break that safe_kill generated for another process.
        return TRUE;
    }
    let flags = ConfigFlag::from_bits_truncate(FLAGS.load(Ordering::Acquire));
    let reason = match ctrl {
        CTRL_C_EVENT => ExitReason::Signal(Signal::INT),
        CTRL_BREAK_EVENT if flags.contains(ConfigFlag::SIGBREAK) => {
            ExitReason::Signal(Signal::BREAK)
        }
        CTRL_CLOSE_EVENT if flags.contains(ConfigFlag::CTRL_CLOSE) => {
            ExitReason::ConsoleEvent(ctrl)
        }
        CTRL_LOGOFF_EVENT if flags.contains(ConfigFlag::CTRL_LOGOFF) => {
            ExitReason::ConsoleEvent(ctrl)
        }
        CTRL_SHUTDOWN_EVENT if flags.contains(ConfigFlag::CTRL_SHUTDOWN) => {
            ExitReason::ConsoleEvent(ctrl)
        }
        // Not ours: the next handler, or Windows' default (which ends the process).
        _ => return FALSE,
    };
    // Exit mode: the core runs the hooks here and ends the process. For close, logoff and
    // shutdown it keeps this thread until the hooks are done, then ends the process: returning
    // would let Windows end it now, under a running hook or mid-drain.
    let f = ON_EVENT.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: ON_EVENT only ever holds a `fn(Event)` (stored by `install`).
        let f = unsafe { std::mem::transmute::<*mut (), fn(Event)>(f) };
        f(Event::Reason(reason));
    }
    TRUE
}

extern "C" fn at_exit() {
    let f = ON_EXIT.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: ON_EXIT only ever holds a `fn()` (stored by `install`).
        let f = unsafe { std::mem::transmute::<*mut (), fn()>(f) };
        f();
    }
}

/// No watcher thread here: the core starts a thread of its own when it needs one.
pub(crate) fn wake() -> bool {
    false
}

/// A console event handler has no repeat logic of its own: the core decides.
pub(crate) fn set_started() {}

/// As [`set_started`].
pub(crate) fn set_ending() {}

/// As [`set_started`].
pub(crate) fn set_force_on_repeat(_force: bool) {}

/// The calling thread's id.
pub(crate) fn current_thread() -> u64 {
    // SAFETY: GetCurrentThreadId has no preconditions.
    u64::from(unsafe { windows_sys::Win32::System::Threading::GetCurrentThreadId() })
}

/// Cannot be known here (`std::process::exit` on Windows does not park other threads anyway).
pub(crate) fn parked_in_exit(_thread: u64) -> bool {
    false
}

/// Writes one line to stderr, never panicking.
pub(crate) fn report(msg: &str) {
    use std::io::Write;
    let _ = writeln!(io::stderr(), "{msg}");
}

/// Nothing to arm here: ending is `ExitProcess`, which takes no lock of the program's.
pub(crate) fn arm_ending_alarm(_reason: ExitReason, _after: Duration) {}

/// Not possible here: the process ends inside `exit`, as before.
pub(crate) fn end_after_exit(_reason: ExitReason) -> bool {
    false
}

/// Ends the process the way `reason` says: after Ctrl-C, Ctrl-Break or a console event with
/// `STATUS_CONTROL_C_EXIT` (0xC000013A), as Windows' own default handler does; a service
/// with the code its main function returned, or 0 after a stop the manager asked for (and
/// it reports `SERVICE_STOPPED` with that code first).
pub(crate) fn end_now(reason: ExitReason) -> ! {
    let code = match reason {
        ExitReason::Signal(_) | ExitReason::ConsoleEvent(_) => STATUS_CONTROL_C_EXIT as u32,
        ExitReason::Requested(code) => code as u32,
        ExitReason::ServiceControl(_) => service::main_code().unwrap_or(0),
        // Hooks that overran their deadline at a normal exit: `main`'s code is not known here
        // (unless `main` is a service's).
        _ => service::main_code().unwrap_or(1),
    };
    service::report_stopped(code);
    // SAFETY: ExitProcess has no preconditions.
    unsafe { ExitProcess(code) }
}

/// No `fork` here; for the one platform-free caller.
pub(crate) fn exit_forked_child(code: i32) -> ! {
    std::process::exit(code)
}

/// No watcher thread here.
pub(crate) fn watcher_thread() -> Option<u64> {
    None
}
