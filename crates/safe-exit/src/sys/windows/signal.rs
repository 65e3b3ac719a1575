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
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Once;

use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{FALSE, STATUS_CONTROL_C_EXIT, TRUE};
use windows_sys::Win32::System::Console::{
    AllocConsole, GetConsoleWindow, SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT,
    CTRL_C_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
};
use windows_sys::Win32::System::Threading::ExitProcess;
use windows_sys::Win32::UI::WindowsAndMessaging::{ShowWindow, SW_HIDE};

use super::console;
use super::kill::{SIGBREAK, SIGINT, SIGTERM};
use crate::{ConfigFlag, ExitReason};

/// The flags in force, for the handler.
static FLAGS: AtomicU32 = AtomicU32::new(0);
/// Whether [`handler`] is registered (for [`reinstall`]).
static INSTALLED: AtomicBool = AtomicBool::new(false);

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

/// Sets up the console (by flag), the console control handler and the exit hook.
pub(crate) fn install(flags: ConfigFlag) -> io::Result<()> {
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
    static AT_EXIT: Once = Once::new();
    let mut result = Ok(());
    AT_EXIT.call_once(|| {
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that lives as long as the program.
        if unsafe { atexit(at_exit) } != 0 {
            result = Err(io::Error::other("atexit refused to register the exit hook"));
        }
    });
    result
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
        CTRL_C_EVENT => ExitReason::Signal(SIGINT),
        CTRL_BREAK_EVENT if flags.contains(ConfigFlag::SIGBREAK) => ExitReason::Signal(SIGBREAK),
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
    // Exit mode: runs the hooks here and ends the process. It returns in notify mode (after
    // the grace period, if one is set and `main` returned in time), or when another trigger
    // is already running the hooks.
    crate::registry::on_termination(reason);
    if matches!(
        ctrl,
        CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT
    ) {
        // Returning would let Windows end the process now, under a running hook or mid-drain:
        // keep this thread until the hooks are done, then end as the event asks.
        crate::registry::wait_done();
        crate::registry::end(reason);
    }
    TRUE
}

extern "C" fn at_exit() {
    crate::registry::on_normal_exit();
}

/// Ends the process the way `reason` says: after Ctrl-C, Ctrl-Break or a console event with
/// `STATUS_CONTROL_C_EXIT` (0xC000013A), as Windows' own default handler does.
pub(crate) fn terminate(reason: ExitReason) -> ! {
    let code = match reason {
        ExitReason::Signal(_) | ExitReason::ConsoleEvent(_) => STATUS_CONTROL_C_EXIT as u32,
        ExitReason::Requested(code) => code as u32,
        // Hooks that overran their deadline at a normal exit: `main`'s code is not known here.
        _ => 1,
    };
    // SAFETY: ExitProcess has no preconditions.
    unsafe { ExitProcess(code) }
}
