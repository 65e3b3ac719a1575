//! A console program with exit hooks: `win_hooks MODE FLAGS`.
//!
//! `FLAGS` is `DEFAULT`, `EMPTY` or `ConfigFlag` names joined by `+`. It reports its console
//! before and after `config` (`before console=0|1 visible=0|1`, `after ...`), registers a hook
//! that prints `hook ran {exit_reason:?}` (and with `slow` in `MODE`, first waits 300 ms, then
//! prints `hook done`), and prints `ready`. Then, by `MODE`:
//!
//! - `wait`, `wait-slow`: blocks until the process is ended from outside;
//! - `return`: returns from `main` with exit code 7;
//! - `request`: calls `request_shutdown(5)`;
//! - `exit`: calls `std::process::exit(4)` (which skips the hooks on Windows: documented).

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    imp::main()
}

#[cfg(not(windows))]
fn main() {
    eprintln!("this test program runs on Windows only");
    std::process::exit(2);
}

#[cfg(windows)]
mod imp {
    use std::process::ExitCode;
    use std::time::Duration;

    use safe_exit_wintests::child::{flags, park_forever, say};
    use windows_sys::Win32::System::Console::GetConsoleWindow;
    use windows_sys::Win32::UI::WindowsAndMessaging::IsWindowVisible;

    fn console(when: &str) {
        // SAFETY: console and window queries without preconditions; null is checked for.
        let (has, visible) = unsafe {
            let w = GetConsoleWindow();
            (!w.is_null(), !w.is_null() && IsWindowVisible(w) != 0)
        };
        say(&format!(
            "{when} console={} visible={} window={}",
            u8::from(has),
            u8::from(visible),
            // SAFETY: as above.
            unsafe { GetConsoleWindow() } as usize
        ));
    }

    pub(crate) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().collect();
        let mode = args.get(1).map_or("wait", String::as_str).to_owned();
        let flags = flags(args.get(2).map_or("DEFAULT", String::as_str));
        console("before");
        if let Err(e) = safe_exit::config(flags) {
            say(&format!("config failed: {e}"));
            return ExitCode::from(2);
        }
        console("after");
        let slow = mode.contains("slow");
        safe_exit::register(move || {
            say(&format!("hook ran {:?}", safe_exit::exit_reason()));
            if slow {
                std::thread::sleep(Duration::from_millis(300));
                say("hook done");
            }
        });
        say("ready");
        match mode.as_str() {
            "return" => ExitCode::from(7),
            "request" => {
                safe_exit::request_shutdown(5);
                say("request_shutdown returned");
                ExitCode::from(1)
            }
            "exit" => std::process::exit(4),
            _ => park_forever(),
        }
    }
}
