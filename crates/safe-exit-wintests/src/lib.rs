//! Test harness for safe-exit's Windows process-level tests, which run on Linux under Wine
//! (`scripts/test-windows`) and on real Windows alike: the one integration-test binary
//! (`tests/windows/`) and the child programs in `src/bin/`.
//!
//! Every scenario runs in real child processes (the programs in `src/bin/`), gets real console
//! events and window messages, and is observed through its stdout lines and its exit code.
//! Nothing here sleeps to synchronise: a child prints `ready` when it is set up, and every wait
//! has a deadline (the watchdog), after which the test fails with everything the child printed
//! so far. A child still running when its `Child` is dropped is terminated.
//!
//! `Child`, `Finished`, `bin!` and the watchdog come from `safe-exit-harness`, which the Linux
//! tests share; what is here is Windows only: consoles, console events, Wine.
//!
//! What Wine cannot emulate (a Ctrl-Break event, a console window's close event) is tested on
//! real Windows only; under Wine such a test calls `skipped_under_wine`, which prints
//! `SKIPPED under Wine: ...` on the real stderr (never captured), and `scripts/test-windows`
//! lists those lines at the end of the run: a skip is never a silent pass.
//!
//! On other platforms this crate is empty and its programs only say that they need Windows.
#![cfg(windows)]

use std::io::Write;

use safe_exit_harness::{console_exclusive, console_shared};

use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};

pub use safe_exit_harness::{bin, with_causes, Child, Finished, WATCHDOG};
pub use windows_sys::Win32::System::Threading::{
    CREATE_NEW_CONSOLE, CREATE_NEW_PROCESS_GROUP, DETACHED_PROCESS,
};

/// The exit code of a console program ended by Ctrl-C (`STATUS_CONTROL_C_EXIT`), which
/// safe-exit also uses after a handled console event.
pub const STATUS_CONTROL_C_EXIT: u32 = 0xC000_013A;

/// Whether this process runs under Wine (its `ntdll.dll` exports `wine_get_version`).
pub fn is_wine() -> bool {
    let name: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
    // SAFETY: a NUL-terminated module name and a NUL-terminated export name; ntdll is always
    // loaded, and a null module is checked for.
    unsafe {
        let ntdll = GetModuleHandleW(name.as_ptr());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

/// Reports that `test` does not run here because Wine cannot emulate `why`, on the real
/// stderr (not captured by the test harness), so that a skip is never a silent pass.
pub fn skipped_under_wine(test: &str, why: &str) {
    // Not while another test has this process away on a target's console (and its stderr).
    console_shared(|| {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED under Wine: {test}: {why} (runs on real Windows)"
        );
    });
}

/// Which console control event [`send_console_event`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// `CTRL_C_EVENT`.
    CtrlC,
    /// `CTRL_BREAK_EVENT`.
    CtrlBreak,
}

/// Sends a console control event to the console of process `pid` with the `ctrl_send`
/// program (which attaches to that console and generates it there, independently of
/// safe-exit). Returns whether `GenerateConsoleCtrlEvent` succeeded.
#[track_caller]
pub fn send_console_event(pid: u32, event: ConsoleEvent) -> bool {
    let which = match event {
        ConsoleEvent::CtrlC => "c",
        ConsoleEvent::CtrlBreak => "break",
    };
    let pid = pid.to_string();
    let sender = Child::spawn(&program("ctrl_send"), &[&pid, which], DETACHED_PROCESS);
    let sender = sender.finish();
    match sender.code() {
        0 => true,
        3 => false,
        _ => panic!("ctrl_send could not reach the console of pid {pid}\n{sender}"),
    }
}

/// The path of the program `name` of this workspace, found beside the running test
/// executable (`CARGO_BIN_EXE_*` exists only for this crate's programs, and only in the
/// integration tests themselves): tests run from `target/.../deps/`, the programs are one
/// level up. Panics if it has not been built.
pub fn program(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test's own path");
    let file = format!("{name}.exe");
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&file))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{file} not found near {}: build it for this target first \
                 (scripts/test-windows does)",
                exe.display()
            )
        })
        .to_string_lossy()
        .into_owned()
}

/// Child-side helpers, for the programs in `src/bin/`.
pub mod child {
    pub use safe_exit_harness::child::{park_forever, say};

    use std::sync::{Mutex, OnceLock};

    /// The log file of [`log`], once [`open_log`] opened it.
    static LOG: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

    /// Opens `path` (appending, created if missing) as the file [`log`] writes to: a
    /// service's stdout goes nowhere, the tests read this file.
    pub fn open_log(path: &str) -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let _ = LOG.set(Mutex::new(file));
        Ok(())
    }

    /// Appends `line` to the log file, if one is open (one write, flushed), and prints it.
    pub fn log(line: &str) {
        use std::io::Write;
        if let Some(file) = LOG.get() {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            let _ = file.write_all(format!("{line}\n").as_bytes());
            let _ = file.flush();
        }
        say(line);
    }

    /// Waits (at most 10 s) until this process has a top-level window of class `class`
    /// (safe-exit's hidden window for logoff and shutdown, created a moment after `config`);
    /// whether it has.
    pub fn wait_for_own_window(class: &str) -> bool {
        use windows_sys::core::BOOL;
        use windows_sys::Win32::Foundation::{HWND, LPARAM};
        use windows_sys::Win32::UI::WindowsAndMessaging::{
            EnumWindows, GetClassNameW, GetWindowThreadProcessId,
        };
        struct Search {
            class: Vec<u16>,
            found: bool,
        }
        unsafe extern "system" fn each(hwnd: HWND, lparam: LPARAM) -> BOOL {
            // SAFETY: `lparam` is the `Search` passed to EnumWindows below, alive and not
            // otherwise borrowed during the call.
            let search = unsafe { &mut *(lparam as *mut Search) };
            let mut pid = 0;
            let mut name = [0u16; 64];
            // SAFETY: queries on a handle EnumWindows gave us, into buffers of ours.
            let len = unsafe {
                GetWindowThreadProcessId(hwnd, &mut pid);
                GetClassNameW(hwnd, name.as_mut_ptr(), name.len() as i32)
            };
            if pid == std::process::id() && name[..len.max(0) as usize] == search.class[..] {
                search.found = true;
            }
            1
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut search = Search {
                class: class.encode_utf16().collect(),
                found: false,
            };
            // SAFETY: `each` uses `search` only during the call.
            unsafe { EnumWindows(Some(each), &mut search as *mut Search as LPARAM) };
            if search.found {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Parses `DEFAULT`, `EMPTY` or flag names joined by `+` (`SIGBREAK+CTRL_CLOSE`).
    pub fn flags(text: &str) -> safe_exit::ConfigFlag {
        let mut flags = safe_exit::ConfigFlag::empty();
        for name in text.split('+') {
            flags |= match name {
                "DEFAULT" => safe_exit::DEFAULT_CONFIG,
                "EMPTY" => safe_exit::ConfigFlag::empty(),
                _ => safe_exit::ConfigFlag::from_name(name)
                    .unwrap_or_else(|| panic!("unknown flag {name}")),
            };
        }
        flags
    }
}

/// Held by each test that starts a Windows service or calls `StartServiceCtrlDispatcherW`
/// outside one: under Wine, a process that is no service and calls the dispatcher can be
/// connected to another service starting at that moment (it then runs as that service), so
/// such tests run one at a time.
pub fn services_exclusive() -> std::sync::MutexGuard<'static, ()> {
    static SERVICES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERVICES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `f`, a test that calls safe_kill in this process, alone: the tests of the test binary
/// run as threads of one process, and safe_kill's visit to a target's console takes this
/// whole process away from its own console for a moment, so no other test may start a
/// process or print meanwhile (see [`console_exclusive`]). It also keeps the tests'
/// expectations about timing easy to read, one at a time.
pub fn serial<T>(f: impl FnOnce() -> T) -> T {
    console_exclusive(f)
}
