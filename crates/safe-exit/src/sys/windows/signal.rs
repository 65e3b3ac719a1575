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
//!
//! A process that has loaded user32 (every process with safe-exit: it imports user32) gets no
//! `CTRL_LOGOFF_EVENT` or `CTRL_SHUTDOWN_EVENT` here: Windows sends it `WM_QUERYENDSESSION`
//! and `WM_ENDSESSION` instead, which the hidden window of [`session`] turns into the same
//! console events, reported to the core through the same path ([`session_ending`]).
//!
//! **Logoff in a service.** Windows sends `CTRL_LOGOFF_EVENT` to a service when *any* user
//! logs off, and a service must not stop then: its own ending comes from the service control
//! manager (STOP, PRESHUTDOWN, SHUTDOWN; see `service`). So in a process that runs as a
//! service (the dispatcher started it: [`service::is_service`]), a logoff is not ours, with
//! `CTRL_LOGOFF` set or not: the console handler returns FALSE (Windows' default handler in a
//! service leaves the process running) and the hidden window returns from `WM_ENDSESSION`
//! with `ENDSESSION_LOGOFF` doing nothing. It is decided when the event comes, not at
//! `config`, which a service usually calls before `run_service`. An ordinary process acts on
//! a logoff as before; shutdown is handled the same in both.

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
use super::{console, service, session};
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
/// thread Windows creates for each event, `on_exit` at a normal exit, and, when `flags` ask
/// for logoff or shutdown, the hidden window that gets them in a process with user32
/// ([`session`]).
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
    if flags.intersects(ConfigFlag::CTRL_LOGOFF | ConfigFlag::CTRL_SHUTDOWN) {
        // Not an error for `config`: the console events still come to a process without
        // user32 (and Ctrl-C, close and the rest to every process).
        if let Err(e) = session::start() {
            report(&format!(
                "safe-exit: no hidden window for logoff and shutdown ({e}); \
                 their hooks may not run in this process"
            ));
        }
    }
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
    let Some(reason) = reason_for(ctrl, flags, service::is_service()) else {
        // Not ours: the next handler, or Windows' default (which ends the process; in a
        // service it leaves logoff and shutdown alone).
        return FALSE;
    };
    report_reason(reason);
    TRUE
}

/// What console event `ctrl` means under `flags`, in a service or not (`service`): the
/// reason to report to the core, or `None` to leave it to the next handler. In a service a
/// logoff is never ours (see the module docs).
fn reason_for(ctrl: u32, flags: ConfigFlag, service: bool) -> Option<ExitReason> {
    match ctrl {
        CTRL_C_EVENT => Some(ExitReason::Signal(Signal::INT)),
        CTRL_BREAK_EVENT if flags.contains(ConfigFlag::SIGBREAK) => {
            Some(ExitReason::Signal(Signal::BREAK))
        }
        CTRL_CLOSE_EVENT if flags.contains(ConfigFlag::CTRL_CLOSE) => {
            Some(ExitReason::ConsoleEvent(ctrl))
        }
        CTRL_LOGOFF_EVENT if flags.contains(ConfigFlag::CTRL_LOGOFF) && !service => {
            Some(ExitReason::ConsoleEvent(ctrl))
        }
        CTRL_SHUTDOWN_EVENT if flags.contains(ConfigFlag::CTRL_SHUTDOWN) => {
            Some(ExitReason::ConsoleEvent(ctrl))
        }
        _ => None,
    }
}

/// Reports `reason` to the core. Exit mode: the core runs the hooks here and ends the
/// process. For close, logoff and shutdown it keeps this thread until the hooks are done,
/// then ends the process: returning would let Windows end it now, under a running hook or
/// mid-drain. So for those this returns only if [`install`] was never called.
fn report_reason(reason: ExitReason) {
    let f = ON_EVENT.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: ON_EVENT only ever holds a `fn(Event)` (stored by `install`).
        let f = unsafe { std::mem::transmute::<*mut (), fn(Event)>(f) };
        f(Event::Reason(reason));
    }
}

/// The session ends (`WM_ENDSESSION` to the hidden window of [`session`]): reports the
/// console event `ctrl` (`CTRL_LOGOFF_EVENT` or `CTRL_SHUTDOWN_EVENT`) the way the console
/// handler would, and so does not return if it is handled: the hooks run, then the process
/// ends. Returns if the flags leave it alone, or for a logoff in a service.
pub(super) fn session_ending(ctrl: u32) {
    let flags = ConfigFlag::from_bits_truncate(FLAGS.load(Ordering::Acquire));
    if let Some(reason) = reason_for(ctrl, flags, service::is_service()) {
        report_reason(reason);
    }
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

/// Before a hook runs on the calling thread: nothing to restore here.
pub(crate) fn unmask_for_hooks() {}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_ignores_logoff_and_nothing_else() {
        let all = ConfigFlag::DEFAULT;
        let logoff = Some(ExitReason::ConsoleEvent(CTRL_LOGOFF_EVENT));
        let shutdown = Some(ExitReason::ConsoleEvent(CTRL_SHUTDOWN_EVENT));
        // An ordinary process acts on logoff and shutdown.
        assert_eq!(reason_for(CTRL_LOGOFF_EVENT, all, false), logoff);
        assert_eq!(reason_for(CTRL_SHUTDOWN_EVENT, all, false), shutdown);
        // A service leaves logoff alone, and handles the rest as before.
        assert_eq!(reason_for(CTRL_LOGOFF_EVENT, all, true), None);
        assert_eq!(reason_for(CTRL_SHUTDOWN_EVENT, all, true), shutdown);
        assert_eq!(
            reason_for(CTRL_C_EVENT, all, true),
            Some(ExitReason::Signal(Signal::INT))
        );
        assert_eq!(
            reason_for(CTRL_CLOSE_EVENT, all, true),
            Some(ExitReason::ConsoleEvent(CTRL_CLOSE_EVENT))
        );
    }

    #[test]
    fn flags_choose_the_events() {
        let none = ConfigFlag::empty();
        assert_eq!(reason_for(CTRL_LOGOFF_EVENT, none, false), None);
        assert_eq!(reason_for(CTRL_SHUTDOWN_EVENT, none, false), None);
        assert_eq!(reason_for(CTRL_CLOSE_EVENT, none, false), None);
        assert_eq!(reason_for(CTRL_BREAK_EVENT, none, false), None);
        assert_eq!(
            reason_for(CTRL_C_EVENT, none, false),
            Some(ExitReason::Signal(Signal::INT))
        );
        assert_eq!(
            reason_for(CTRL_LOGOFF_EVENT, ConfigFlag::CTRL_LOGOFF, false),
            Some(ExitReason::ConsoleEvent(CTRL_LOGOFF_EVENT))
        );
        assert_eq!(
            reason_for(CTRL_SHUTDOWN_EVENT, ConfigFlag::CTRL_LOGOFF, false),
            None
        );
    }

    #[test]
    fn end_session_messages_map_like_the_console_events() {
        use windows_sys::Win32::UI::WindowsAndMessaging::ENDSESSION_LOGOFF;
        let all = ConfigFlag::DEFAULT;
        let logoff = session::event_of(ENDSESSION_LOGOFF as isize);
        assert_eq!(
            reason_for(logoff, all, false),
            Some(ExitReason::ConsoleEvent(5))
        );
        assert_eq!(reason_for(logoff, all, true), None);
        let shutdown = session::event_of(0);
        assert_eq!(
            reason_for(shutdown, all, false),
            Some(ExitReason::ConsoleEvent(6))
        );
        assert_eq!(
            reason_for(shutdown, all, true),
            Some(ExitReason::ConsoleEvent(6))
        );
    }
}
