//! A program that has loaded user32 and wants its hooks at logoff and shutdown:
//! `win_session FILE [FLAGS]`.
//!
//! It loads `user32.dll` (as a GUI toolkit would) before configuring safe-exit with `FLAGS`
//! (`DEFAULT` if absent; `DEFAULT`, `EMPTY` or flag names joined by `+`), prints how long
//! `config` took (`config took MICROS us`), registers a hook that appends
//! `hook {exit_reason:?}` to `FILE` (and prints `hook ran {exit_reason:?}`), prints `ready` and
//! blocks until the process is ended from outside.

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
    use std::io::Write;
    use std::process::ExitCode;
    use std::time::Instant;

    use safe_exit_wintests::child::{flags, park_forever, say, wait_for_own_window};
    use windows_sys::Win32::System::LibraryLoader::LoadLibraryW;

    pub(crate) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().collect();
        let Some(file) = args.get(1).cloned() else {
            say("usage: win_session FILE [FLAGS]");
            return ExitCode::from(2);
        };
        let flags = flags(args.get(2).map_or("DEFAULT", String::as_str));
        let user32: Vec<u16> = "user32.dll\0".encode_utf16().collect();
        // SAFETY: a NUL-terminated module name; user32 has no initialisation of ours to run.
        if unsafe { LoadLibraryW(user32.as_ptr()) }.is_null() {
            say(&format!(
                "LoadLibraryW: {}",
                std::io::Error::last_os_error()
            ));
            return ExitCode::from(2);
        }
        let start = Instant::now();
        if let Err(e) = safe_exit::config(flags) {
            say(&format!("config failed: {e}"));
            return ExitCode::from(2);
        }
        say(&format!("config took {} us", start.elapsed().as_micros()));
        safe_exit::register(move || {
            let reason = safe_exit::exit_reason();
            say(&format!("hook ran {reason:?}"));
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .and_then(|mut f| writeln!(f, "hook {reason:?}"));
            if let Err(e) = appended {
                say(&format!("cannot append to {file}: {e}"));
            }
        });
        // The hidden window comes a moment after `config`: the test sends it messages.
        let wanted = safe_exit::ConfigFlag::CTRL_LOGOFF | safe_exit::ConfigFlag::CTRL_SHUTDOWN;
        if flags.intersects(wanted) && !wait_for_own_window("safe_exit_session") {
            say("no hidden window within 10 s");
        }
        say("ready");
        park_forever()
    }
}
