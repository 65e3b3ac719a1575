"""Run cleanup functions exactly once however the process ends, and end other processes safely.

``register`` a function and it runs once when the interpreter exits: the main module ends,
``sys.exit`` is called, an exception goes uncaught, or SIGINT, SIGTERM, SIGQUIT or SIGHUP
arrives. After a signal the main thread first unwinds as it would for ``sys.exit`` (``finally:``
blocks and ``with`` exits run), then the functions run, newest first, then the process ends
*by that same signal*, so shells and supervisors see what happened. ``safe_kill`` asks another
process to end, waits for it, forces it after a deadline and says what happened.

How it works
------------
- The first ``register`` or ``config`` installs a Python signal handler (``signal.signal``)
  for SIGINT, SIGTERM and the signals chosen by ``ConfigFlag``, except a signal that is
  ignored at that moment (``nohup``, background jobs): it stays ignored. A Python handler
  found in place is called first (chained; if it raises, its exception unwinds the main
  thread instead of ``SignalExit``), except an event loop's (asyncio's
  ``loop.add_signal_handler``, ``asyncio.run``'s Ctrl-C handler): that one is left in place
  and owns its signal, as one installed later does (Python keeps one handler per signal).
  When asyncio lets go of a signal (``remove_signal_handler``, ``loop.close()``), which resets
  it to its default, our handler is put back; so are handlers reset to their defaults by
  anything else, at the next ``register`` or ``config``. A handler installed outside Python
  (by a C extension) is left alone.
- The handler records the first signal and raises ``SignalExit`` (a ``SystemExit``) in the
  main thread, which unwinds; for SIGINT it raises ``KeyboardInterrupt``, as Python's own
  handler does, so the standard library treats Ctrl-C as it always has (``subprocess`` gives
  its child a moment to clean up; ``asyncio.run`` cancels its tasks).
  Python's blocking calls (``time.sleep``, ``input``, socket and lock waits) are interrupted
  for it. Further signals while the main thread unwinds raise again, as repeated Ctrl-C
  raises ``KeyboardInterrupt`` again, so a program that swallows the exception can still be
  stopped. The exception is raised from the native module, so that no frame of ours is in
  its traceback: an uncaught ``KeyboardInterrupt`` prints what it prints without safe_exit.
- An ``atexit`` function runs the registered functions exactly once, newest first, even if a
  signal was already pending when it started. While they run, signals are ignored: a second
  signal never runs them again and never cuts them short. Once they have run, the handled
  signals take their default action again, so a signal arriving during the rest of the
  shutdown (a slow ``atexit`` function registered earlier) ends the process at once.
- At the very end of interpreter shutdown (after every ``atexit`` function and the flush of
  ``sys.stdout``/``sys.stderr``), a function in the native module ends the process by the
  recorded signal: default action, unblock, re-raise; as PID 1 of a container, where that
  does not work, it exits with status 128 + signal.

Limitations
-----------
- Signals are handled by Python, so they take effect when the main thread runs Python code:
  a C extension that blocks without checking for signals delays them until it returns.
- The functions run at interpreter exit, after non-daemon threads have been joined (as for
  ``atexit``); a thread that never ends delays them until a second signal interrupts the wait.
- Once a handled signal has arrived, the process ends by it, even if the program catches
  ``SignalExit`` and goes on for a while.
- ``os._exit``, SIGKILL and crashes cannot run anything.
- A child created by ``os.fork`` starts with no registered functions (its parent's cleanup is
  the parent's) and with the signal handlers that were in place before safe_exit's, so a
  signal does there what it did before (a terminated multiprocessing worker reports
  -SIGTERM), until the child calls ``register`` or ``config`` itself. Around ``fork`` the
  forking thread blocks the handled signals and then restores its own mask, also when several
  threads fork at the same moment.
- Signal handling needs the main thread: if the first ``register`` happens in another thread,
  the handlers are installed when the main thread next runs Python code.
- SIGTERM, SIGQUIT and SIGHUP raise ``SignalExit``, which the standard library treats as
  ``sys.exit``: ``subprocess.run`` kills its child at once (without safe_exit the parent would
  die and leave the child running).
- Functions registered after the registered functions have run (from another thread, late in
  shutdown) are not run, as with ``atexit``.

Windows
-------
Built and type-checked there, but not run: no test runs a Windows CPython (see the README).

- Ctrl-C, Ctrl-Break (``ConfigFlag.SIGBREAK``) and the console close, logoff and shutdown
  events (``CTRL_CLOSE``, ``CTRL_LOGOFF``, ``CTRL_SHUTDOWN``) reach a process through console
  control handlers, on a thread Windows creates for each event. The first ``register`` or
  ``config`` passes the flags to the Rust core's ``config`` (which also does
  ``AUTO_CREATE_CONSOLE`` and ``FORCE_HIDE_CONSOLE``): its handler takes these events, and a
  core hook runs the registered functions once, on that thread, with the GIL, through the same
  once-only routine as the ``atexit`` function. The core then ends the process with
  ``STATUS_CONTROL_C_EXIT`` (0xC000013A); the main thread is not unwound first (for close,
  logoff and shutdown Windows allows a few seconds in all). No Python handler is installed
  for SIGINT or SIGBREAK; SIGTERM, which a Windows process can only raise itself, keeps the
  Python handler and unwinds the main thread as on POSIX (exit status 128 + 15).
- The core is configured once per process: a later ``config`` with other flags raises
  ``RuntimeError`` there.
- Once the interpreter's ``atexit`` functions have started, a console event no longer enters
  the interpreter: it waits until the functions have run, then the process ends.
"""

import _thread
import atexit as _atexit
import os as _os
import sys as _sys

__all__ = [
    "CONFIG_CTRL_ALL",
    "DEFAULT_CONFIG",
    "ConfigFlag",
    "KillOutcome",
    "SafeExitException",
    "SignalExit",
    "WinCtrlEvent",
    "config",
    "die_with_parent",
    "disown",
    "exit_signal",
    "own",
    "register",
    "safe_kill",
    "unregister",
]


class SafeExitException(Exception):
    """A ``safe_kill`` failure, raised when ``silence`` is false. ``kind`` is a stable word for
    what went wrong (``"permission_denied"``, ``"survived_kill"``, ``"io"``, ...), the same
    that the ``safe-kill`` command prints with ``--json``."""

    kind: str

    def __init__(self, message: str, kind: str = "io") -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):
        # Pickled (multiprocessing, concurrent.futures) with its kind, not only its message.
        return (type(self), (str(self), self.kind))


class SignalExit(SystemExit):
    """Raised in the main thread when a handled signal arrives, so that it unwinds as for
    ``sys.exit``. ``code`` is 128 + the signal number (the status used where a process cannot
    end by a signal); ``signal`` is the signal number."""

    signal: int

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signal = signum

    def __reduce__(self):
        return (type(self), (self.signal,))


# The enum types live in `_types`: importing `enum` costs milliseconds of interpreter start,
# so they are loaded on first use (PEP 562).
_LAZY = frozenset({"CONFIG_CTRL_ALL", "DEFAULT_CONFIG", "ConfigFlag", "KillOutcome", "WinCtrlEvent"})


def __getattr__(name):
    if name in _LAZY:
        from . import _types

        value = getattr(_types, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)


_SIGINT = 2
_SIGBREAK = 21  # Windows: Ctrl-Break, as the C runtime numbers it
# On Windows the console events (Ctrl-C, Ctrl-Break, close, logoff, shutdown) go through the
# Rust core's console control handler, not through Python's signal handlers.
_WINDOWS = _os.name == "nt"
# What `timeout_secs=None` ("no deadline") becomes: a hundred years.
_NO_DEADLINE = 100 * 365 * 24 * 3600.0

# Where the process is in its ending. Only forward moves, except in a forked child.
_IDLE = 0  # nothing has happened
_UNWINDING = 1  # a signal arrived; the main thread is unwinding
_RUNNING = 2  # the registered functions are running (signals are ignored from here on)
_DONE = 3  # they ran; nothing runs them again

# Guards `_functions`, `_state`, `_exit_signal` and `_wanted_bits`. Reentrant: the signal
# handler runs in the main thread between two bytecodes, possibly while the main thread holds it.
_lock = _thread.RLock()
_functions: list = []  # (func, args, kwargs), oldest first; run from the end (LIFO)
_state = _IDLE
_exit_signal = 0  # the first handled signal, or 0
_wanted_bits = None  # the ConfigFlag value asked for by config()/register(), or None
# Main thread only: the configuration the installed handlers follow, and for each signal we
# handle, the handler we found in place (restored if a later config() drops the signal).
_installed_bits = None
_previous: dict = {}
# The signal numbers the configuration in force handles (installed, or left to an event loop).
_wanted_signals: list = []
_set_up = False  # native module armed, atexit and at-fork functions registered
# The process whose ending the handlers serve: the last one to call register/config (a child
# forked without exec becomes the owner when it calls them itself).
_owner_pid = 0
_install_scheduled = False  # a pending call will run `_install_in_main_thread` in the main thread
_owning = False  # `own` was called in this process: stop the owned children before the functions
# Set with the native module (`_set_up_once`). `_on_signal`: the signal handler we install,
# the native `_on_signal` bound to `_signal_arrived` (see there); until then a placeholder that
# is no handler. `_default_int_handler`: Python's own SIGINT handler, never chained to (it
# would raise KeyboardInterrupt inside ours).
_on_signal: object = object()
_default_int_handler: object = None
# Benchmarks only (python/bench): a callable given a stage name ("handler": the signal handler
# starts, "raise": it has made the exception to raise, "exit": the exit routine has started).
# None, the default, costs one global lookup at each of those points.
_trace = None


def config(flag=None):
    """Choose the signals that run the registered functions; call it before ``register``.

    SIGINT and SIGTERM are always handled; ``flag`` (a ``ConfigFlag``, default
    ``DEFAULT_CONFIG``) adds SIGQUIT and SIGHUP on POSIX. ``config(ConfigFlag(0))`` leaves them
    to their default actions. Calling it again changes the configuration: the handlers of
    signals no longer chosen are put back as they were.

    On Windows the flags go to the Rust core as they are: Ctrl-C always, Ctrl-Break
    (``SIGBREAK``) and the console close, logoff and shutdown events by flag run the functions,
    and ``AUTO_CREATE_CONSOLE`` and ``FORCE_HIDE_CONSOLE`` act on the console. The core is
    configured once per process, so there a later call with other flags raises
    ``RuntimeError``.
    """
    bits = _load_native().DEFAULT_CONFIG if flag is None else _flag_bits(flag)
    # Windows: the core's console handler first, so that flags it refuses change nothing here.
    _install_console(bits)
    global _wanted_bits
    with _lock:
        _wanted_bits = bits
    _ensure_installed()


def register(func, *args, **kwargs):
    """Call ``func(*args, **kwargs)`` once when the process ends; returns ``func``, so it
    works as a decorator.

    Functions run newest first (like ``atexit``). The first call installs ``DEFAULT_CONFIG``
    if ``config`` was not called. May be called from any thread.
    """
    if not callable(func):
        raise TypeError(f"safe_exit.register: {func!r} is not callable")
    global _wanted_bits
    with _lock:
        if _wanted_bits is None:
            _wanted_bits = _load_native().DEFAULT_CONFIG
    _ensure_installed()
    with _lock:
        _functions.append((func, args, kwargs))
    return func


def unregister(func):
    """Remove every registration of ``func`` (compared with ``==``, as ``atexit`` does)."""
    with _lock:
        _functions[:] = [entry for entry in _functions if entry[0] != func]


def exit_signal():
    """The signal the process is ending by, or ``None``. Meant for registered functions,
    e.g. to skip a slow flush when interrupted. On Windows Ctrl-C is SIGINT and Ctrl-Break
    SIGBREAK; the console close, logoff and shutdown events are no signal (``None``)."""
    return _exit_signal or None


def safe_kill(pid, kill_signal=None, timeout_secs=4, force_kill=True, silence=True):
    """Ask process ``pid`` to end, wait for it, force it after a deadline; say what happened.

    Sends ``kill_signal`` (default SIGTERM) and SIGCONT, waits up to ``timeout_secs`` seconds
    (``None``: no deadline) for the process to end, then, with ``force_kill``, sends SIGKILL.
    The wait is notified by the kernel (pidfd on Linux), not polled.

    On Windows it is the Rust core's way: SIGTERM posts WM_CLOSE to the target's visible
    windows, or else sends Ctrl-C to its console (which it must not share with us); SIGINT is
    Ctrl-C, SIGBREAK (21) Ctrl-Break, and SIGKILL and the forced end ``TerminateProcess``. Pass
    these signal numbers, not ``signal.CTRL_C_EVENT``/``CTRL_BREAK_EVENT``.

    Returns a ``KillOutcome``: ``EXITED``, ``KILLED``, ``STILL_RUNNING`` (deadline passed,
    ``force_kill`` false) or ``NOT_RUNNING``. If signalling or waiting fails, returns ``None``
    when ``silence`` is true (the default, as in the original), else raises
    ``SafeExitException``.

    Raises ``ValueError`` whatever ``silence`` says for a pid that must never be signalled
    (0 is our process group, a negative pid a group or every process, our own pid ourselves,
    and on Linux a thread id, ours or another process's, its whole process) and for a
    negative timeout; ``TypeError`` for arguments of the wrong type.
    """
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError(f"safe_kill: pid must be an int, not {type(pid).__name__}")
    # Which pids may be signalled the Rust core decides (ValueError from `_native.safe_kill`).
    signum, timeout = _kill_options("safe_kill", kill_signal, timeout_secs)

    from . import _native
    from ._types import KillOutcome

    try:
        outcome = _native.safe_kill(pid, signum, timeout, bool(force_kill))
    except _native.KillFailed as e:
        if silence:
            return None
        message, kind = e.args
        raise SafeExitException(message, kind) from e
    return KillOutcome(outcome)


def own(child, timeout_secs=4, kill_signal=None, group=False):
    """Stop ``child`` when this process ends, before the registered functions run.

    ``child`` is a ``subprocess.Popen`` or a pid. It is checked as ``safe_kill`` checks a pid
    and pinned now (Linux: a pidfd, so a pid reused later is never signalled); nothing is
    signalled. When the process ends by any path that runs the registered functions (a
    handled signal, the end of the main module, ``sys.exit``, an uncaught exception), every
    owned child still running gets ``kill_signal`` (default SIGTERM; with ``group``, its whole
    process group, which it must lead) and SIGCONT, all at once; each is awaited up to its
    ``timeout_secs`` (``None``: no deadline), counted from that same moment, then forced
    with SIGKILL. Then the registered functions run. A child that had to be forced is
    reported with one line on stderr.

    Children are never reaped: ``Popen.wait()`` still returns the real status, also inside a
    registered function. The main thread unwinds first (``finally:`` blocks run while the
    children still run); note that a ``with Popen(...)`` block being unwound waits for its
    child in ``Popen.__exit__`` before that. Endings that run nothing (SIGKILL, ``os._exit``,
    a crash) are covered by ``die_with_parent``. The first call installs ``DEFAULT_CONFIG`` if
    ``config`` was not called, as ``register`` does.

    Raises ``ValueError`` for a pid that must never be signalled (0, negative, our own, a
    thread id), ``TypeError`` for arguments of the wrong type, and ``SafeExitException`` with
    ``kind`` ``"not_running"`` for a child that has already exited (nothing is kept then),
    or another kind if it cannot be opened or the options are refused.
    """
    pid = _child_pid("own", child)
    signum, timeout = _kill_options("own", kill_signal, timeout_secs)
    global _wanted_bits, _owning
    with _lock:
        if _wanted_bits is None:
            _wanted_bits = _load_native().DEFAULT_CONFIG
    _ensure_installed()
    from . import _native

    with _lock:
        try:
            _native.own(pid, signum, timeout, bool(group))
        except _native.KillFailed as e:
            message, kind = e.args
            raise SafeExitException(message, kind) from e
        _owning = True
        if _state == _DONE:
            # The functions have run: this process is ending now.
            _native.stop_owned()


def disown(child):
    """Stop owning ``child`` (a ``subprocess.Popen`` or a pid): it is left running when this
    process ends. Returns whether it was owned and not yet stopped."""
    pid = _child_pid("disown", child, reaped_ok=True)
    if not _owning:
        return False
    return _load_native().disown(pid)


def die_with_parent():
    """Make children die with this process, also when it is killed: returns the
    ``preexec_fn`` for ``subprocess.Popen``.

    ``subprocess.Popen(cmd, preexec_fn=safe_exit.die_with_parent())``: when this process ends
    in any way at all (also SIGKILL, ``os._exit``, a crash), the child gets SIGKILL within
    milliseconds. On Linux (5.3+) a helper process, ``safe-exit-guard``, started by the first
    call, holds a pidfd of each such child and of this process; it is this *process* that
    counts, not the thread that started the child. Only the child is killed, not its own
    children. Combine it with ``own``, which stops children politely on every ending that
    runs the registered functions.

    On Windows this process enters a kill-on-close job object at the first call, so every
    child it starts from then on dies with it, and the call returns ``None`` (which
    ``preexec_fn`` accepts: there is nothing to run in the child). Raises ``OSError`` where
    it cannot be had: macOS and the BSDs (no means), Linux without pidfds, a helper that
    cannot be started. A failure in the child (the helper was killed meanwhile, or it has no
    room for another child: out of descriptors) makes ``Popen`` raise
    ``SubprocessError("Exception occurred in preexec_fn.")``: no child runs unguarded.

    ``preexec_fn`` is Python's documented way to run code between fork and exec; this one is
    a native function that only makes system calls.
    """
    native = _load_native()
    native.prepare_die_with_parent()
    return getattr(native, "die_with_parent_in_child", None)


def _child_pid(where, child, reaped_ok=False):
    if isinstance(child, int) and not isinstance(child, bool):
        return int(child)
    pid = getattr(child, "pid", None)
    if not isinstance(pid, int) or isinstance(pid, bool) or not hasattr(child, "returncode"):
        kind = type(child).__name__
        raise TypeError(f"safe_exit.{where}: expected a subprocess.Popen or a pid, not {kind}")
    if child.returncode is not None and not reaped_ok:
        # Reaped: its pid may already name another process.
        raise SafeExitException(
            f"not owning pid {pid}: it has already exited and been reaped (returncode "
            f"{child.returncode}), so there is nothing to stop when this process ends",
            "not_running",
        )
    return pid


def _kill_options(where, kill_signal, timeout_secs):
    """The signal (or None) and the timeout in seconds, checked."""
    if kill_signal is None:
        signum = None
    elif isinstance(kill_signal, int) and not isinstance(kill_signal, bool):
        signum = int(kill_signal)
        if not -(2**31) <= signum < 2**31:
            raise ValueError(f"{where}: {signum} is not a signal number")
    else:
        raise TypeError(f"{where}: kill_signal must be an int or None, not {type(kill_signal).__name__}")
    if timeout_secs is None:
        return signum, _NO_DEADLINE
    if isinstance(timeout_secs, bool) or not isinstance(timeout_secs, (int, float)):
        kind = type(timeout_secs).__name__
        raise TypeError(f"{where}: timeout_secs must be a number of seconds or None, not {kind}")
    timeout = float(timeout_secs)
    if not timeout >= 0:  # also rejects NaN
        raise ValueError(f"{where}: timeout_secs must be >= 0 seconds, not {timeout_secs!r}")
    return signum, min(timeout, _NO_DEADLINE)


# ---------------------------------------------------------------------------------------------
# Installation


def _flag_bits(flag):
    if isinstance(flag, int) and not isinstance(flag, bool):
        bits = int(flag)
    else:
        from ._types import ConfigFlag

        if not isinstance(flag, ConfigFlag):
            raise TypeError(f"safe_exit.config: flag must be a ConfigFlag, not {type(flag).__name__}")
        bits = flag.value
    if bits & ~_load_native().ALL_CONFIG or bits < 0:
        raise ValueError(f"safe_exit.config: {flag!r} has bits that are not ConfigFlag values")
    return bits


def _ensure_installed():
    global _owner_pid
    _owner_pid = _os.getpid()
    _set_up_once()
    with _lock:
        bits = _wanted_bits
    _install_console(bits)
    try:
        _install_in_main_thread()
    except ValueError:
        # `signal.signal` only works in the main thread: ask the main thread to do it (once:
        # CPython's queue of pending calls is short).
        global _install_scheduled
        with _lock:
            if _install_scheduled:
                return
            _install_scheduled = True
        from . import _native

        try:
            _native.schedule_install()
        except BaseException:
            with _lock:
                _install_scheduled = False
            raise


def _set_up_once():
    global _set_up, _on_signal, _default_int_handler
    if _set_up:
        return
    with _lock:
        if _set_up:
            return
        from _functools import partial

        from . import _native

        _native.arm()
        _default_int_handler = _signal_module().default_int_handler
        _on_signal = partial(_native._on_signal, _signal_arrived)
        _atexit.register(_run_exit_functions_at_exit if _WINDOWS else _run_exit_functions)
        if hasattr(_os, "register_at_fork"):
            _os.register_at_fork(
                before=_before_fork,
                after_in_parent=_after_fork_in_parent,
                after_in_child=_after_fork_in_child,
            )
        _set_up = True


def _install_console(bits):
    """Windows: passes the ``ConfigFlag`` value ``bits`` as it is to the Rust core's ``config``,
    whose console control handler then takes Ctrl-C, Ctrl-Break and the console events and runs
    the registered functions through a core hook (`_run_exit_functions_on_console_event`).
    Idempotent for the same bits; ``RuntimeError`` for others once the core is configured.
    Any thread. Elsewhere nothing."""
    if not _WINDOWS or bits is None:
        return
    _set_up_once()  # the `atexit` function first: it closes the console gate at exit
    _load_native().install_console(bits)


def _python_signals(signals):
    """The signals of ``signals`` (those the configuration handles) that our Python handler
    takes: all of them, except on Windows SIGINT and SIGBREAK, which are Ctrl-C and Ctrl-Break,
    console events that the core's console control handler takes (it is called before the C
    runtime's, which would turn them into Python signals): no second handler for them."""
    if _WINDOWS:
        return set(signals) - {_SIGINT, _SIGBREAK}
    return set(signals)


def _install_in_main_thread():
    """Make the installed handlers follow `_wanted_bits`. Main thread only (`signal.signal`
    raises ValueError elsewhere, before changing anything). Also the native module's pending
    call, when the first `register` came from another thread."""
    global _installed_bits, _install_scheduled
    with _lock:
        bits = _wanted_bits
        if _in_main_thread():
            _install_scheduled = False  # whatever was asked for, this call does it
    if bits is None:
        return
    if bits == _installed_bits:
        if _in_main_thread():
            _reclaim(_wanted_signals)  # handlers reset to their defaults since: ours again
        return
    if not _in_main_thread():
        raise ValueError("signal handlers can only be installed in the main thread")
    from . import _native

    sig = _signal_module()
    wanted = _python_signals(_native.handled_signals(bits))
    for signum in sorted(set(_previous) - wanted):
        if sig.getsignal(signum) is _on_signal:
            previous = _previous[signum]
            sig.signal(signum, sig.SIG_DFL if previous is None else previous)
        del _previous[signum]
    for signum in sorted(wanted - set(_previous)):
        current = sig.getsignal(signum)
        if current == sig.SIG_IGN:
            continue  # ignored when we came to it (nohup, background jobs): stays ignored
        if current is None:
            continue  # a handler installed outside Python: left alone, Python cannot chain it
        if _is_event_loop_handler(current):
            continue  # asyncio's (loop.add_signal_handler, asyncio.run): the program's own
        _previous[signum] = current  # first: our handler may run as soon as it is in place
        try:
            sig.signal(signum, _on_signal)
        except BaseException:
            del _previous[signum]
            raise
    _installed_bits = bits
    _wanted_signals[:] = sorted(wanted)
    _guard_event_loops()


def _reclaim(signals):
    """Puts our handler back on each of `signals` that was reset to its default (SIG_DFL, or
    SIGINT's `default_int_handler`) since: an event loop that removes its handler does that.
    Main thread only."""
    sig = _signal_module()
    for signum in signals:
        current = sig.getsignal(signum)
        if current is _on_signal:
            continue
        if current == sig.SIG_DFL or current is sig.default_int_handler:
            _previous[signum] = current
            sig.signal(signum, _on_signal)


def _guard_event_loops():
    """asyncio's `remove_signal_handler` (also called by `loop.close()`, at the end of
    `asyncio.run`) resets the signal to its default, which would leave it without our handler
    for the rest of the program: wrap it so that ours comes back. If asyncio is not imported
    yet, this is done when it is (a finder on `sys.meta_path`, removed once used)."""
    module = _sys.modules.get("asyncio.unix_events")
    if module is not None:
        _wrap_remove_signal_handler(module)
    elif not any(finder is _AsyncioImportWatch for finder in _sys.meta_path):
        _sys.meta_path.insert(0, _AsyncioImportWatch)


def _wrap_remove_signal_handler(module):
    cls = getattr(module, "_UnixSelectorEventLoop", None)
    original = getattr(cls, "remove_signal_handler", None)
    if original is None or getattr(original, "_safe_exit_wrapped", False):
        return

    def remove_signal_handler(self, sig):
        removed = original(self, sig)
        if sig in _wanted_signals and _os.getpid() == _owner_pid and _in_main_thread():
            _reclaim([sig])
        return removed

    remove_signal_handler._safe_exit_wrapped = True
    remove_signal_handler.__doc__ = original.__doc__
    cls.remove_signal_handler = remove_signal_handler


class _AsyncioImportWatch:
    """Wraps asyncio's `remove_signal_handler` as soon as `asyncio.unix_events` is imported."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "asyncio.unix_events":
            return None
        try:
            _sys.meta_path.remove(cls)
        except ValueError:
            pass
        import importlib.util

        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)
            _wrap_remove_signal_handler(module)

        loader.exec_module = exec_module
        return spec


def _is_event_loop_handler(handler):
    """Whether `handler` is an event loop's: asyncio's `add_signal_handler` and `asyncio.run`
    install one that only wakes the loop, which then runs the program's callback. The program
    handles that signal itself; raising SignalExit over it would cancel the task that drains."""
    # `asyncio.run` installs a `functools.partial` of its runner's method.
    while type(handler).__name__ == "partial" and hasattr(handler, "func"):
        handler = handler.func
    module = getattr(handler, "__module__", None) or ""
    return module.split(".")[0] in ("asyncio", "uvloop")


def _in_main_thread():
    threading = _sys.modules.get("threading")
    if threading is None:
        # No `threading`, so almost surely no other thread; if there is one (started with
        # `_thread`), `signal.signal` raises ValueError before changing anything.
        return True
    return threading.current_thread() is threading.main_thread()


def _signal_module():
    # `_signal` is the C module under `signal`; the `signal` wrapper would import `enum`, a
    # few milliseconds we need not spend at the first `register`.
    try:
        import _signal

        return _signal
    except ImportError:  # pragma: no cover - every CPython has it
        import signal

        return signal


# ---------------------------------------------------------------------------------------------
# Ending


def _signal_arrived(signum, frame):
    """The Python-level handler's work: runs in the main thread between two bytecodes, called
    by the handler we install, `_on_signal` (the native `_on_signal` with this function bound
    to it). Returns the exception to raise in the main thread, or None; the native handler
    raises it. Raised from native code, it carries no frame of ours: a Ctrl-C prints the
    traceback Python's own handler gives, and printing it at exit reads no source file of ours
    (raised here, it did: a third of the time from SIGINT to the functions)."""
    global _state, _exit_signal
    if _trace is not None:
        _trace("handler")
    if _os.getpid() != _owner_pid:
        # A child forked without exec whose handlers could not be put back (see
        # `_after_fork_in_child`): the signal does what it did before safe_exit.
        _act_as_before(signum, frame)
        return None
    with _lock:
        if _state == _DONE:
            # The functions ran and the process is ending: nothing is left to protect, so the
            # signal ends it at once, as it would without safe_exit.
            _native_module().end_by_signal(signum)
        if _state == _RUNNING:
            return None  # the functions are running: exactly once, never cut short
        if _exit_signal == 0:
            # Handed to the native module by the exit routine, which always runs before the
            # end of the interpreter where the process ends by it.
            _exit_signal = signum
        code = None if frame is None else frame.f_code
        if code is _EXIT_CODE or code is _EXIT_CODE_WINDOWS:
            # The signal was pending when the exit routine started (an `atexit` function
            # before it blocked in C): raising here, before it marks itself running, would
            # make `atexit` swallow the exception and skip every function. They run now, and
            # the process then ends by the signal.
            return None
        _state = _UNWINDING
    previous = _previous.get(signum)
    if callable(previous) and previous is not _default_int_handler:
        previous(signum, frame)
    # For SIGINT exactly what Python's own SIGINT handler raises: the standard library tests
    # for it by identity (`subprocess.Popen.__exit__`), and gives children a moment to clean up.
    exception = KeyboardInterrupt() if signum == _SIGINT else SignalExit(signum)
    if _trace is not None:
        _trace("raise")
    return exception


def _native_module():
    return _sys.modules[__name__ + "._native"]


def _load_native():
    from . import _native

    return _native


def _act_as_before(signum, frame):
    previous = _previous.get(signum)
    if callable(previous):  # a Python handler, or SIGINT's default_int_handler
        return previous(signum, frame)
    # The default action (also for a handler installed outside Python, which we cannot call):
    # restore it and send the signal again, which ends the process here.
    sig = _signal_module()
    sig.signal(signum, sig.SIG_DFL)
    _os.kill(_os.getpid(), signum)
    return None


def _run_exit_functions():
    """The `atexit` function: runs the registered functions once, newest first."""
    global _state
    with _lock:
        if _state >= _RUNNING:
            return
        _state = _RUNNING
    if _trace is not None:
        _trace("exit")  # not before: a signal arriving in it would raise there
    try:
        while True:
            if _owning:
                # Owned children first (also one owned by a function that ran): they may
                # still be writing to what the functions close.
                _load_native().stop_owned()
            with _lock:
                if not _functions:
                    if _owning:
                        # The last look, under the lock `own` takes: a child owned from now
                        # on finds the functions done and is stopped at once.
                        _load_native().stop_owned()
                    _state = _DONE
                    break
                func, args, kwargs = _functions.pop()
            try:
                func(*args, **kwargs)
            except BaseException:
                _report_failure(func)
    finally:
        with _lock:
            _state = _DONE
            signum = _exit_signal
        if signum and not _WINDOWS:
            # The end of the interpreter ends the process by it (POSIX: on Windows the status
            # 128 + signal that SignalExit carries stands, and a console event ends the process
            # through the core).
            _load_native().set_exit_signal(signum)
        _flush_std_streams()
        _default_actions_from_now_on()


def _run_exit_functions_at_exit():
    """Windows: the `atexit` function. Closes the console gate first (from now on a console
    event does not enter the interpreter, which will soon be finalizing; one already inside,
    running the functions, is waited for, without the GIL), runs the functions unless that
    event ran them, then lets a console event that waits for them end the process."""
    native = _load_native()
    native.close_console_gate()
    try:
        _run_exit_functions()
    finally:
        native.console_functions_done()


def _run_exit_functions_on_console_event(signum):
    """Windows: called by the core's hook on the console control thread that Windows created
    for the event, with the GIL. ``signum`` is SIGINT (Ctrl-C), SIGBREAK (Ctrl-Break) or 0 (close,
    logoff, shutdown). Runs the functions once, as the `atexit` function would (the same
    routine and state); the core ends the process when this returns."""
    global _exit_signal
    with _lock:
        if signum and _exit_signal == 0 and _state < _RUNNING:
            _exit_signal = signum
    _run_exit_functions()


# The exit routine's code: a signal pending when it starts must not raise there
# (`_signal_arrived`). Compared by identity: hashing a code object (`in` a set) hashes its
# constants, the code of the functions it defines included, which for the top level of a big
# module (the frame a script's main loop runs in) takes tens of microseconds.
_EXIT_CODE = _run_exit_functions.__code__
_EXIT_CODE_WINDOWS = _run_exit_functions_at_exit.__code__


def _default_actions_from_now_on():
    """After the functions: the signals we handle take their default action again, so that one
    arriving while the rest of the shutdown runs (a slow `atexit` function registered before
    ours, blocked in C) ends the process at once. Not as PID 1, which the kernel protects from
    default actions: our handler ends the process there (see `_signal_arrived`)."""
    if _os.getpid() == 1 or not _in_main_thread():
        return
    sig = _signal_module()
    for signum in list(_previous):
        try:
            if sig.getsignal(signum) is _on_signal:
                sig.signal(signum, sig.SIG_DFL)
        except (ValueError, OSError):
            pass


def _report_failure(func):
    try:
        import logging

        logging.getLogger("safe_exit").exception(
            "exit function %r raised an exception; running the remaining ones", func
        )
    except BaseException:  # logging unusable this late in shutdown: plain stderr
        try:
            import traceback

            traceback.print_exc()
        except BaseException:
            pass


def _flush_std_streams():
    for stream in (_sys.stdout, _sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


# Around `os.fork`, the forking thread blocks the signals we handle: a signal sent to the new
# child before it has put the handlers found before ours back would otherwise reach our
# Python handler there, and CPython drops the Python-level signals pending in a new child.
# Blocked, it waits in the kernel and takes its usual action once unblocked.
# The mask is saved per forking thread: threads that fork at the same moment each put back
# their own (a signal mask belongs to a thread).
_fork_masks: dict = {}


def _before_fork():
    sig = _signal_module()
    if _previous and hasattr(sig, "pthread_sigmask"):
        _fork_masks[_thread.get_ident()] = sig.pthread_sigmask(sig.SIG_BLOCK, list(_previous))


def _restore_fork_mask():
    mask = _fork_masks.pop(_thread.get_ident(), None)
    if mask is not None:
        sig = _signal_module()
        sig.pthread_sigmask(sig.SIG_SETMASK, mask)


def _after_fork_in_parent():
    _restore_fork_mask()


def _after_fork_in_child():
    """A child forked without exec starts with no functions, no ending in progress, and the
    signal handlers that were in place before ours, until it calls `register` or `config`
    itself (its parent's ending is none of its business)."""
    global _lock, _state, _exit_signal, _installed_bits, _owning
    _lock = _thread.RLock()
    _owning = False  # the parent's children are the parent's
    # Only the forking thread exists here; the masks other threads of the parent saved are
    # theirs.
    mine = _fork_masks.get(_thread.get_ident())
    _fork_masks.clear()
    if mine is not None:
        _fork_masks[_thread.get_ident()] = mine
    del _functions[:]
    _state = _IDLE
    _exit_signal = 0
    native = _sys.modules.get(__name__ + "._native")
    if native is not None:
        native.set_exit_signal(0)
    try:
        sig = _signal_module()
        for signum, previous in list(_previous.items()):
            if sig.getsignal(signum) is _on_signal:
                sig.signal(signum, sig.SIG_DFL if previous is None else previous)
            del _previous[signum]
        _installed_bits = None
        del _wanted_signals[:]
    finally:
        _restore_fork_mask()
