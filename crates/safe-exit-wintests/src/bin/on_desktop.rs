//! Runs a program on a desktop of its own: `on_desktop DESKTOP PROGRAM [ARGS...]`.
//!
//! Creates the desktop `DESKTOP` (or opens it; a name with a window station, `WINSTA\DESKTOP`,
//! is used as it is), starts `PROGRAM` on it with this program's
//! standard handles, waits for it and exits with its exit code. The program dies with this one
//! (safe-exit's `die_with_parent`: a test that kills this one on failure leaves nothing
//! behind). For tests whose messages go to every window of a desktop (`wineboot
//! --end-session`): on a desktop of their own they reach only that test's processes, not
//! those of the tests running beside it. Exit code 2 with a line on stdout: it could not be
//! started.

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
    use std::ffi::c_void;
    use std::io;

    use safe_exit::CommandExt;
    use safe_exit_wintests::child::say;
    use windows_sys::core::BOOL;
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Console::{
        GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
    };
    use windows_sys::Win32::System::Threading::{
        CreateProcessW, GetExitCodeProcess, WaitForSingleObject, INFINITE, PROCESS_INFORMATION,
        STARTF_USESTDHANDLES, STARTUPINFOW,
    };

    #[link(name = "user32")]
    extern "system" {
        /// user32's `CreateDesktopW` (this crate's windows-sys has no StationsAndDesktops).
        fn CreateDesktopW(
            name: *const u16,
            device: *const u16,
            mode: *const c_void,
            flags: u32,
            access: u32,
            security: *const c_void,
        ) -> *mut c_void;
        /// user32's `CloseDesktop`.
        fn CloseDesktop(desktop: *mut c_void) -> BOOL;
    }

    /// Every access right to a desktop.
    const GENERIC_ALL: u32 = 0x1000_0000;

    fn fail(what: &str) -> ! {
        say(&format!(
            "on_desktop: {what}: {}",
            io::Error::last_os_error()
        ));
        std::process::exit(2);
    }

    /// A command line with each argument quoted the way `CommandLineToArgvW` reads it.
    fn command_line(args: &[String]) -> Vec<u16> {
        let mut line = String::new();
        for arg in args {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push('"');
            let mut backslashes = 0;
            for c in arg.chars() {
                match c {
                    '\\' => backslashes += 1,
                    '"' => {
                        // The backslashes before a quote are doubled, and the quote escaped.
                        line.extend(std::iter::repeat('\\').take(backslashes + 1));
                        backslashes = 0;
                    }
                    _ => backslashes = 0,
                }
                line.push(c);
            }
            // The backslashes before the closing quote are doubled.
            line.extend(std::iter::repeat('\\').take(backslashes));
            line.push('"');
        }
        line.encode_utf16().chain(Some(0)).collect()
    }

    pub(crate) fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.len() < 2 {
            say("usage: on_desktop DESKTOP PROGRAM [ARGS...]");
            std::process::exit(2);
        }
        // From now on every process this one starts dies with it (a kill-on-close job).
        std::process::Command::new(&args[1]).die_with_parent();
        let mut desktop: Vec<u16> = args[0].encode_utf16().chain(Some(0)).collect();
        let mut line = command_line(&args[1..]);
        // A name with a window station (`WINSTA\\DESKTOP`) is an existing desktop: used as is.
        let create = !args[0].contains('\\');
        // SAFETY: a NUL-terminated name; no device or mode (both must be null), default
        // security. The handle stays open until the program has ended (the desktop lives
        // while a handle to it or a thread on it does).
        let hdesk = create.then(|| unsafe {
            CreateDesktopW(
                desktop.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                0,
                GENERIC_ALL,
                std::ptr::null(),
            )
        });
        if hdesk.is_some_and(|h| h.is_null()) {
            fail("CreateDesktopW");
        }
        // SAFETY: a zeroed STARTUPINFOW and PROCESS_INFORMATION are valid; the desktop name
        // and the command line are NUL-terminated and outlive the call (the command line is
        // writable, as CreateProcessW requires); the standard handles are ours, inheritable
        // as we inherited them. The handles it returns are ours to wait on and close.
        unsafe {
            let mut si: STARTUPINFOW = std::mem::zeroed();
            si.cb = std::mem::size_of::<STARTUPINFOW>() as u32;
            si.lpDesktop = desktop.as_mut_ptr();
            si.dwFlags = STARTF_USESTDHANDLES;
            si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
            si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
            si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
            let mut pi: PROCESS_INFORMATION = std::mem::zeroed();
            if CreateProcessW(
                std::ptr::null(),
                line.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                1,
                0,
                std::ptr::null(),
                std::ptr::null(),
                &si,
                &mut pi,
            ) == 0
            {
                fail(&format!("CreateProcessW {:?}", args[1]));
            }
            CloseHandle(pi.hThread);
            WaitForSingleObject(pi.hProcess, INFINITE);
            let mut code = 0u32;
            GetExitCodeProcess(pi.hProcess, &mut code);
            CloseHandle(pi.hProcess);
            if let Some(hdesk) = hdesk {
                CloseDesktop(hdesk);
            }
            std::process::exit(code as i32);
        }
    }
}
