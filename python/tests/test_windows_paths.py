"""The Windows code paths of the package, checked on this platform: which ones are taken and
what they hand to the native module, with the package told it runs on Windows
(``safe_exit._WINDOWS = True``) and the three Windows-only native functions replaced by
recorders. What the native side then does on Windows (the core's console handler, the gate,
the GIL on the console thread) no test here runs; see python/README.md.

Each scenario runs in a child interpreter: it changes that interpreter's signal handlers and
`atexit` functions, which must not leak into the test run.
"""

import signal
import subprocess
import sys
import textwrap

from conftest import DEADLINE

import safe_exit

# Sets the child up as "Windows": the package's flag and recorders for the Windows-only native
# functions, which print what they are given (`native install_console 204`).
PRELUDE = """
import signal, sys, threading
import safe_exit
from safe_exit import ConfigFlag, _native

safe_exit._WINDOWS = True
REFUSE = []

def say(*words):
    print(*words, flush=True)

def install_console(flags):
    say("native install_console", flags)
    if REFUSE and flags != REFUSE[0]:
        raise RuntimeError("already configured")

_native.install_console = install_console
_native.close_console_gate = lambda: say("native close_console_gate")
_native.console_functions_done = lambda: say("native console_functions_done")
"""


def run(script: str) -> subprocess.CompletedProcess:
    code = PRELUDE + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE, check=False
    )
    assert done.stderr == "", done.stderr
    return done


def lines(done: subprocess.CompletedProcess) -> list:
    return done.stdout.splitlines()


def test_config_passes_the_flags_to_the_core_as_they_are():
    # Every Windows flag, console ones included, and a POSIX one the core ignores there.
    done = run(
        """
        flags = (ConfigFlag.SIGQUIT | ConfigFlag.SIGBREAK | ConfigFlag.CTRL_CLOSE
                 | ConfigFlag.CTRL_LOGOFF | ConfigFlag.CTRL_SHUTDOWN
                 | ConfigFlag.AUTO_CREATE_CONSOLE | ConfigFlag.FORCE_HIDE_CONSOLE)
        say("value", flags.value)
        safe_exit.config(flags)
        safe_exit.config(flags.value)
        """
    )
    value = 1 | 4 | 8 | 16 | 32 | 64 | 128
    assert lines(done) == [
        f"value {value}",
        f"native install_console {value}",
        # Each call that installs checks the core again (the same flags: no error).
        f"native install_console {value}",
        f"native install_console {value}",
        f"native install_console {value}",
        # At exit: the gate, the (no) functions, done.
        "native close_console_gate",
        "native console_functions_done",
    ]


def test_register_without_config_installs_the_default_configuration():
    done = run(
        """
        safe_exit.register(say, "function ran")
        """
    )
    default = safe_exit.DEFAULT_CONFIG.value
    assert lines(done) == [
        f"native install_console {default}",
        "native close_console_gate",
        "function ran",
        "native console_functions_done",
    ]


def test_own_installs_the_configuration_too():
    done = run(
        """
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        safe_exit.own(child, timeout_secs=5)
        """
    )
    assert lines(done)[0] == f"native install_console {safe_exit.DEFAULT_CONFIG.value}"


def test_flags_the_core_refuses_change_nothing():
    done = run(
        """
        safe_exit.config(ConfigFlag.CTRL_CLOSE)
        REFUSE.append(ConfigFlag.CTRL_CLOSE.value)
        try:
            safe_exit.config(ConfigFlag.SIGBREAK)
        except RuntimeError as e:
            say("refused:", e)
        say("wanted", safe_exit._wanted_bits)
        safe_exit.register(say, "function ran")
        """
    )
    assert lines(done) == [
        "native install_console 8",
        "native install_console 8",
        "native install_console 4",
        "refused: already configured",
        "wanted 8",
        "native install_console 8",
        "native close_console_gate",
        "function ran",
        "native console_functions_done",
    ]


def test_python_handles_neither_ctrl_c_nor_ctrl_break_there():
    # The core's console handler takes Ctrl-C and Ctrl-Break; Python's handler keeps SIGTERM.
    # (The native `handled_signals` answers as it would on Windows: SIGINT, SIGTERM, SIGBREAK.)
    done = run(
        """
        _native.handled_signals = lambda bits: [2, 15, 21]
        safe_exit.config()
        say("SIGINT default", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        say("SIGTERM ours", signal.getsignal(signal.SIGTERM) is safe_exit._on_signal)
        say("signal 21 untouched", signal.getsignal(21) == signal.SIG_DFL)
        say("wanted", safe_exit._wanted_signals)
        """
    )
    assert [line for line in lines(done) if not line.startswith("native ")] == [
        "SIGINT default True",
        "SIGTERM ours True",
        "signal 21 untouched True",
        "wanted [15]",
    ]


def test_a_console_event_runs_the_functions_once_on_its_thread():
    # What the core's hook calls, from a thread that is not the main one (Windows creates one
    # for each event); then the interpreter's exit closes the gate and runs nothing again.
    done = run(
        """
        @safe_exit.register
        def function():
            main = threading.current_thread() is threading.main_thread()
            say("function ran", safe_exit.exit_signal(), main)

        for signum in (21, 2):
            t = threading.Thread(target=safe_exit._run_exit_functions_on_console_event, args=(signum,))
            t.start()
            t.join()
        say("main thread goes on")
        """
    )
    assert lines(done) == [
        f"native install_console {safe_exit.DEFAULT_CONFIG.value}",
        "function ran 21 False",
        "main thread goes on",
        "native close_console_gate",
        "native console_functions_done",
    ]


def test_a_close_event_is_no_signal():
    done = run(
        """
        safe_exit.register(lambda: say("exit_signal", safe_exit.exit_signal()))
        safe_exit._run_exit_functions_on_console_event(0)
        """
    )
    assert "exit_signal None" in lines(done)


def test_posix_keeps_every_handled_signal():
    assert not safe_exit._WINDOWS
    assert safe_exit._python_signals([2, 15, 3, 1]) == {1, 2, 3, 15}
    assert safe_exit._install_console(safe_exit.DEFAULT_CONFIG.value) is None  # nothing to do
    assert signal.SIGINT == safe_exit._SIGINT
