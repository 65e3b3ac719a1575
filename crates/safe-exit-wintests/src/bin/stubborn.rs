//! A console program that ignores every console control event and has no window: only
//! `TerminateProcess` ends it. Prints `ready`, then blocks.

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
    use safe_exit_wintests::child::{park_forever, say};
    use windows_sys::core::BOOL;
    use windows_sys::Win32::Foundation::TRUE;
    use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;

    unsafe extern "system" fn ignore(ctrl: u32) -> BOOL {
        say(&format!("ignoring console event {ctrl}"));
        TRUE
    }

    pub(crate) fn main() {
        // SAFETY: a handler that lives for the whole program.
        unsafe { SetConsoleCtrlHandler(Some(ignore), TRUE) };
        say("ready");
        park_forever()
    }
}
