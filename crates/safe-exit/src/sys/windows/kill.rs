//! safe_kill on Windows: a process handle ([`Target`]), `WM_CLOSE` or a console control
//! event as the polite request, `TerminateProcess` to force, `WaitForMultipleObjects` to wait.
//!
//! Windows has no signals between processes, so the polite "signal" names the method, as
//! in the original package (the numbers are the C runtime's):
//!
//! | signal | what the target gets |
//! |---|---|
//! | SIGTERM (15), the default | `WM_CLOSE` posted to each of its visible top-level windows; a process without one gets `CTRL_C_EVENT` on its console |
//! | SIGINT (2) | `CTRL_C_EVENT` on its console |
//! | SIGBREAK (21) | `CTRL_BREAK_EVENT` on its console |
//! | SIGKILL (9) | `TerminateProcess` at once, exit code 1 (as `taskkill /F` and Rust's `Child::kill`) |
//!
//! Any other number is refused. A console control event reaches every process attached to
//! the target's console, as if the keys were pressed in its window; see [`super::console`]
//! for how the caller visits that console without signalling itself or losing its own
//! handlers.
//!
//! The handle from `OpenProcess` pins the target: while it is open, Windows does not reuse
//! the process id, so the windows found by id and the console attached by id are the
//! target's own. Nothing here needs the target to be our child.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::sync::mpsc;
use std::time::Instant;

use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{
    ERROR_INVALID_PARAMETER, FALSE, HANDLE, HWND, LPARAM, TRUE, WAIT_FAILED, WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT};
use windows_sys::Win32::System::Threading::{
    OpenProcess, TerminateProcess, WaitForMultipleObjects, WaitForSingleObject, INFINITE,
    PROCESS_ACCESS_RIGHTS, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
    PROCESS_TERMINATE,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    EnumWindows, GetWindow, GetWindowThreadProcessId, IsWindowVisible, PostMessageW, GW_OWNER,
    WM_CLOSE,
};

use super::console;
use crate::kill::ThreadOwner;
use crate::pid::Pid;

/// Not needed here: a process handle pins the process (its id is not reused while the
/// handle is open).
pub(crate) fn process_start(_pid: Pid) -> Option<u64> {
    None
}

/// Why a signal other than the four below cannot be sent.
const CANNOT_SEND: &str = "Windows cannot send that signal to another process; it knows \
                           SIGTERM (15: WM_CLOSE to its windows, else Ctrl-C), SIGINT (2: \
                           Ctrl-C), SIGBREAK (21: Ctrl-Break) and SIGKILL (9: \
                           TerminateProcess)";

/// Why `sig` cannot be sent to another process here, if it cannot: checked with the options,
/// before any process is opened.
pub(crate) fn cannot_send(sig: i32) -> Option<&'static str> {
    (![SIGINT, SIGKILL, SIGTERM, SIGBREAK].contains(&sig)).then_some(CANNOT_SEND)
}

/// Ctrl-C: `CTRL_C_EVENT` on the target's console.
pub(crate) const SIGINT: i32 = 2;
/// TerminateProcess.
pub(crate) const SIGKILL: i32 = 9;
/// The default: `WM_CLOSE` to its windows, else `CTRL_C_EVENT`.
pub(crate) const SIGTERM: i32 = 15;
/// Ctrl-Break: `CTRL_BREAK_EVENT` on the target's console.
pub(crate) const SIGBREAK: i32 = 21;
/// Windows has no SIGCONT or SIGSTOP. These numbers (Linux's) are refused as the polite
/// signal, and "sending" SIGCONT after the polite request does nothing: a Windows process
/// cannot be stopped the way a unix one can.
pub(crate) const SIGCONT: i32 = 18;
/// See [`SIGCONT`].
pub(crate) const SIGSTOP: i32 = 19;
/// SIGABRT, the highest number the C runtime knows.
const SIGABRT: i32 = 22;

/// Names of the calls, for error messages.
pub(crate) const OPEN_CALL: &str = "OpenProcess";
pub(crate) const SEND_CALL: &str = "asking it to end";
pub(crate) const WAIT_CALL: &str = "waiting on its process handle";

/// The highest signal number accepted before [`Target::send`] looks at it.
pub(crate) fn max_signal() -> i32 {
    SIGABRT
}

/// A handle on one process, opened by [`Target::open`].
pub(crate) struct Target {
    pid: Pid,
    /// `None`: the process exists but we may not even wait on it.
    handle: Option<OwnedHandle>,
    /// Whether the handle may `TerminateProcess`.
    can_terminate: bool,
}

fn open_process(pid: u32, access: PROCESS_ACCESS_RIGHTS) -> io::Result<OwnedHandle> {
    // SAFETY: OpenProcess takes any pid and returns a new handle or null.
    let h = unsafe { OpenProcess(access, FALSE, pid) };
    if h.is_null() {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: a handle that OpenProcess just returned and nothing else owns.
        Ok(unsafe { OwnedHandle::from_raw_handle(h) })
    }
}

fn raw(h: &OwnedHandle) -> HANDLE {
    h.as_raw_handle() as HANDLE
}

impl Target {
    /// Whether this process may end it: it was opened with the right to terminate it.
    /// [`io::ErrorKind::PermissionDenied`] if not.
    pub(crate) fn may_signal(&self) -> io::Result<()> {
        if self.can_terminate {
            Ok(())
        } else {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        }
    }

    /// Group mode does not exist here.
    pub(crate) fn group_alive(&self) -> Option<bool> {
        None
    }

    /// `OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION)`:
    /// `Ok(None)` if no such process exists. A process that has exited but whose handle
    /// someone still holds opens fine (and [`Target::has_exited`] is then true). Without the
    /// right to terminate it, it is opened to wait only; without even that, it is reported
    /// as permission denied when it is signalled, as on unix.
    pub(crate) fn open(pid: Pid) -> io::Result<Option<Target>> {
        let id = pid.as_raw() as u32;
        let full = PROCESS_TERMINATE | PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION;
        let (handle, can_terminate) = match open_process(id, full) {
            Ok(h) => (Some(h), true),
            Err(e) if e.raw_os_error() == Some(ERROR_INVALID_PARAMETER as i32) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                match open_process(id, PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION) {
                    Ok(h) => (Some(h), false),
                    Err(e) if e.kind() == io::ErrorKind::PermissionDenied => (None, false),
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        Ok(Some(Target {
            pid,
            handle,
            can_terminate,
        }))
    }

    /// Whether the process has exited, without blocking (`WaitForSingleObject(h, 0)`).
    pub(crate) fn has_exited(&self) -> io::Result<bool> {
        let Some(h) = &self.handle else {
            return Ok(false);
        };
        // SAFETY: a valid process handle, zero timeout.
        match unsafe { WaitForSingleObject(raw(h), 0) } {
            WAIT_TIMEOUT => Ok(false),
            WAIT_FAILED => Err(io::Error::last_os_error()),
            _ => Ok(true),
        }
    }

    /// Asks the process to end the way `sig` says (see the module docs), or forces it with
    /// SIGKILL. `Ok` also when it has exited meanwhile. Group mode never gets here (it is
    /// refused as unsupported before anything is sent).
    ///
    /// Errors: [`io::ErrorKind::PermissionDenied`] when we may not act on it,
    /// [`io::ErrorKind::InvalidInput`] for a signal with no Windows equivalent,
    /// [`io::ErrorKind::Unsupported`] when it has no way to be asked (no visible window and no
    /// console, or it shares our console).
    pub(crate) fn send(&self, sig: i32, group: bool) -> io::Result<()> {
        debug_assert!(!group, "group mode is refused on Windows before any signal");
        if self.handle.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "OpenProcess: access denied",
            ));
        }
        if self.has_exited()? {
            return Ok(());
        }
        let pid = self.pid.as_raw() as u32;
        let sent = match sig {
            SIGCONT => Ok(()),
            SIGKILL => self.terminate(),
            SIGTERM => match visible_windows(pid) {
                windows if windows.is_empty() => console::send_ctrl_event(pid, CTRL_C_EVENT),
                windows => post_close(&windows),
            },
            SIGINT => console::send_ctrl_event(pid, CTRL_C_EVENT),
            SIGBREAK => console::send_ctrl_event(pid, CTRL_BREAK_EVENT),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, CANNOT_SEND)),
        };
        match sent {
            // It may have exited while we asked (a console or a window that went away).
            Err(e) if e.kind() != io::ErrorKind::InvalidInput && self.has_exited()? => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// `TerminateProcess(h, 1)`.
    fn terminate(&self) -> io::Result<()> {
        let Some(h) = self.handle.as_ref().filter(|_| self.can_terminate) else {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "OpenProcess: no PROCESS_TERMINATE access",
            ));
        };
        // SAFETY: a valid process handle opened with PROCESS_TERMINATE.
        if unsafe { TerminateProcess(raw(h), 1) } != 0 {
            return Ok(());
        }
        // Terminating a process that has just exited fails with "access denied".
        let e = io::Error::last_os_error();
        if self.has_exited()? {
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// The visible top-level windows of process `pid` that no other window owns: the ones a user
/// would close (dialogs belong to their owners; hidden helper windows are not asked).
fn visible_windows(pid: u32) -> Vec<HWND> {
    struct Search {
        pid: u32,
        found: Vec<HWND>,
    }
    unsafe extern "system" fn each(hwnd: HWND, param: LPARAM) -> BOOL {
        // SAFETY: `param` is the `Search` that `visible_windows` passed, alive for the whole
        // enumeration, and only this callback (on the calling thread) touches it.
        let search = unsafe { &mut *(param as *mut Search) };
        let mut owner_pid = 0;
        // SAFETY: window queries on a handle that EnumWindows just gave us.
        unsafe {
            GetWindowThreadProcessId(hwnd, &mut owner_pid);
            if owner_pid == search.pid
                && IsWindowVisible(hwnd) != 0
                && GetWindow(hwnd, GW_OWNER).is_null()
            {
                search.found.push(hwnd);
            }
        }
        TRUE
    }
    let mut search = Search {
        pid,
        found: Vec::new(),
    };
    // SAFETY: the callback matches WNDENUMPROC and `search` outlives the call. A failure (no
    // window station, as in a service) leaves `found` as it is: no windows.
    unsafe { EnumWindows(Some(each), &mut search as *mut Search as LPARAM) };
    search.found
}

/// `PostMessageW(WM_CLOSE)` to each window; an error only if none took it.
fn post_close(windows: &[HWND]) -> io::Result<()> {
    let mut last = None;
    let mut posted = false;
    for &hwnd in windows {
        // SAFETY: posting a message without pointers to a window handle; a window that went
        // away just makes the call fail.
        if unsafe { PostMessageW(hwnd, WM_CLOSE, 0, 0) } != 0 {
            posted = true;
        } else {
            last = Some(io::Error::last_os_error());
        }
    }
    match (posted, last) {
        (false, Some(e)) => Err(io::Error::new(
            e.kind(),
            format!("PostMessageW(WM_CLOSE): {e}"),
        )),
        _ => Ok(()),
    }
}

/// `WaitForMultipleObjects` takes at most 64 handles (`MAXIMUM_WAIT_OBJECTS`).
const MAX_WAIT: usize = 64;

/// Waits until at least one of `targets` has exited, or `deadline` (`None`: no deadline).
///
/// Up to 64 handles: one `WaitForMultipleObjects`. More: a thread per 63 handles, each
/// waiting on its share plus the handle of one "release" thread; the first waiter to return
/// ends the release thread, whose handle then wakes all the others.
pub(crate) fn wait_any(targets: &[&Target], deadline: Option<Instant>) -> io::Result<()> {
    // Handles as integers, to hand them to threads; the targets outlive the call.
    let handles: Vec<usize> = targets
        .iter()
        .filter_map(|t| t.handle.as_ref().map(|h| raw(h) as usize))
        .collect();
    if handles.is_empty() {
        // Not reached: a target without a handle gets its result when it is signalled.
        // Without a deadline there would be nothing to wake up for: an error, not a hang.
        let Some(deadline) = deadline else {
            return Err(io::Error::other("no process handle to wait on"));
        };
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        return Ok(());
    }
    if handles.len() <= MAX_WAIT {
        return wait_some(&handles, deadline);
    }
    let (done, release_when) = mpsc::channel::<()>();
    // Ends on the first message, or when every waiter has gone.
    let release = std::thread::Builder::new()
        .name("safe-exit-wait".into())
        .spawn(move || {
            let _ = release_when.recv();
        })?;
    let release_handle = release.as_raw_handle() as usize;
    std::thread::scope(|scope| {
        let waiters: Vec<_> = handles
            .chunks(MAX_WAIT - 1)
            .map(|chunk| {
                let mut set = chunk.to_vec();
                set.push(release_handle);
                let done = done.clone();
                scope.spawn(move || {
                    let r = wait_some(&set, deadline);
                    let _ = done.send(());
                    r
                })
            })
            .collect();
        drop(done);
        waiters
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<io::Result<Vec<()>>>()
    })?;
    // Only now: its handle had to stay open while the waiters waited on it.
    let _ = release.join();
    Ok(())
}

/// One `WaitForMultipleObjects` over at most 64 handles, until one is signalled or
/// `deadline` (`None`: `INFINITE`).
fn wait_some(handles: &[usize], deadline: Option<Instant>) -> io::Result<()> {
    let raw: Vec<HANDLE> = handles.iter().map(|&h| h as HANDLE).collect();
    let ms = timeout_ms(deadline);
    // SAFETY: `raw` holds `raw.len()` (at most 64) valid waitable handles.
    match unsafe { WaitForMultipleObjects(raw.len() as u32, raw.as_ptr(), FALSE, ms) } {
        WAIT_FAILED => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// The time left until `deadline` in milliseconds for a Windows wait: rounded up, so that
/// the wait never ends before the deadline, and saturating at `INFINITE - 1` (49 days, after
/// which the caller waits again) rather than wrapping, since `INFINITE` itself means "no
/// timeout"; `INFINITE` without a deadline.
fn timeout_ms(deadline: Option<Instant>) -> u32 {
    let Some(deadline) = deadline else {
        return INFINITE;
    };
    let left = deadline.saturating_duration_since(Instant::now());
    left.as_nanos()
        .div_ceil(1_000_000)
        .min(u128::from(INFINITE - 1)) as u32
}

/// Thread ids are not process ids for `OpenProcess` (which refuses them, so a thread id
/// is simply no running process): never a thread here.
pub(crate) fn thread_owner(_pid: Pid) -> Option<ThreadOwner> {
    None
}

/// Windows has process groups only for console events; group mode is not offered.
pub(crate) fn process_group(_pid: Pid) -> io::Result<Option<i32>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "process groups on Windows",
    ))
}

/// No process groups here (see [`process_group`]).
pub(crate) fn own_process_group() -> i32 {
    0
}

/// No process groups here (see [`process_group`]).
pub(crate) fn group_members(_pgid: Pid) -> io::Result<Vec<Pid>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "process groups on Windows",
    ))
}

/// No process groups here (see [`process_group`]): a pid with no process is just that.
pub(crate) fn group_exists(_pgid: Pid) -> io::Result<bool> {
    Ok(false)
}

/// No process groups here (see [`process_group`]).
pub(crate) fn send_group(_pgid: Pid, _sig: i32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "process groups on Windows",
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A waitable handle that becomes signalled when the sender is used or dropped: the
    /// handle of a thread that waits for it.
    fn waitable() -> (mpsc::Sender<()>, OwnedHandle) {
        use std::os::windows::io::IntoRawHandle;
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        // SAFETY: the thread's handle, now owned by nothing else.
        (tx, unsafe {
            OwnedHandle::from_raw_handle(thread.into_raw_handle())
        })
    }

    /// A target over any waitable handle (a thread stands in for a process).
    fn target(h: OwnedHandle) -> Target {
        Target {
            pid: Pid::new(1).unwrap(),
            handle: Some(h),
            can_terminate: false,
        }
    }

    #[test]
    fn own_process_opens_and_runs() {
        let me = Pid::new(std::process::id() as i32).unwrap();
        let t = Target::open(me).unwrap().expect("we exist");
        assert!(!t.has_exited().unwrap());
        // Refused before anything is sent.
        let e = t.send(4, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        assert!(process_group(me).is_err() && group_members(me).is_err());
    }

    #[test]
    fn wait_any_over_more_than_64_handles() {
        let (mut triggers, events): (Vec<_>, Vec<Target>) = (0..150)
            .map(|_| {
                let (tx, h) = waitable();
                (Some(tx), target(h))
            })
            .unzip();
        let refs: Vec<&Target> = events.iter().collect();

        // Nothing signalled: the wait lasts until the deadline.
        let start = Instant::now();
        wait_any(&refs, Some(start + Duration::from_millis(50))).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(50));

        // One signalled in the last chunk: the wait ends at once, long before the deadline.
        drop(triggers[140].take());
        let start = Instant::now();
        wait_any(&refs, Some(start + Duration::from_secs(30))).unwrap();
        assert!(start.elapsed() < Duration::from_secs(20));
        assert!(events[140].has_exited().unwrap() && !events[0].has_exited().unwrap());
        drop(triggers);
    }

    #[test]
    fn wait_timeouts_saturate() {
        assert_eq!(timeout_ms(None), INFINITE);
        let now = Instant::now();
        assert_eq!(timeout_ms(Some(now)), 0);
        let far = now.checked_add(Duration::from_secs(1 << 40)).unwrap();
        assert_eq!(timeout_ms(Some(far)), INFINITE - 1);
        let soon = timeout_ms(Some(now + Duration::from_micros(1500)));
        assert!((1..=2).contains(&soon), "{soon}");
    }

    #[test]
    fn wait_any_over_few_handles() {
        let (_keep, first) = waitable();
        let (fire, second) = waitable();
        drop(fire);
        let events = [target(first), target(second)];
        let start = Instant::now();
        wait_any(
            &[&events[0], &events[1]],
            Some(start + Duration::from_secs(30)),
        )
        .unwrap();
        assert!(start.elapsed() < Duration::from_secs(20));
    }
}
