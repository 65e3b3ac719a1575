//! Console control events for other processes, without harm to the caller.
//!
//! Windows generates a console control event (Ctrl-C, Ctrl-Break) only on the caller's own
//! console, and it then reaches every process attached to that console. To ask another
//! process to end, [`send_ctrl_event`] therefore leaves its own console, attaches to the
//! target's, generates the event there, and comes back. That visit is dangerous in three
//! ways, and each is dealt with here:
//!
//! 1. **The event reaches the caller too**: it is attached to that console when it generates
//!    the event. While it is away, [`swallow`] takes every Ctrl-C and Ctrl-Break: a guard
//!    handler registered right after attaching (so first in line), and safe-exit's own
//!    handler, which asks [`swallow`] first, both return `TRUE` for them. The visit waits
//!    (notified by the guard, never by sleeping) until the caller's copy of the event has
//!    arrived before it detaches, so the event cannot land after the caller came back.
//!    A caller that ignores Ctrl-C (`SetConsoleCtrlHandler(NULL, TRUE)`, or started with
//!    `CREATE_NEW_PROCESS_GROUP`) gets no copy of a Ctrl-C: Windows calls no handler of its
//!    for one ([`ignores_ctrl_c`]). Nothing is waited for then, and nothing is armed for a
//!    copy that cannot come. A copy that has not come when the caller detaches is expected
//!    late, for a bounded time only ([`LATE`]): never is a real Ctrl-C taken for one much
//!    later.
//! 2. **Windows resets the caller's table of control handlers** whenever the process changes
//!    console (`AttachConsole`, `AllocConsole` and `FreeConsole` all do it; see the remarks on
//!    `SetConsoleCtrlHandler`). The guard is registered after attaching for that reason. A
//!    probe handler registered before leaving tells afterwards whether the table was reset
//!    (it is gone then); if so, safe-exit's own handler is registered again, so the caller's
//!    hooks still run on its own Ctrl-C. Handlers that other code registered with
//!    `SetConsoleCtrlHandler` cannot be enumerated, so Windows' reset loses them.
//! 3. **The caller's console and standard handles.** Before leaving, the processes sharing
//!    the caller's console are listed (`GetConsoleProcessList`); coming back means attaching
//!    to one of them. A caller alone on its console would destroy it by leaving (the window
//!    closes, a terminal tab may close), so a keeper process (`cmd.exe` reading from a pipe)
//!    is started on it first and ended after the return. If no way back works, a new console
//!    is allocated, hidden unless the old one was shown. `AttachConsole` and `AllocConsole`
//!    point the standard handles at the new console, so they are saved and put back (console
//!    handles of a console that no longer exists are left to the new one).
//!
//! A target attached to the caller's own console is refused: an event there would reach
//! every process on that console (the caller, its shell, its siblings) and cannot be
//! addressed to one of them.

use std::io;
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{
    ERROR_GEN_FAILURE, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, FALSE, HANDLE, TRUE,
};
use windows_sys::Win32::System::Console::{
    AllocConsole, AttachConsole, FreeConsole, GenerateConsoleCtrlEvent, GetConsoleMode,
    GetConsoleProcessList, GetConsoleWindow, GetStdHandle, SetConsoleCtrlHandler, SetStdHandle,
    CTRL_BREAK_EVENT, CTRL_C_EVENT, STD_ERROR_HANDLE, STD_HANDLE, STD_INPUT_HANDLE,
    STD_OUTPUT_HANDLE,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{IsWindowVisible, ShowWindow, SW_HIDE};

/// How long the caller waits for its own copy of the event before it detaches. Windows
/// delivers it within milliseconds; if it has not come by then, the next Ctrl-C or
/// Ctrl-Break within [`LATE`] is taken for it and swallowed (a late copy must not end the
/// caller).
const ARRIVAL: Duration = Duration::from_secs(2);

/// How long after the visit a copy that had not arrived is still expected: after that, a
/// Ctrl-C is the caller's own again (a copy that never came must not swallow it).
const LATE: Duration = Duration::from_secs(10);

/// `CONSOLE_IGNORE_CTRL_C` in `ConsoleFlags` of the process parameters.
const IGNORE_CTRL_C: u32 = 1;

/// What [`swallow`] does now.
struct Swallow {
    /// The caller is attached to a target's console: every Ctrl-C and Ctrl-Break is for the
    /// target (ours included), none for us.
    away: bool,
    /// Events swallowed during the current visit.
    arrived: u32,
    /// Our copies of generated events that had not arrived when we detached.
    late: u32,
    /// Until when they are expected.
    late_until: Option<Instant>,
}

static SWALLOW: Mutex<Swallow> = Mutex::new(Swallow {
    away: false,
    arrived: 0,
    late: 0,
    late_until: None,
});
/// Notified by [`swallow`] when an event arrives during a visit.
static ARRIVED: Condvar = Condvar::new();
/// Console attachment belongs to the process: one visit at a time.
static VISIT: Mutex<()> = Mutex::new(());

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the console event `ctrl` is one that safe_kill generated for another process and
/// this process must ignore. Called first by every control handler of ours.
pub(super) fn swallow(ctrl: u32) -> bool {
    if ctrl != CTRL_C_EVENT && ctrl != CTRL_BREAK_EVENT {
        return false;
    }
    let mut s = lock(&SWALLOW);
    if s.away {
        s.arrived += 1;
        drop(s);
        ARRIVED.notify_all();
        true
    } else if s.late > 0 {
        if s.late_until.is_some_and(|until| Instant::now() < until) {
            s.late -= 1;
            true
        } else {
            // Expected too long ago: this one is real, and the copies are not coming.
            s.late = 0;
            s.late_until = None;
            false
        }
    } else {
        false
    }
}

/// Whether this process ignores Ctrl-C: the flag that `SetConsoleCtrlHandler(NULL, TRUE)`
/// sets (and `SetConsoleCtrlHandler(NULL, FALSE)` clears), with which Windows starts a
/// process created with `CREATE_NEW_PROCESS_GROUP`. There is no function to read it: it is
/// `CONSOLE_IGNORE_CTRL_C` in `ConsoleFlags` of the process parameters in the PEB, which is
/// where kernelbase's `CtrlRoutine` looks before it calls any handler for a Ctrl-C (Wine's
/// too, for every event). False if it cannot be read.
fn ignores_ctrl_c() -> bool {
    use windows_sys::Win32::System::Threading::GetCurrentProcess;
    #[link(name = "ntdll")]
    extern "system" {
        fn NtQueryInformationProcess(
            process: HANDLE,
            class: i32,
            info: *mut core::ffi::c_void,
            len: u32,
            returned: *mut u32,
        ) -> i32;
    }
    /// `ProcessBasicInformation`.
    const BASIC_INFORMATION: i32 = 0;
    /// `PROCESS_BASIC_INFORMATION` (windows-sys has it only with the `Win32_System_Kernel`
    /// feature).
    #[repr(C)]
    struct BasicInformation {
        exit_status: i32,
        peb: *const u8,
        affinity_mask: usize,
        base_priority: i32,
        unique_process_id: usize,
        inherited_from: usize,
    }
    let ptr = std::mem::size_of::<usize>();
    // In the PEB: two bytes, a BOOLEAN, a byte, padding to a pointer, then `Mutant`,
    // `ImageBaseAddress`, `Ldr` and `ProcessParameters`.
    let process_parameters = ptr.max(4) + 3 * ptr;
    // In RTL_USER_PROCESS_PARAMETERS: four ULONGs and `ConsoleHandle`, then `ConsoleFlags`.
    let console_flags = 16 + ptr;
    let mut info = BasicInformation {
        exit_status: 0,
        peb: std::ptr::null(),
        affinity_mask: 0,
        base_priority: 0,
        unique_process_id: 0,
        inherited_from: 0,
    };
    // SAFETY: NtQueryInformationProcess fills a PROCESS_BASIC_INFORMATION of ours, of the
    // size given. Our own PEB and process parameters live as long as the process; null
    // pointers are checked for; the offsets are those of the documented layouts above.
    // `ConsoleFlags` is read as it is: another thread may change it.
    unsafe {
        let status = NtQueryInformationProcess(
            GetCurrentProcess(),
            BASIC_INFORMATION,
            (&mut info as *mut BasicInformation).cast(),
            std::mem::size_of::<BasicInformation>() as u32,
            std::ptr::null_mut(),
        );
        if status < 0 || info.peb.is_null() {
            return false;
        }
        let params = info
            .peb
            .add(process_parameters)
            .cast::<*const u8>()
            .read_unaligned();
        if params.is_null() {
            return false;
        }
        let flags = params.add(console_flags).cast::<u32>();
        std::ptr::read_volatile(flags) & IGNORE_CTRL_C != 0
    }
}

/// Registered first in line while the caller visits a target's console.
unsafe extern "system" fn guard(ctrl: u32) -> BOOL {
    if swallow(ctrl) {
        TRUE
    } else {
        FALSE
    }
}

/// Never handles anything: only its presence in the table after a visit is looked at.
unsafe extern "system" fn probe(_ctrl: u32) -> BOOL {
    FALSE
}

/// Sends the console control event `event` (`CTRL_C_EVENT` or `CTRL_BREAK_EVENT`) to the
/// console of process `pid`, reaching every process attached to it, as if the keys were
/// pressed there. See the module docs for how the caller is kept safe.
///
/// Errors: [`io::ErrorKind::Unsupported`] when the event cannot be addressed to the target
/// (it has no console, or it shares ours), [`io::ErrorKind::NotFound`] if it has gone,
/// otherwise what Windows reported, naming the call.
pub(super) fn send_ctrl_event(pid: u32, event: u32) -> io::Result<()> {
    let _one = lock(&VISIT);
    let me = std::process::id();
    let ours = console_processes();
    if ours.contains(&pid) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "it is attached to this process's own console, where a console control event \
             would reach every attached process (this one, its shell and siblings too) and \
             cannot be addressed to one; start it with CREATE_NEW_CONSOLE, give it a window, \
             or end it with SIGKILL (TerminateProcess)",
        ));
    }
    let mut home = Home::save(&ours, me);

    // SAFETY: `probe` is an `extern "system"` handler that lives for the whole program.
    unsafe { SetConsoleCtrlHandler(Some(probe), TRUE) };
    let sent = visit(pid, event);
    home.restore();
    // SAFETY: as above; removing a handler that is not registered fails harmlessly.
    let reset = unsafe { SetConsoleCtrlHandler(Some(probe), FALSE) } == 0;
    let late = lock(&SWALLOW).late > 0;
    // SAFETY: `guard` lives for the whole program, like `probe`.
    unsafe {
        if reset {
            // Windows emptied the table when we changed console: our own handler goes
            // back, and the guard too while a copy of the event may still come.
            super::signal::reinstall();
            if late {
                SetConsoleCtrlHandler(Some(guard), TRUE);
            }
        } else if !late {
            // The table survived (as under Wine): the guard registered during the visit
            // is still in it, and no longer needed.
            SetConsoleCtrlHandler(Some(guard), FALSE);
        }
    }
    sent
}

/// Attaches to `pid`'s console, generates the event there, waits for our own copy, and
/// detaches. The caller has no console when this returns.
fn visit(pid: u32, event: u32) -> io::Result<()> {
    // Also when `GetConsoleProcessList` saw no console: Wine gives a process started without
    // a terminal a console that it does not list, and AttachConsole fails while attached.
    // SAFETY: FreeConsole has no preconditions; it fails harmlessly without a console.
    unsafe { FreeConsole() };
    {
        let mut s = lock(&SWALLOW);
        s.away = true;
        s.arrived = 0;
    }
    // SAFETY: AttachConsole takes any process id.
    if unsafe { AttachConsole(pid) } == 0 {
        let e = io::Error::last_os_error();
        lock(&SWALLOW).away = false;
        return Err(match e.raw_os_error().map(|c| c as u32) {
            Some(ERROR_INVALID_HANDLE) => io::Error::new(
                io::ErrorKind::Unsupported,
                "it has neither a visible window (for WM_CLOSE) nor a console (for a console \
                 control event), so it cannot be asked to end; end it with SIGKILL \
                 (TerminateProcess)",
            ),
            Some(ERROR_INVALID_PARAMETER | ERROR_GEN_FAILURE) => {
                io::Error::new(io::ErrorKind::NotFound, "the process has exited")
            }
            // Not "permission denied" for safe_kill: that would say the target is another
            // user's.
            _ => io::Error::other(format!("AttachConsole: {e}")),
        });
    }
    // SAFETY: `guard` is an `extern "system"` handler that lives for the whole program.
    unsafe { SetConsoleCtrlHandler(Some(guard), TRUE) };
    // A caller that ignores Ctrl-C gets no copy of one: nothing to wait for, nothing to
    // expect later (Ctrl-Break is not ignored, on Windows).
    let copy_comes = !(event == CTRL_C_EVENT && ignores_ctrl_c());
    // SAFETY: plain call; group 0 is every process on the console we are now attached to.
    let generated = unsafe { GenerateConsoleCtrlEvent(event, 0) } != 0;
    let failure = (!generated).then(io::Error::last_os_error);
    let arrived = generated && copy_comes && {
        let until = Instant::now() + ARRIVAL;
        let mut s = lock(&SWALLOW);
        while s.arrived == 0 {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = ARRIVED
                .wait_timeout(s, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        s.arrived > 0
    };
    // Still swallowing while we detach: nothing from that console is for us.
    // SAFETY: FreeConsole has no preconditions.
    unsafe { FreeConsole() };
    {
        let mut s = lock(&SWALLOW);
        s.away = false;
        if generated && copy_comes && !arrived {
            s.late += 1;
            s.late_until = Some(Instant::now() + LATE);
        }
    }
    match failure {
        None => Ok(()),
        Some(e) => {
            let name = if event == CTRL_BREAK_EVENT {
                "CTRL_BREAK_EVENT"
            } else {
                "CTRL_C_EVENT"
            };
            Err(io::Error::new(
                e.kind(),
                format!("GenerateConsoleCtrlEvent({name}) on its console failed: {e}"),
            ))
        }
    }
}

/// The processes attached to our console, ourselves included; empty without a console.
fn console_processes() -> Vec<u32> {
    let mut pids = vec![0u32; 16];
    loop {
        // SAFETY: the buffer holds `pids.len()` process ids.
        let n = unsafe { GetConsoleProcessList(pids.as_mut_ptr(), pids.len() as u32) } as usize;
        if n <= pids.len() {
            pids.truncate(n);
            return pids;
        }
        pids.resize(n + 8, 0);
    }
}

/// The standard handles, and whether each was a console handle.
pub(super) struct StdHandles([(STD_HANDLE, HANDLE, bool); 3]);

impl StdHandles {
    /// The standard handles now.
    pub(super) fn save() -> StdHandles {
        StdHandles(
            [STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE].map(|which| {
                // SAFETY: GetStdHandle and GetConsoleMode accept any handle value.
                unsafe {
                    let h = GetStdHandle(which);
                    let mut mode = 0;
                    (which, h, GetConsoleMode(h, &mut mode) != 0)
                }
            }),
        )
    }

    /// Puts all the saved handles back.
    fn restore(&self) {
        self.restore_where(|_| true)
    }

    /// After `AllocConsole`, which points all three at the new console: puts back those that
    /// were not console handles, so that output going to a pipe or a file stays there.
    pub(super) fn restore_redirections(&self) {
        self.restore_where(|console| !console)
    }

    fn restore_where(&self, keep: impl Fn(bool) -> bool) {
        for &(which, h, console) in &self.0 {
            if keep(console) {
                // SAFETY: the handle value was the process's own standard handle.
                unsafe { SetStdHandle(which, h) };
            }
        }
    }
}

/// Where the caller was before a visit, to go back.
struct Home {
    had_console: bool,
    /// Other processes on our console, to attach to again.
    others: Vec<u32>,
    /// Keeps our console alive while we are away, when no other process is attached to it.
    keeper: Option<std::process::Child>,
    /// Whether our console window was hidden (or there was none to show).
    hidden: bool,
    std: StdHandles,
}

impl Home {
    fn save(ours: &[u32], me: u32) -> Home {
        let had_console = !ours.is_empty();
        // SAFETY: console queries without preconditions; a null window is checked for.
        let hidden = unsafe {
            let window = GetConsoleWindow();
            window.is_null() || IsWindowVisible(window) == 0
        };
        let others: Vec<u32> = ours.iter().copied().filter(|&p| p != me).collect();
        let keeper = if had_console && others.is_empty() {
            start_keeper()
        } else {
            None
        };
        Home {
            had_console,
            others,
            keeper,
            hidden,
            std: StdHandles::save(),
        }
    }

    /// Attaches to our console again (or a new one) and puts the standard handles back.
    fn restore(&mut self) {
        if !self.had_console {
            self.std.restore();
            return;
        }
        let keeper = self.keeper.as_ref().map(std::process::Child::id);
        // SAFETY: AttachConsole takes any process id; we have no console at this point.
        let back = keeper
            .into_iter()
            .chain(self.others.iter().copied())
            .any(|pid| unsafe { AttachConsole(pid) } != 0);
        if back {
            self.std.restore();
        } else {
            // Our console is gone: a new one, as discreet as the old.
            // SAFETY: console calls without pointer arguments; a null window is checked for.
            unsafe {
                if AllocConsole() != 0 && self.hidden {
                    let window = GetConsoleWindow();
                    if !window.is_null() {
                        ShowWindow(window, SW_HIDE);
                    }
                }
            }
            self.std.restore_redirections();
        }
        // The end of its input: the keeper exits.
        drop(self.keeper.take());
    }
}

/// How long a keeper may take to start.
const KEEPER_START: Duration = Duration::from_secs(5);

/// Starts `cmd.exe` on our console, reading commands from a pipe that we hold: while it
/// runs, our console outlives our leaving it. Returns once it is attached (it has printed a
/// line), or `None` if it cannot be started in time (then the console may be lost, and a new
/// one is allocated after the visit).
fn start_keeper() -> Option<std::process::Child> {
    let cmd = std::env::var_os("SystemRoot")
        .map(|root| std::path::Path::new(&root).join("System32").join("cmd.exe"))
        .unwrap_or_else(|| "cmd.exe".into());
    let mut keeper = Command::new(cmd)
        .args(["/d", "/q", "/k", "echo ready"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = keeper.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads its first line, then drains the rest until it exits.
    let reader = std::thread::Builder::new()
        .name("safe-exit-keeper".into())
        .spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 256];
            let mut told = false;
            while let Ok(n @ 1..) = out.read(&mut buf) {
                if !told && buf[..n].contains(&b'\n') {
                    told = tx.send(()).is_ok();
                }
            }
        });
    if reader.is_ok() && rx.recv_timeout(KEEPER_START).is_ok() {
        Some(keeper)
    } else {
        let _ = keeper.kill();
        None
    }
}
