//! Sends a console control event to another process's console, without safe-exit:
//! `ctrl_send PID c|break`. Exits 0 when the event was generated, 3 when
//! `GenerateConsoleCtrlEvent` failed (Wine has no Ctrl-Break), 2 when it could not attach to
//! that console.
//!
//! It must be started without a console of its own (`DETACHED_PROCESS`): it attaches to the
//! target's console, ignores the event itself, and generates it for every process there.

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
    use windows_sys::core::BOOL;
    use windows_sys::Win32::Foundation::TRUE;
    use windows_sys::Win32::System::Console::{
        AttachConsole, FreeConsole, GenerateConsoleCtrlEvent, SetConsoleCtrlHandler,
        CTRL_BREAK_EVENT, CTRL_C_EVENT,
    };

    /// Our own copy of the event: ignored.
    unsafe extern "system" fn swallow(_ctrl: u32) -> BOOL {
        TRUE
    }

    pub(crate) fn main() {
        let args: Vec<String> = std::env::args().collect();
        let pid: u32 = args[1].parse().expect("a pid");
        let event = if args[2] == "break" {
            CTRL_BREAK_EVENT
        } else {
            CTRL_C_EVENT
        };
        // SAFETY: console calls with plain values; the handler lives for the whole program.
        unsafe {
            FreeConsole();
            if AttachConsole(pid) == 0 {
                eprintln!("AttachConsole({pid}): {}", std::io::Error::last_os_error());
                std::process::exit(2);
            }
            // Registered after attaching: attaching resets the handler table.
            SetConsoleCtrlHandler(Some(swallow), TRUE);
            if GenerateConsoleCtrlEvent(event, 0) == 0 {
                eprintln!(
                    "GenerateConsoleCtrlEvent: {}",
                    std::io::Error::last_os_error()
                );
                std::process::exit(3);
            }
        }
    }
}
