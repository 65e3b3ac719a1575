//! Windows: the registered Python functions run from the core's console control handler.
//!
//! Ctrl-C, Ctrl-Break and the console close, logoff and shutdown events are not signals that
//! Python could handle in its main thread: Windows calls the process's console control
//! handlers on a thread it creates for each event, and for close, logoff and shutdown it ends
//! the process as soon as the handler returns. So on Windows the package hands them to the Rust
//! core ([`install_console`]: `safe_exit::config` with the flags as given, which also does
//! `AUTO_CREATE_CONSOLE` and `FORCE_HIDE_CONSOLE`) and registers one core hook,
//! [`on_console_event`]. The core's handler runs its hooks on that thread and keeps it until
//! they are done, then ends the process (`STATUS_CONTROL_C_EXIT`). Our hook takes the GIL
//! there (`Python::attach`, which gives the foreign thread a thread state) and calls
//! `safe_exit._run_exit_functions_on_console_event`, the same once-only routine as the
//! `atexit` function, under the same lock and state.
//!
//! The interpreter must not be entered once it has started to shut down: a thread that takes
//! the GIL after `Py_FinalizeEx` set its "finalizing" flag is ended (CPython up to 3.13) or
//! blocked for good (3.14), which here would leave the core waiting for a hook that never
//! returns. CPython calls the `atexit` functions before it sets that flag, so the package's
//! `atexit` function closes a gate first ([`close_console_gate`], which waits, without the GIL,
//! for a console thread already inside the interpreter to leave it). A console event that
//! comes later does not enter Python: it waits until the `atexit` function has run the
//! functions ([`console_functions_done`]), so that it cannot end the process under them, and
//! then lets the core end the process, as a signal does on unix once the functions have run.
//!
//! The core's own exit function runs too, after the interpreter has gone (from the DLL's
//! detach, in `ExitProcess`); there, and after `os._exit`, the exit reason is a normal exit and
//! the hook returns at once, touching nothing of Python's (nor any thread-local).

use std::sync::{Condvar, Mutex, MutexGuard, Once, PoisonError};

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use safe_exit::{ConfigFlag, ExitReason};

/// Whether the interpreter may still be entered from a console thread.
struct Gate {
    /// The `atexit` function has started: no console thread enters the interpreter any more.
    closed: bool,
    /// Console threads inside the interpreter (or waiting for the GIL to enter it).
    inside: u32,
    /// The `atexit` function has run the registered functions (or found them run).
    done: bool,
}

static GATE: Mutex<Gate> = Mutex::new(Gate {
    closed: false,
    inside: 0,
    done: false,
});
/// Notified whenever [`GATE`] changes.
static CHANGED: Condvar = Condvar::new();

/// [`GATE`], also after a panic while it was held (nothing in it can be left half-changed).
fn gate() -> MutexGuard<'static, Gate> {
    GATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on [`CHANGED`].
fn wait(g: MutexGuard<'static, Gate>) -> MutexGuard<'static, Gate> {
    CHANGED.wait(g).unwrap_or_else(PoisonError::into_inner)
}

/// Windows: `safe_exit::config` with the `ConfigFlag` value `flags`, as given (the core sets up
/// the console by `AUTO_CREATE_CONSOLE` and `FORCE_HIDE_CONSOLE`, and installs its console
/// control handler for Ctrl-C, and by flag Ctrl-Break and the close, logoff and shutdown
/// events), then, once per process, the core hook that runs the package's functions. The GIL
/// is released meanwhile: the core's lock is never taken while holding it.
///
/// # Errors
///
/// - `RuntimeError` if the core is already configured with other flags (it is configured
///   once per process).
/// - `OSError` if the console control handler cannot be installed.
#[pyfunction]
pub(crate) fn install_console(py: Python<'_>, flags: u32) -> PyResult<()> {
    static HOOK: Once = Once::new();
    let flags = ConfigFlag::from_bits_truncate(flags);
    py.detach(|| {
        safe_exit::config(flags)?;
        HOOK.call_once(|| {
            safe_exit::register_named(
                "safe_exit (Python): the registered functions",
                on_console_event,
            );
        });
        Ok(())
    })
    .map_err(|e: safe_exit::Error| match e {
        safe_exit::Error::Install(_) => PyOSError::new_err(crate::with_causes(&e)),
        _ => PyRuntimeError::new_err(crate::with_causes(&e)),
    })
}

/// Called by the package's `atexit` function before it runs the functions: from now on no
/// console thread enters the interpreter. Waits, with the GIL released, until a console thread
/// already inside has left (it runs the functions; the `atexit` function then finds them run).
#[pyfunction]
pub(crate) fn close_console_gate(py: Python<'_>) {
    py.detach(|| {
        let mut g = gate();
        g.closed = true;
        while g.inside > 0 {
            g = wait(g);
        }
    });
}

/// Called by the package's `atexit` function once the functions have run: a console event
/// waiting for them may now let the core end the process.
#[pyfunction]
pub(crate) fn console_functions_done() {
    gate().done = true;
    CHANGED.notify_all();
}

/// The core hook, on the console control thread that Windows created for the event (or, at a
/// normal exit, on the exiting thread inside `ExitProcess`, where it does nothing).
fn on_console_event() {
    let signum = match safe_exit::exit_reason() {
        // Ctrl-C (SIGINT) and Ctrl-Break (SIGBREAK): the signal numbers the C runtime gives them.
        Some(ExitReason::Signal(signal)) => signal.as_raw(),
        // Close, logoff, shutdown: no signal.
        Some(ExitReason::ConsoleEvent(_)) => 0,
        // A normal exit (the interpreter's `atexit` function ran the functions, and it is gone
        // now) or `os._exit` (which runs nothing): nothing of Python's here.
        _ => return,
    };
    let mut g = gate();
    if g.closed {
        // The interpreter is exiting and its `atexit` function runs (or ran) the functions:
        // keep this thread, and so the process, until they are done; the core then ends it.
        while !g.done {
            g = wait(g);
        }
        return;
    }
    g.inside += 1;
    drop(g);
    if crate::sys::interpreter_initialized() {
        Python::attach(|py| {
            let ran = py
                .import("safe_exit")
                .and_then(|m| m.call_method1("_run_exit_functions_on_console_event", (signum,)));
            if let Err(e) = ran {
                e.write_unraisable(py, None);
            }
        });
    }
    gate().inside -= 1;
    CHANGED.notify_all();
}
