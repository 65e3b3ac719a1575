"""The names and values of the original API, and the cost of importing the package."""

import subprocess
import sys
from enum import Enum, Flag, IntEnum

import safe_exit
from safe_exit import CONFIG_CTRL_ALL, DEFAULT_CONFIG, ConfigFlag, SafeExitException, SignalExit, WinCtrlEvent


def test_config_flag_members_and_values():
    assert issubclass(ConfigFlag, Flag)
    assert [(m.name, m.value) for m in ConfigFlag] == [
        ("SIGQUIT", 1),
        ("SIGHUP", 2),
        ("SIGBREAK", 4),
        ("CTRL_CLOSE", 8),
        ("CTRL_SHUTDOWN", 16),
        ("CTRL_LOGOFF", 32),
        ("AUTO_CREATE_CONSOLE", 64),
        ("FORCE_HIDE_CONSOLE", 128),
    ]
    assert ConfigFlag(0).value == 0
    assert not ConfigFlag(0)


def test_config_constants():
    assert CONFIG_CTRL_ALL == ConfigFlag.CTRL_CLOSE | ConfigFlag.CTRL_SHUTDOWN | ConfigFlag.CTRL_LOGOFF
    assert DEFAULT_CONFIG == ConfigFlag.SIGQUIT | ConfigFlag.SIGHUP | ConfigFlag.SIGBREAK | CONFIG_CTRL_ALL


def test_win_ctrl_event_values():
    assert issubclass(WinCtrlEvent, IntEnum)
    assert {m.name: m.value for m in WinCtrlEvent} == {
        "CTRL_C_EVENT": 0,
        "CTRL_BREAK_EVENT": 1,
        "CTRL_CLOSE_EVENT": 2,
        "CTRL_LOGOFF_EVENT": 5,
        "CTRL_SHUTDOWN_EVENT": 6,
    }


def test_exceptions():
    assert issubclass(SafeExitException, Exception)
    assert issubclass(SignalExit, SystemExit)
    e = SignalExit(15)
    assert (e.signal, e.code) == (15, 143)
    assert issubclass(safe_exit.KillOutcome, Enum)


def test_every_public_name_is_there():
    for name in safe_exit.__all__:
        assert getattr(safe_exit, name) is not None, name
    assert set(safe_exit.__all__) <= set(dir(safe_exit))


def test_config_rejects_what_is_not_a_flag():
    import pytest

    with pytest.raises(TypeError):
        safe_exit.config("SIGHUP")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        safe_exit.config(1 << 12)


def test_native_module_selects_the_same_signals_as_the_core():
    import signal

    from safe_exit import _native

    assert sorted(_native.handled_signals(0)) == sorted([signal.SIGINT, signal.SIGTERM])
    assert sorted(_native.handled_signals(DEFAULT_CONFIG.value)) == sorted(
        [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP]
    )


def test_import_loads_only_the_package():
    # What `import safe_exit` adds to a fresh interpreter: no enum, signal, threading,
    # logging, native module or psutil; those load when first needed.
    code = "import sys; before = set(sys.modules); import safe_exit; print(sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() in ("['safe_exit']", "['atexit', 'safe_exit']"), out
