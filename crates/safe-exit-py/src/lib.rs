//! The native module `safe_exit._native` of the Python package `safe_exit`.
//!
//! The package's logic lives in Python (`python/safe_exit/__init__.py`) and in the Rust
//! library `safe-exit`; this module only translates between them and reaches the few C-level
//! facilities that Python code cannot:
//!
//! - `handled_signals`, `DEFAULT_CONFIG`, `ALL_CONFIG`: which signals a `ConfigFlag` value
//!   selects on this platform, and the flag values, as the Rust core defines them.
//! - `safe_kill`: `safe_exit::safe_kill_with`, with the GIL released while it waits.
//! - `own`, `disown`, `stop_owned`: `safe_exit::own` without the core's handlers, and the
//!   stop of the owned children that the package's exit functions make first.
//! - `prepare_die_with_parent`, `die_with_parent_in_child`: the two halves of
//!   `CommandExt::die_with_parent`, for `subprocess`'s `preexec_fn`.
//! - `arm`, `set_exit_signal`: the end of the process after a signal. Python cannot end
//!   itself *by* a signal once the interpreter has shut down, so a `Py_AtExit` function
//!   (which CPython calls at the very end of `Py_FinalizeEx`, after every `atexit` function,
//!   the flush of `sys.stdout`/`sys.stderr` and the module teardown) re-raises the signal that
//!   the Python handler recorded (handed over by the package's exit routine).
//! - `_on_signal` (private: neither in `__all__` nor in the stub): the signal handler the
//!   package installs, bound to its Python logic, which raises the exception that logic
//!   returns, so that no frame of the package is in its traceback.
//! - `schedule_install`: asks the main thread to install the Python signal handlers when the
//!   first `register` happens in another thread (`signal.signal` only works in the main thread).
//! - Windows only: `install_console`, `close_console_gate`, `console_functions_done`: the
//!   console events through the core's console control handler (see `console.rs` and below).
//!
//! # Why the Python package does not use the core's exit hooks (except for Windows' console)
//!
//! The core's hooks run from the C `atexit` list, which CPython reaches after it has torn the
//! interpreter down, so they cannot call Python functions; and its signal handlers run the
//! hooks on a watcher thread and then end the process, which would skip the unwinding of the
//! Python main thread (`finally:` blocks, `with` exits) that Python programs rely on. The
//! Python package therefore keeps its own function list and handlers, and takes from the core
//! what does not depend on the interpreter: the signal selection and `safe_kill`.
//!
//! Windows' console events are the exception: Ctrl-C, Ctrl-Break and the close, logoff and
//! shutdown events reach a process only through console control handlers, which Windows calls
//! on a thread of its own, and for close, logoff and shutdown the process ends as soon as the
//! handler returns. There the core's handler is the one (`safe_exit::config` with the
//! package's flags), and one core hook runs the package's functions on that thread, with the
//! GIL, then the core ends the process; the package's Python handlers keep only SIGTERM, which
//! a Windows process can only raise itself.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

#[cfg(windows)]
mod console;
mod sys;

use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use safe_exit::{ConfigFlag, KillError, KillOptions, Pid, Signal};

create_exception!(
    _native,
    KillFailed,
    PyException,
    "safe_kill could not signal or wait for the process: args are (message, kind), kind being \
     the core's `KillError::kind()` word."
);

/// The signal numbers that the `ConfigFlag` value `flags` makes safe_exit handle here:
/// SIGINT and SIGTERM always, SIGQUIT and SIGHUP by flag (unix). Bits that mean nothing on
/// this platform are ignored.
#[pyfunction]
fn handled_signals(flags: u32) -> Vec<i32> {
    ConfigFlag::from_bits_truncate(flags)
        .signals()
        .into_iter()
        .map(Signal::as_raw)
        .collect()
}

/// Registers the end-of-interpreter function that ends the process by the recorded signal.
/// Idempotent.
///
/// # Errors
///
/// `RuntimeError` if CPython's list of exit functions is full.
#[pyfunction]
fn arm() -> PyResult<()> {
    if sys::arm() {
        Ok(())
    } else {
        Err(PyRuntimeError::new_err(
            "safe_exit could not register its end-of-interpreter function (Py_AtExit's list \
             is full); after a signal the process will exit with status 128 + signal instead \
             of ending by the signal",
        ))
    }
}

/// Records the signal the process must end by once the interpreter has shut down; 0 forgets
/// it (a child after `fork`).
#[pyfunction]
fn set_exit_signal(signum: i32) {
    sys::set_exit_signal(signum);
}

/// The recorded signal, or 0.
#[pyfunction]
fn exit_signal() -> i32 {
    sys::exit_signal()
}

/// Ends the process by `signum` now (default action, unblock, raise; `_exit(128 + signum)` as
/// PID 1), after flushing C stdio. For a signal that arrives after the registered functions
/// have run: the process is ending anyway, and must not linger.
#[pyfunction]
fn end_by_signal(signum: i32) {
    sys::end_now(signum);
}

/// The signal handler the package installs (`signal.signal`), bound with `functools.partial`
/// to its logic, `safe_exit._signal_arrived`: calls `logic(signum, frame)`, which does the work
/// and returns the exception to raise in the main thread or `None`, and raises that exception
/// here. Raised from native code, it has no frame of the package in its traceback: an uncaught
/// `KeyboardInterrupt` prints what Python's own SIGINT handler gives (and printing it at exit
/// reads no source file of the package); it is chained to the exception being handled, if
/// any, as `raise` and Python's own handler chain it.
///
/// # Errors
///
/// What `logic` raises (a chained handler's exception), or the exception it returns.
#[pyfunction]
#[pyo3(name = "_on_signal")]
fn on_signal(
    logic: &Bound<'_, PyAny>,
    signum: &Bound<'_, PyAny>,
    frame: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let exception = logic.call1((signum, frame))?;
    if exception.is_none() {
        Ok(())
    } else {
        Err(sys::raise(&exception))
    }
}

/// Asks the main thread to call `safe_exit._install_in_main_thread()` the next time it runs
/// Python code (`Py_AddPendingCall`).
///
/// # Errors
///
/// `RuntimeError` if CPython's queue of pending calls is full.
#[pyfunction]
fn schedule_install() -> PyResult<()> {
    if sys::schedule_install() {
        Ok(())
    } else {
        Err(PyRuntimeError::new_err(
            "safe_exit could not ask the main thread to install its signal handlers (the \
             queue of pending calls is full); call safe_exit.config() from the main thread",
        ))
    }
}

/// `safe_exit::safe_kill_with`: sends `signal` (`None`: SIGTERM) to `pid`, waits up to
/// `timeout` seconds, then (with `force_kill`) sends SIGKILL. (On Windows the core's way:
/// SIGTERM is WM_CLOSE to the target's windows or else Ctrl-C on its console, SIGINT Ctrl-C,
/// SIGBREAK Ctrl-Break, SIGKILL `TerminateProcess`.) Returns the core's
/// `KillOutcome::as_str()`: `"exited"`, `"killed"`, `"still_running"` or `"not_running"`. The
/// GIL is released while it waits.
///
/// # Errors
///
/// - `ValueError` for a pid that must never be signalled (the core decides: 0, a negative
///   one, one too large for a `pid_t`, our own, a thread id) or a negative or non-finite
///   timeout.
/// - `KillFailed` for every other failure, with the core's message and kind.
#[pyfunction]
#[pyo3(signature = (pid, signal, timeout, force_kill))]
fn safe_kill(
    py: Python<'_>,
    pid: &Bound<'_, PyAny>,
    signal: Option<i32>,
    timeout: f64,
    force_kill: bool,
) -> PyResult<&'static str> {
    let pid = pid_of(pid)?;
    let mut opts = KillOptions::new()
        .timeout(timeout_of(timeout)?)
        .force_kill(force_kill);
    if let Some(signal) = signal {
        opts = opts.signal(signal);
    }
    match py.detach(|| opts.kill(pid)) {
        Ok(outcome) => Ok(outcome.as_str()),
        Err(e) => Err(kill_error(e)),
    }
}

/// `safe_exit::own` for the Python package, which has its own signal handlers and exit
/// functions: no handlers are installed; the package calls `stop_owned` at the start of its
/// exit functions. Options as for `safe_kill`.
///
/// # Errors
///
/// As `safe_kill`: `ValueError` for a pid that must never be signalled, `KillFailed` for the
/// rest (kind `not_running` for a child that has already exited).
#[pyfunction]
#[pyo3(signature = (pid, signal, timeout, group))]
fn own(pid: &Bound<'_, PyAny>, signal: Option<i32>, timeout: f64, group: bool) -> PyResult<()> {
    let pid = pid_of(pid)?;
    let mut opts = KillOptions::new()
        .timeout(timeout_of(timeout)?)
        .group(group);
    if let Some(signal) = signal {
        opts = opts.signal(signal);
    }
    // Disowned by pid (`disown`), not through the handle.
    safe_exit::__binding::own_without_handlers(u32::from(pid), &opts).map_err(kill_error)?;
    Ok(())
}

/// Disowns every ownership of `pid` made in this process: true if there was one still to
/// stop.
#[pyfunction]
fn disown(pid: i64) -> bool {
    u32::try_from(pid).is_ok_and(safe_exit::__binding::disown)
}

/// Stops the owned children still running, all at once, with the GIL released (and says on
/// stderr which had to be forced or could not be stopped).
#[pyfunction]
fn stop_owned(py: Python<'_>) {
    py.detach(safe_exit::__binding::stop_owned);
}

/// The parent's half of `die_with_parent` (the guardian on Linux, the kill-on-close job on
/// Windows).
///
/// # Errors
///
/// `OSError` where it cannot be had (unsupported platform, no pidfds, no guardian).
#[pyfunction]
fn prepare_die_with_parent() -> PyResult<()> {
    Ok(safe_exit::__binding::prepare_die_with_parent()?)
}

/// The child's half of `die_with_parent`, as `subprocess`'s `preexec_fn` (between fork and
/// exec; system calls only).
///
/// # Errors
///
/// `OSError` if the child cannot be registered (the spawn then fails).
#[cfg(unix)]
#[pyfunction]
fn die_with_parent_in_child() -> PyResult<()> {
    Ok(safe_exit::__binding::die_with_parent_in_child()?)
}

/// A Python int as a pid (the core decides which are pids).
fn pid_of(pid: &Bound<'_, PyAny>) -> PyResult<Pid> {
    // An int beyond 64 bits is no pid either; the core's message names the number as given.
    match pid.extract::<i64>() {
        Ok(pid) => Pid::try_from(pid).map_err(kill_error),
        Err(_) => Err(PyValueError::new_err(format!(
            "refusing to signal pid {pid}: it is far outside the range of process ids; pass the \
             pid of the one process to end"
        ))),
    }
}

/// A timeout in seconds as a `Duration`.
fn timeout_of(timeout: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(timeout).map_err(|_| {
        PyValueError::new_err(format!(
            "timeout_secs must be a finite number of seconds >= 0, not {timeout}"
        ))
    })
}

/// A core error as the Python exception the package raises for it: a pid that must never be
/// signalled is a programming error (`ValueError`, whatever `silence` says); everything else
/// is a failure to end the process (`KillFailed`, which `safe_kill` turns into
/// `SafeExitException` or silences).
fn kill_error(e: KillError) -> PyErr {
    match e {
        KillError::InvalidPid { .. }
        | KillError::SelfTarget { .. }
        | KillError::OwnThread { .. }
        | KillError::NotAProcess { .. } => PyValueError::new_err(with_causes(&e)),
        _ => KillFailed::new_err((with_causes(&e), e.kind())),
    }
}

/// The error and its causes on one line, each said once.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The module: `safe_exit._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(handled_signals, m)?)?;
    m.add_function(wrap_pyfunction!(arm, m)?)?;
    m.add_function(wrap_pyfunction!(set_exit_signal, m)?)?;
    m.add_function(wrap_pyfunction!(exit_signal, m)?)?;
    m.add_function(wrap_pyfunction!(end_by_signal, m)?)?;
    m.add_function(wrap_pyfunction!(schedule_install, m)?)?;
    // Private: set as an attribute, so that it stays out of `__all__` (and of the stub).
    m.setattr("_on_signal", wrap_pyfunction!(on_signal, m)?)?;
    m.add_function(wrap_pyfunction!(safe_kill, m)?)?;
    m.add_function(wrap_pyfunction!(own, m)?)?;
    m.add_function(wrap_pyfunction!(disown, m)?)?;
    m.add_function(wrap_pyfunction!(stop_owned, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_die_with_parent, m)?)?;
    #[cfg(unix)]
    m.add_function(wrap_pyfunction!(die_with_parent_in_child, m)?)?;
    #[cfg(windows)]
    {
        m.add_function(wrap_pyfunction!(console::install_console, m)?)?;
        m.add_function(wrap_pyfunction!(console::close_console_gate, m)?)?;
        m.add_function(wrap_pyfunction!(console::console_functions_done, m)?)?;
    }
    m.add("KillFailed", m.py().get_type::<KillFailed>())?;
    m.add("DEFAULT_CONFIG", ConfigFlag::DEFAULT.bits())?;
    m.add("ALL_CONFIG", ConfigFlag::all().bits())?;
    Ok(())
}
