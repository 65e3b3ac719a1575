//! Tells one process that the session ends, as Windows does at logoff or shutdown:
//! `end_session PID logoff|shutdown`.
//!
//! Finds the top-level windows of process `PID` of the class `safe_exit_session` (safe-exit's
//! hidden window) on this program's desktop, and sends each `WM_QUERYENDSESSION` (printing
//! `query N`, the answer) and then `WM_ENDSESSION` with wParam TRUE and lParam
//! `ENDSESSION_LOGOFF` or 0 (printing `end returned` if it returned, `end failed` if it did
//! not: the process ended while handling it). Every message has a 20 s time limit. Exit code
//! 3 with `no window` if the process has no such window, 2 for bad arguments.

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
    use safe_exit_wintests::child::say;
    use windows_sys::core::BOOL;
    use windows_sys::Win32::Foundation::{HWND, LPARAM};
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        EnumWindows, GetClassNameW, GetWindowThreadProcessId, SendMessageTimeoutW,
        ENDSESSION_LOGOFF, SMTO_NORMAL, WM_ENDSESSION, WM_QUERYENDSESSION,
    };

    /// The class of safe-exit's hidden window.
    const CLASS: &str = "safe_exit_session";
    /// The time limit of each message, in milliseconds.
    const LIMIT_MS: u32 = 20_000;

    /// What [`each`] looks for and finds.
    struct Search {
        pid: u32,
        found: Vec<HWND>,
    }

    unsafe extern "system" fn each(hwnd: HWND, lparam: LPARAM) -> BOOL {
        // SAFETY: `lparam` is the `Search` that `main` passed to EnumWindows, alive for the
        // call and not otherwise borrowed meanwhile.
        let search = unsafe { &mut *(lparam as *mut Search) };
        let mut pid = 0;
        let mut class = [0u16; 64];
        // SAFETY: window queries on a handle EnumWindows gave us, into buffers of ours with
        // their sizes.
        let len = unsafe {
            GetWindowThreadProcessId(hwnd, &mut pid);
            GetClassNameW(hwnd, class.as_mut_ptr(), class.len() as i32)
        };
        let class = String::from_utf16_lossy(&class[..len.max(0) as usize]);
        if pid == search.pid && class == CLASS {
            search.found.push(hwnd);
        }
        1
    }

    /// Sends `msg` to `hwnd` with a time limit: the answer, or None if it failed.
    fn send(hwnd: HWND, msg: u32, wparam: usize, lparam: LPARAM) -> Option<usize> {
        let mut answer = 0usize;
        // SAFETY: a message without pointers, to a window handle, with a result slot of ours.
        let sent = unsafe {
            SendMessageTimeoutW(
                hwnd,
                msg,
                wparam,
                lparam,
                SMTO_NORMAL,
                LIMIT_MS,
                &mut answer,
            )
        };
        (sent != 0).then_some(answer)
    }

    pub(crate) fn main() {
        let args: Vec<String> = std::env::args().collect();
        let (Some(pid), Some(kind)) = (args.get(1).and_then(|p| p.parse().ok()), args.get(2))
        else {
            say("usage: end_session PID logoff|shutdown");
            std::process::exit(2);
        };
        let lparam = match kind.as_str() {
            "logoff" => ENDSESSION_LOGOFF as LPARAM,
            "shutdown" => 0,
            _ => {
                say("usage: end_session PID logoff|shutdown");
                std::process::exit(2);
            }
        };
        let mut search = Search {
            pid,
            found: Vec::new(),
        };
        // SAFETY: `each` only uses `search` during the call.
        unsafe { EnumWindows(Some(each), &mut search as *mut Search as LPARAM) };
        if search.found.is_empty() {
            say("no window");
            std::process::exit(3);
        }
        for &hwnd in &search.found {
            match send(hwnd, WM_QUERYENDSESSION, 0, lparam) {
                Some(answer) => say(&format!("query {answer}")),
                None => say("query failed"),
            }
        }
        for &hwnd in &search.found {
            match send(hwnd, WM_ENDSESSION, 1, lparam) {
                Some(_) => say("end returned"),
                None => say("end failed"),
            }
        }
    }
}
