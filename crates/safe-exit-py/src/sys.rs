//! Everything that calls C directly: the CPython C API (`Py_AtExit`, `Py_AddPendingCall`) and
//! libc. All `unsafe` of the crate is here.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

use pyo3::prelude::*;

/// The signal the process must end by after the interpreter has shut down, or 0.
static EXIT_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Records the signal to end by (0: none).
pub(crate) fn set_exit_signal(signum: i32) {
    EXIT_SIGNAL.store(signum, Ordering::Release);
}

/// The recorded signal, or 0.
pub(crate) fn exit_signal() -> i32 {
    EXIT_SIGNAL.load(Ordering::Acquire)
}

/// Registers [`at_interpreter_exit`] with `Py_AtExit`, once per process image (the
/// registration survives `fork`). Returns false if CPython refused it.
pub(crate) fn arm() -> bool {
    static ARM: Once = Once::new();
    let mut ok = true;
    ARM.call_once(|| {
        // SAFETY: called from a #[pyfunction], so the GIL is held, as `Py_AtExit` requires; the
        // function is a plain `extern "C" fn()` that lives as long as the program (CPython
        // never unloads extension modules).
        ok = unsafe { pyo3::ffi::Py_AtExit(Some(at_interpreter_exit)) } == 0;
    });
    ok
}

/// Called by CPython at the very end of `Py_FinalizeEx`: every `atexit` function has run,
/// `sys.stdout` and `sys.stderr` have been flushed and the modules torn down. If a signal was
/// recorded, the process ends by it now; otherwise `Py_FinalizeEx` returns and the process
/// exits with its status as usual.
extern "C" fn at_interpreter_exit() {
    let signum = EXIT_SIGNAL.load(Ordering::Acquire);
    if signum != 0 {
        end_by_signal(signum);
    }
}

/// Ends the process by `signum` (the core's [`safe_exit::end_by_signal`]: default action,
/// unblock, raise; `_exit(128 + signum)` as PID 1), after flushing C stdio.
#[cfg(unix)]
fn end_by_signal(signum: i32) {
    // SAFETY: we run on the thread finishing `Py_FinalizeEx`, in ordinary (not signal)
    // context, so `fflush` may be called.
    unsafe { libc::fflush(std::ptr::null_mut()) };
    // The number came from a handler the core selected; one that is somehow not a signal
    // falls through to the caller's `exit(128 + signum)`.
    if let Ok(signal) = safe_exit::Signal::try_from(signum) {
        safe_exit::end_by_signal(signal)
    }
}

/// Ends the process by `signum` now (see [`end_by_signal`]); on platforms without unix signals,
/// exits with status 128 + signal.
pub(crate) fn end_now(signum: i32) {
    end_by_signal(signum);
    std::process::exit(128 + signum)
}

/// Without unix signals nothing is ever recorded (no signal is handled there); the exit
/// status that `SignalExit` carries (128 + signal) stands.
#[cfg(not(unix))]
fn end_by_signal(_signum: i32) {}

/// Raises `exception` (an exception instance) as C code raises: `PyErr_SetObject`, which, like
/// `raise` and Python's own SIGINT handler, chains it to the exception being handled, if any
/// (`__context__`). Returns it as the `PyErr` to return to the caller.
pub(crate) fn raise(exception: &Bound<'_, PyAny>) -> PyErr {
    let py = exception.py();
    // SAFETY: the GIL is held (we hold a `Bound`); both pointers are valid for the call and
    // `PyErr_SetObject` takes its own references. A value that is no exception makes it raise
    // SystemError instead, which `fetch` then takes.
    unsafe { pyo3::ffi::PyErr_SetObject(exception.get_type().as_ptr(), exception.as_ptr()) };
    PyErr::fetch(py)
}

/// Asks the main thread to run `safe_exit._install_in_main_thread()`. Returns false if
/// CPython's queue of pending calls is full.
pub(crate) fn schedule_install() -> bool {
    // SAFETY: `Py_AddPendingCall` may be called from any thread, with or without the GIL; the
    // callback is a plain `extern "C" fn` that lives as long as the program and ignores its
    // (null) argument.
    unsafe { pyo3::ffi::Py_AddPendingCall(Some(install_in_main_thread), std::ptr::null_mut()) == 0 }
}

/// The pending call: runs in the main thread with the GIL held. Errors are reported through
/// `sys.unraisablehook` rather than raised into whatever the main thread was doing.
extern "C" fn install_in_main_thread(_arg: *mut c_void) -> c_int {
    Python::attach(|py| {
        let installed = py
            .import("safe_exit")
            .and_then(|m| m.call_method0("_install_in_main_thread"));
        if let Err(e) = installed {
            e.write_unraisable(py, None);
        }
    });
    0
}

/// Whether the interpreter is initialized (Windows: checked by a console control thread before
/// it takes the GIL).
#[cfg(windows)]
pub(crate) fn interpreter_initialized() -> bool {
    // SAFETY: `Py_IsInitialized` may be called at any time, from any thread, without the GIL.
    unsafe { pyo3::ffi::Py_IsInitialized() != 0 }
}
