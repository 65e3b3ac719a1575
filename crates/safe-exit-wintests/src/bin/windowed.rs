//! A program with a visible top-level window and an exit hook: `windowed [ignore-close]`.
//!
//! It registers a hook that prints `hook ran {exit_reason:?}`, creates and shows its window,
//! prints `ready`, and runs a message loop. `WM_CLOSE` destroys the window, the loop ends, it
//! prints `closed` and returns from `main` (the hook runs then). With `ignore-close` it
//! ignores `WM_CLOSE` and can only be terminated.

#[cfg(windows)]
fn main() {
    imp::main()
}

#[cfg(not(windows))]
fn main() {
    eprintln!("this test program runs on Windows only");
    std::process::exit(2);
}

#[cfg(windows)]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};

    use safe_exit_wintests::child::say;
    use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, WPARAM};
    use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        CreateWindowExW, DefWindowProcW, DispatchMessageW, GetMessageW, PostQuitMessage,
        RegisterClassW, ShowWindow, TranslateMessage, CW_USEDEFAULT, MSG, SW_SHOW, WM_CLOSE,
        WM_DESTROY, WNDCLASSW, WS_OVERLAPPEDWINDOW,
    };

    static IGNORE_CLOSE: AtomicBool = AtomicBool::new(false);

    unsafe extern "system" fn window_proc(
        hwnd: HWND,
        msg: u32,
        wparam: WPARAM,
        lparam: LPARAM,
    ) -> LRESULT {
        match msg {
            WM_CLOSE if IGNORE_CLOSE.load(Ordering::Relaxed) => {
                say("ignoring WM_CLOSE");
                0
            }
            WM_DESTROY => {
                // SAFETY: called on the window's own thread.
                unsafe { PostQuitMessage(0) };
                0
            }
            // SAFETY: the default procedure with the arguments we were given.
            _ => unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) },
        }
    }

    pub(crate) fn main() {
        IGNORE_CLOSE.store(
            std::env::args().any(|a| a == "ignore-close"),
            Ordering::Relaxed,
        );
        safe_exit::register(|| say(&format!("hook ran {:?}", safe_exit::exit_reason())));
        let class: Vec<u16> = "safe-exit-wintests\0".encode_utf16().collect();
        let title: Vec<u16> = "safe-exit test window\0".encode_utf16().collect();
        // SAFETY: a window class and window with valid NUL-terminated names that outlive the
        // calls, our own module, and a window procedure that lives for the whole program; the
        // message loop runs on the thread that created the window.
        unsafe {
            let instance = GetModuleHandleW(std::ptr::null());
            let mut wc: WNDCLASSW = std::mem::zeroed();
            wc.lpfnWndProc = Some(window_proc);
            wc.hInstance = instance;
            wc.lpszClassName = class.as_ptr();
            if RegisterClassW(&wc) == 0 {
                say(&format!(
                    "RegisterClassW: {}",
                    std::io::Error::last_os_error()
                ));
                std::process::exit(2);
            }
            let hwnd = CreateWindowExW(
                0,
                class.as_ptr(),
                title.as_ptr(),
                WS_OVERLAPPEDWINDOW,
                CW_USEDEFAULT,
                CW_USEDEFAULT,
                320,
                200,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                instance,
                std::ptr::null(),
            );
            if hwnd.is_null() {
                say(&format!(
                    "CreateWindowExW: {}",
                    std::io::Error::last_os_error()
                ));
                std::process::exit(2);
            }
            ShowWindow(hwnd, SW_SHOW);
            say("ready");
            let mut msg: MSG = std::mem::zeroed();
            while GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) > 0 {
                TranslateMessage(&msg);
                DispatchMessageW(&msg);
            }
        }
        say("closed");
    }
}
