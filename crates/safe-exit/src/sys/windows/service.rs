//! Windows services: the service control manager's dispatcher, handler and status reports
//! around the core's shutdown.
//!
//! [`run_service`] hands the calling thread to `StartServiceCtrlDispatcherW`, which calls
//! [`service_main_entry`] on a thread of its own and [`handler`] on a dispatcher thread for
//! each control. `service_main_entry` registers the handler, reports `SERVICE_RUNNING`, runs
//! the service's main function, the hooks (`finish`) and reports `SERVICE_STOPPED`; the
//! dispatcher then returns. STOP, PRESHUTDOWN and SHUTDOWN report `SERVICE_STOP_PENDING` and
//! ask the core to stop; from then on a thread of ours reports `SERVICE_STOP_PENDING` every
//! second with the next checkpoint and what the policy still allows as the wait hint. An
//! ending that does not go back through `service_main_entry` (exit mode, an expired grace
//! period or hook deadline: `ExitProcess` in `signal::end_now`) reports `SERVICE_STOPPED`
//! first through [`report_stopped`].
//!
//! **Logoff.** Windows sends a service `CTRL_LOGOFF_EVENT` (and, with user32 loaded, its
//! windows `WM_ENDSESSION` with `ENDSESSION_LOGOFF`) whenever any user logs off: it is not the
//! service's own ending, which comes from the manager as STOP, PRESHUTDOWN or SHUTDOWN. So
//! once this process is a service ([`is_service`]: the handler is registered), the console
//! handler and the hidden window of `signal` and `session` leave a logoff alone, whatever the
//! `CTRL_LOGOFF` flag says; a process not started as a service acts on it as before.
//!
//! Hand-written over `windows-sys` rather than the `windows-service` crate: that crate would
//! bring a second `windows-sys`, and `deny.toml` denies duplicate versions.

use std::any::Any;
use std::ffi::c_void;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use windows_sys::core::PWSTR;
use windows_sys::Win32::Foundation::{
    ERROR_CALL_NOT_IMPLEMENTED, ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
    ERROR_SERVICE_SPECIFIC_ERROR, NO_ERROR,
};
use windows_sys::Win32::System::Services::{
    RegisterServiceCtrlHandlerExW, SetServiceStatus, StartServiceCtrlDispatcherW,
    SERVICE_ACCEPT_PRESHUTDOWN, SERVICE_ACCEPT_SHUTDOWN, SERVICE_ACCEPT_STOP,
    SERVICE_CONTROL_INTERROGATE, SERVICE_CONTROL_PRESHUTDOWN, SERVICE_CONTROL_SHUTDOWN,
    SERVICE_CONTROL_STOP, SERVICE_RUNNING, SERVICE_STATUS, SERVICE_STATUS_HANDLE, SERVICE_STOPPED,
    SERVICE_STOP_PENDING, SERVICE_TABLE_ENTRYW, SERVICE_WIN32_OWN_PROCESS,
};

use crate::sys::ServiceCore;

/// The controls the service accepts while it runs and while it stops.
/// (`SERVICE_ACCEPT_PRESHUTDOWN` needs Vista; both shutdown controls may be accepted together:
/// PRESHUTDOWN comes first, and a service that has stopped by then gets no SHUTDOWN.)
const ACCEPTED: u32 = SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_SHUTDOWN;
/// The wait hint when the policy sets no bound.
const UNBOUNDED_HINT: Duration = Duration::from_secs(30);
/// How often the service reports `SERVICE_STOP_PENDING` while it stops. The wait hint also
/// covers one more of these periods: the next report, or the ending after the budget.
const PENDING_PERIOD: Duration = Duration::from_secs(1);
/// How long [`report_stopped`] waits for a report in flight on another thread.
const REPORT_WAIT: Duration = Duration::from_secs(1);

/// What [`service_main_entry`] needs, left by [`run_service`] for the dispatcher's thread.
struct Start {
    /// The service's name, NUL-terminated UTF-16.
    name: Vec<u16>,
    /// The service's main function.
    main: Box<dyn FnOnce() -> i32 + Send>,
}

/// How [`service_main_entry`] ended, for [`run_service`] once the dispatcher returns.
enum Outcome {
    /// The main function returned this code.
    Code(i32),
    /// The main function panicked: the panic goes on in `run_service`'s caller.
    Panicked(Box<dyn Any + Send>),
    /// The handler could not be registered (a Windows error code).
    Failed(io::Error),
}

/// The service to start, from [`run_service`] to [`service_main_entry`].
static START: Mutex<Option<Start>> = Mutex::new(None);
/// How the service ended, from [`service_main_entry`] to [`run_service`].
static OUTCOME: Mutex<Option<Outcome>> = Mutex::new(None);
/// The core's functions, for the handler and the reporting thread.
static CORE: OnceLock<ServiceCore> = OnceLock::new();
/// The status handle, null until the handler is registered.
static HANDLE: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());
/// The last status reported (under this lock every report is made, in order).
static STATUS: Mutex<SERVICE_STATUS> = Mutex::new(SERVICE_STATUS {
    dwServiceType: SERVICE_WIN32_OWN_PROCESS,
    dwCurrentState: 0,
    dwControlsAccepted: 0,
    dwWin32ExitCode: 0,
    dwServiceSpecificExitCode: 0,
    dwCheckPoint: 0,
    dwWaitHint: 0,
});
/// Whether the service is stopping (a stop control came, or the main function returned): the
/// first one reports `SERVICE_STOP_PENDING` and starts the reporting thread.
static STOPPING: AtomicBool = AtomicBool::new(false);
/// Whether `SERVICE_STOPPED` was reported (or is being): nothing is reported after it.
static STOPPED: AtomicBool = AtomicBool::new(false);
/// Whether the process is ending on another thread (`ExitProcess` follows [`report_stopped`]).
static ENDING: AtomicBool = AtomicBool::new(false);
/// The code the service's main function returned, [`NO_CODE`] until it returns.
static MAIN_CODE: AtomicU64 = AtomicU64::new(NO_CODE);
/// [`MAIN_CODE`] before the main function returned.
const NO_CODE: u64 = u64::MAX;

/// Runs `service_main` as the service `name`: the dispatcher takes the calling thread until
/// the service has stopped. Not started by the service control manager (error 1063), it runs
/// `service_main` as an ordinary program.
pub(crate) fn run_service(
    name: &str,
    service_main: Box<dyn FnOnce() -> i32 + Send>,
    core: ServiceCore,
) -> io::Result<i32> {
    if name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a service name cannot contain a NUL character",
        ));
    }
    let name: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
    // A second run_service in one process gets the same functions: the first set stays.
    let _ = CORE.set(core);
    *lock(&START) = Some(Start {
        name: name.clone(),
        main: service_main,
    });
    let table = [
        SERVICE_TABLE_ENTRYW {
            lpServiceName: name.as_ptr().cast_mut(),
            lpServiceProc: Some(service_main_entry),
        },
        SERVICE_TABLE_ENTRYW {
            lpServiceName: std::ptr::null_mut(),
            lpServiceProc: None,
        },
    ];
    // SAFETY: `table` ends with the null entry the function requires; the name it points to
    // is NUL-terminated and outlives the call, which returns only once the service stopped
    // (the dispatcher only reads the name). `service_main_entry` is a valid ServiceMain.
    let dispatched = unsafe { StartServiceCtrlDispatcherW(table.as_ptr()) } != 0;
    if !dispatched {
        let e = io::Error::last_os_error();
        let start = lock(&START).take();
        return match start {
            Some(start)
                if e.raw_os_error() == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT as i32) =>
            {
                // Not started by the service control manager: an ordinary program.
                Ok((start.main)())
            }
            _ => Err(e),
        };
    }
    match lock(&OUTCOME).take() {
        Some(Outcome::Code(code)) => Ok(code),
        Some(Outcome::Panicked(payload)) => std::panic::resume_unwind(payload),
        Some(Outcome::Failed(e)) => Err(e),
        // The stop reported by a thread that now ends the process (exit mode, an expired grace
        // period or hook deadline) let the dispatcher return: this thread must not go on as
        // if the service had finished (returning from `main` would race the ending).
        None if ENDING.load(Ordering::Acquire) => loop {
            std::thread::park();
        },
        None => Err(io::Error::other(
            "the service control manager did not start the service",
        )),
    }
}

/// Reports `SERVICE_STOPPED` with the process's exit code `code` (0: `NO_ERROR`; otherwise
/// `ERROR_SERVICE_SPECIFIC_ERROR` and the code), if this process is a service that has not
/// reported it yet: called just before the process ends with `ExitProcess`. Waits at most
/// about a second for a report in flight on another thread.
pub(crate) fn report_stopped(code: u32) {
    if HANDLE.load(Ordering::Acquire).is_null() {
        return;
    }
    ENDING.store(true, Ordering::Release);
    send_stopped_once(code);
}

/// Reports `SERVICE_STOPPED` with exit code `code` unless it was reported already.
fn send_stopped_once(code: u32) {
    if STOPPED.swap(true, Ordering::AcqRel) {
        return;
    }
    // Another thread may be reporting right now: let it finish (its report must not land
    // after ours), but not for long, and not on a lock that a panic poisoned.
    let deadline = Instant::now() + REPORT_WAIT;
    let mut status = loop {
        match STATUS.try_lock() {
            Ok(guard) => break Some(guard),
            Err(TryLockError::Poisoned(p)) => break Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => break None,
        }
    };
    match status.as_deref_mut() {
        Some(status) => send_stopped(status, code),
        None => send_stopped(&mut stopped_status(), code),
    }
}

/// Whether this process runs as a service: the dispatcher started it and its control handler
/// is registered (from then on, for the rest of the process's life). Until then, and in a
/// program that never calls [`run_service`] or was not started by the service control
/// manager, false.
pub(crate) fn is_service() -> bool {
    !HANDLE.load(Ordering::Acquire).is_null()
}

/// The code the service's main function returned, once it has.
pub(crate) fn main_code() -> Option<u32> {
    match MAIN_CODE.load(Ordering::Acquire) {
        NO_CODE => None,
        code => Some(code as u32),
    }
}

/// The dispatcher's ServiceMain, on a thread the dispatcher created: registers the handler,
/// runs the service and reports how it ended.
unsafe extern "system" fn service_main_entry(_argc: u32, _argv: *mut PWSTR) {
    let Some(start) = lock(&START).take() else {
        return;
    };
    // SAFETY: a NUL-terminated name; `handler` is a valid HandlerEx that lives as long as the
    // program, and its context is unused.
    let handle = unsafe {
        RegisterServiceCtrlHandlerExW(start.name.as_ptr(), Some(handler), std::ptr::null())
    };
    if handle.is_null() {
        // No handle: nothing can be reported to the manager, which then sees a service that
        // never started (it cannot fail for a service of its own process, whose name is not
        // even checked).
        *lock(&OUTCOME) = Some(Outcome::Failed(io::Error::last_os_error()));
        return;
    }
    HANDLE.store(handle, Ordering::Release);
    report_running(handle);
    let result = std::panic::catch_unwind(AssertUnwindSafe(start.main));
    let code = match &result {
        Ok(code) => *code,
        // What a Rust program whose `main` panics ends with.
        Err(_) => 101,
    };
    MAIN_CODE.store(u64::from(code as u32), Ordering::Release);
    // The hooks run now: the service is stopping, and says so while they run.
    begin_stopping(None);
    if let Some(core) = CORE.get() {
        (core.finish)();
    }
    // Before STOPPED: once it is reported, the dispatcher returns to `run_service`.
    *lock(&OUTCOME) = Some(match result {
        Ok(code) => Outcome::Code(code),
        Err(payload) => Outcome::Panicked(payload),
    });
    send_stopped_once(code as u32);
}

/// The service's control handler (HandlerEx), on the dispatcher's thread: returns at once.
unsafe extern "system" fn handler(
    control: u32,
    _event_type: u32,
    _event_data: *mut c_void,
    _context: *mut c_void,
) -> u32 {
    match control {
        SERVICE_CONTROL_INTERROGATE => {
            report(Wait::No, |_| {});
            NO_ERROR
        }
        SERVICE_CONTROL_STOP | SERVICE_CONTROL_SHUTDOWN | SERVICE_CONTROL_PRESHUTDOWN => {
            if !begin_stopping(Some(control)) {
                // Stopping already: the same checkpoint, a fresh wait hint.
                report(Wait::No, |status| status.dwWaitHint = wait_hint());
            }
            NO_ERROR
        }
        _ => ERROR_CALL_NOT_IMPLEMENTED,
    }
}

/// Reports `SERVICE_RUNNING` (without PRESHUTDOWN if Windows predates it and refuses it).
fn report_running(handle: SERVICE_STATUS_HANDLE) {
    let mut status = lock(&STATUS);
    status.dwCurrentState = SERVICE_RUNNING;
    status.dwControlsAccepted = ACCEPTED;
    if send(handle, &status).is_err() {
        status.dwControlsAccepted = ACCEPTED & !SERVICE_ACCEPT_PRESHUTDOWN;
        if let Err(e) = send(handle, &status) {
            super::report(&format!(
                "safe-exit: cannot report that the service runs: {e}"
            ));
        }
    }
}

/// The first time (a stop `control` came, or the main function returned): asks the core to
/// stop (for a control), reports `SERVICE_STOP_PENDING` with checkpoint 1 and starts the
/// thread that reports it every second. Returns whether this was the first time.
fn begin_stopping(control: Option<u32>) -> bool {
    if STOPPING.swap(true, Ordering::AcqRel) {
        return false;
    }
    // The request first: the wait hint then counts its grace period. (In exit mode the
    // process may have ended, and reported SERVICE_STOPPED, before the report below: it is
    // then not made.)
    if let (Some(control), Some(core)) = (control, CORE.get()) {
        (core.stop)(control);
    }
    // From the handler, not if another thread is reporting: the status thread reports within
    // a second.
    let wait = if control.is_some() {
        Wait::No
    } else {
        Wait::Yes
    };
    report(wait, |status| {
        status.dwCurrentState = SERVICE_STOP_PENDING;
        status.dwCheckPoint = 1;
        status.dwWaitHint = wait_hint();
    });
    let spawned = std::thread::Builder::new()
        .name("safe-exit-service-status".into())
        .spawn(|| loop {
            std::thread::sleep(PENDING_PERIOD);
            if STOPPED.load(Ordering::Acquire) {
                return;
            }
            report(Wait::Yes, |status| {
                status.dwCurrentState = SERVICE_STOP_PENDING;
                status.dwCheckPoint = status.dwCheckPoint.wrapping_add(1);
                status.dwWaitHint = wait_hint();
            });
        });
    if let Err(e) = spawned {
        super::report(&format!(
            "safe-exit: cannot start the service's status thread ({e}); \
             SERVICE_STOP_PENDING is reported once"
        ));
    }
    true
}

/// The wait hint of a `SERVICE_STOP_PENDING` report, in milliseconds: what the policy still
/// allows and one reporting period, or 30 s when that is unbounded.
fn wait_hint() -> u32 {
    let budget = CORE.get().and_then(|core| (core.budget)());
    let hint = budget.map_or(UNBOUNDED_HINT, |b| b.saturating_add(PENDING_PERIOD));
    u32::try_from(hint.as_millis()).unwrap_or(u32::MAX)
}

/// How [`report`] takes the status lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Waits for a report in flight on another thread.
    Yes,
    /// The control handler: a report in flight makes this one unnecessary, and waiting for
    /// it could deadlock: Wine calls the handler holding the dispatcher's lock, which a
    /// `SetServiceStatus(SERVICE_STOPPED)` in flight on another thread needs too.
    No,
}

/// Changes the status with `change` and reports it, unless `SERVICE_STOPPED` was reported (or
/// there is no handle yet); with [`Wait::No`], not if another report is in flight.
fn report(wait: Wait, change: impl FnOnce(&mut SERVICE_STATUS)) {
    let handle = HANDLE.load(Ordering::Acquire);
    if handle.is_null() {
        return;
    }
    let mut status = match (wait, STATUS.try_lock()) {
        (_, Ok(guard)) => guard,
        (_, Err(TryLockError::Poisoned(p))) => p.into_inner(),
        (Wait::Yes, Err(TryLockError::WouldBlock)) => lock(&STATUS),
        (Wait::No, Err(TryLockError::WouldBlock)) => return,
    };
    // Checked under the lock: `report_stopped` sets it first, then takes the lock.
    if STOPPED.load(Ordering::Acquire) {
        return;
    }
    change(&mut status);
    if let Err(e) = send(handle, &status) {
        super::report(&format!(
            "safe-exit: cannot report the service's status: {e}"
        ));
    }
}

/// A status to report `SERVICE_STOPPED` with, when the last one cannot be had.
fn stopped_status() -> SERVICE_STATUS {
    SERVICE_STATUS {
        dwServiceType: SERVICE_WIN32_OWN_PROCESS,
        dwCurrentState: SERVICE_STOPPED,
        dwControlsAccepted: 0,
        dwWin32ExitCode: 0,
        dwServiceSpecificExitCode: 0,
        dwCheckPoint: 0,
        dwWaitHint: 0,
    }
}

/// Reports `SERVICE_STOPPED` with exit code `code` through `status`.
fn send_stopped(status: &mut SERVICE_STATUS, code: u32) {
    status.dwCurrentState = SERVICE_STOPPED;
    status.dwControlsAccepted = 0;
    status.dwCheckPoint = 0;
    status.dwWaitHint = 0;
    (status.dwWin32ExitCode, status.dwServiceSpecificExitCode) = match code {
        0 => (NO_ERROR, 0),
        code => (ERROR_SERVICE_SPECIFIC_ERROR, code),
    };
    if let Err(e) = send(HANDLE.load(Ordering::Acquire), status) {
        super::report(&format!(
            "safe-exit: cannot report that the service stopped: {e}"
        ));
    }
}

/// `SetServiceStatus`.
fn send(handle: SERVICE_STATUS_HANDLE, status: &SERVICE_STATUS) -> io::Result<()> {
    // SAFETY: `handle` came from RegisterServiceCtrlHandlerExW (callers check for null) and
    // stays valid for the process's life; `status` is a valid SERVICE_STATUS.
    if unsafe { SetServiceStatus(handle, status) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Locks `m`, whatever a panicking holder left in it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
