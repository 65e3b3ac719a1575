//! Logoff and shutdown for a process that has loaded user32: a hidden top-level window.
//!
//! Windows sends `CTRL_LOGOFF_EVENT` and `CTRL_SHUTDOWN_EVENT` to the console control handler
//! only of a process that has not loaded `user32.dll` (or `gdi32.dll`): any other process is a
//! "Windows application" and is told that the session ends by window messages instead,
//! `WM_QUERYENDSESSION` and then `WM_ENDSESSION`, sent to its top-level windows. A process
//! without a window is then ended without a word, its hooks never run. So when the
//! configuration asks for logoff or shutdown ([`ConfigFlag::CTRL_LOGOFF`],
//! [`ConfigFlag::CTRL_SHUTDOWN`]), [`start`] creates, on a thread of its own with a message
//! loop (`safe-exit-session`), a hidden top-level window of the class `safe_exit_session`
//! (not a message-only window: those are not sent `WM_QUERYENDSESSION`). It allows the session
//! to end (`WM_QUERYENDSESSION` returns TRUE) and, on `WM_ENDSESSION` with wParam TRUE,
//! reports the console event that the console handler would have reported
//! ([`super::signal::session_ending`]: logoff if lParam has `ENDSESSION_LOGOFF`, else
//! shutdown) through the same path, and does not return: Windows ends the process as soon as
//! `WM_ENDSESSION` returns, so the window's thread keeps it until the hooks are done and then
//! ends the process itself. If the console event comes as well, the core runs the hooks once.
//!
//! **Always, not only when user32 is loaded.** The window is created whenever the flags ask
//! for logoff or shutdown, without first checking `GetModuleHandleW("user32.dll")`: safe-exit
//! itself imports `ShowWindow`, `EnumWindows` and `PostMessageW` from user32 (hiding its
//! console, safe_kill's `WM_CLOSE`), so user32 is in every process that uses it, loaded with
//! the executable, and such a check would always be true. Were it not, the check would still
//! be wrong for a program that loads user32 later (a GUI toolkit or a library opened after
//! `config`, a shell function that loads it behind the scenes): from then on it would get
//! neither the console events nor the messages. The cost is one thread, blocked in
//! `GetMessageW`, and one window. `install` does not wait for it (creating a window takes
//! milliseconds, 8 to 25 under Wine, which every program's start would pay): the window
//! exists a few milliseconds after `config`, and a logoff in between reaches a program without
//! its hooks only if it has user32's windows of its own, as before.
//!
//! `WM_CLOSE` sent to this window (by `taskkill` without `/F`, say) is ignored: the window is
//! hidden and not the program's, and closing it would only lose the messages.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use windows_sys::Win32::Foundation::{HINSTANCE, HWND, LPARAM, LRESULT, WPARAM};
use windows_sys::Win32::System::Console::{CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT};
use windows_sys::Win32::System::LibraryLoader::{
    GetModuleHandleExW, GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
    GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DispatchMessageW, GetMessageW, RegisterClassW,
    TranslateMessage, ENDSESSION_LOGOFF, MSG, WM_CLOSE, WM_ENDSESSION, WM_QUERYENDSESSION,
    WNDCLASSW, WS_OVERLAPPED,
};

use super::signal;

/// The window class's name (tests find the window by it).
pub(crate) const CLASS_NAME: &str = "safe_exit_session";
/// Whether [`start`] was called (the window is created once per process).
static STARTED: AtomicBool = AtomicBool::new(false);

/// Starts the thread that creates the hidden window and runs its message loop, once per
/// process, without waiting for the window (a failure to create it is reported on stderr by
/// that thread). An error if the thread cannot be started.
pub(crate) fn start() -> io::Result<()> {
    if STARTED.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    let spawned = std::thread::Builder::new()
        .name("safe-exit-session".into())
        .spawn(run);
    if let Err(e) = spawned {
        STARTED.store(false, Ordering::Release);
        return Err(e);
    }
    Ok(())
}

/// The window's thread: creates the window and runs the message loop for the rest of the
/// process's life.
fn run() {
    if let Err(e) = create_window() {
        super::report(&format!(
            "safe-exit: no hidden window for logoff and shutdown ({e}); their hooks may not \
             run in this process"
        ));
        return;
    }
    // SAFETY: an MSG for GetMessageW to fill, on the thread that owns the window; a zeroed MSG
    // is a valid value of this plain C struct.
    unsafe {
        let mut msg: MSG = std::mem::zeroed();
        // 0: WM_QUIT (never posted here); -1: an error (an invalid argument: not here).
        while GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) > 0 {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
}

/// Registers the class (for the module this code is in) and creates the hidden window.
fn create_window() -> io::Result<HWND> {
    let class: Vec<u16> = CLASS_NAME.encode_utf16().chain(Some(0)).collect();
    let title: Vec<u16> = "safe-exit logoff and shutdown\0".encode_utf16().collect();
    let instance = own_module()?;
    // SAFETY: a zeroed WNDCLASSW is valid (no callbacks, null names); we fill in a window
    // procedure that lives for the whole program and a NUL-terminated class name that
    // outlives the call (Windows copies it).
    let registered = unsafe {
        let mut wc: WNDCLASSW = std::mem::zeroed();
        wc.lpfnWndProc = Some(window_proc);
        wc.hInstance = instance;
        wc.lpszClassName = class.as_ptr();
        RegisterClassW(&wc)
    };
    if registered == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the class registered above, for `instance`; NUL-terminated names that outlive
    // the call; no parent (a top-level window: HWND_MESSAGE windows get no end-session
    // messages), no menu, no creation data. Without WS_VISIBLE it stays hidden.
    let hwnd = unsafe {
        CreateWindowExW(
            0,
            class.as_ptr(),
            title.as_ptr(),
            WS_OVERLAPPED,
            0,
            0,
            0,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            instance,
            std::ptr::null(),
        )
    };
    if hwnd.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(hwnd)
}

/// The module this code is in (the executable, or the DLL safe-exit is linked into): window
/// classes are per module, so two copies of safe-exit in one process get a class each.
fn own_module() -> io::Result<HINSTANCE> {
    let mut module: HINSTANCE = std::ptr::null_mut();
    // SAFETY: FROM_ADDRESS takes an address inside a module (our window procedure) in place of
    // a name; UNCHANGED_REFCOUNT leaves the module's count alone (it cannot be unloaded while
    // this code runs anyway); `module` receives the handle.
    let found = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
            window_proc as *const () as *const u16,
            &mut module,
        )
    };
    if found == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(module)
}

/// Which console event a `WM_ENDSESSION` with these flags (its lParam) stands for: logoff
/// with `ENDSESSION_LOGOFF`, otherwise shutdown (also `ENDSESSION_CLOSEAPP` alone: the system
/// ends the program, as at shutdown).
pub(crate) fn event_of(lparam: LPARAM) -> u32 {
    // lParam holds 32 bits of flags.
    if (lparam as u32) & ENDSESSION_LOGOFF != 0 {
        CTRL_LOGOFF_EVENT
    } else {
        CTRL_SHUTDOWN_EVENT
    }
}

/// The hidden window's procedure, on its thread.
unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match msg {
        // The session may end: the hooks run when it does (WM_ENDSESSION).
        WM_QUERYENDSESSION => 1,
        // wParam FALSE: the ending was cancelled.
        WM_ENDSESSION if wparam != 0 => {
            // Does not return when safe-exit handles the event: the hooks run and the process
            // ends. It returns when it is not handled (a flag not set, a service at logoff):
            // Windows goes on as for a program without hooks.
            signal::session_ending(event_of(lparam));
            0
        }
        WM_ENDSESSION | WM_CLOSE => 0,
        // SAFETY: the default procedure with the arguments we were given.
        _ => unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use windows_sys::Win32::UI::WindowsAndMessaging::{ENDSESSION_CLOSEAPP, ENDSESSION_CRITICAL};

    #[test]
    fn lparam_maps_to_the_console_event() {
        assert_eq!(event_of(0), CTRL_SHUTDOWN_EVENT);
        assert_eq!(event_of(ENDSESSION_LOGOFF as LPARAM), CTRL_LOGOFF_EVENT);
        assert_eq!(
            event_of((ENDSESSION_LOGOFF | ENDSESSION_CRITICAL) as LPARAM),
            CTRL_LOGOFF_EVENT
        );
        assert_eq!(event_of(ENDSESSION_CLOSEAPP as LPARAM), CTRL_SHUTDOWN_EVENT);
    }
}
