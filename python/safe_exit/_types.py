"""The enum types of ``safe_exit``.

Kept apart from ``__init__`` because importing :mod:`enum` costs a few milliseconds of
interpreter start; ``safe_exit`` loads this module the first time one of these names is used.
"""

from enum import Enum, Flag, IntEnum

__all__ = [
    "CONFIG_CTRL_ALL",
    "DEFAULT_CONFIG",
    "ConfigFlag",
    "KillOutcome",
    "WinCtrlEvent",
]


class ConfigFlag(Flag):
    """Which signals and console events :func:`safe_exit.register` handles, beyond SIGINT and
    SIGTERM, which are always handled. Pass to :func:`safe_exit.config`.

    Flags for the other platform are accepted and ignored, so one configuration serves both.
    ``ConfigFlag(0)`` is valid: SIGINT and SIGTERM only.
    """

    SIGQUIT = 1
    """Handle SIGQUIT (POSIX). Its default action dumps core without running anything."""
    SIGHUP = 2
    """Handle SIGHUP (POSIX): the terminal closed, or a supervisor asks to stop."""
    SIGBREAK = 4
    """Handle SIGBREAK / CTRL_BREAK_EVENT (Windows)."""
    CTRL_CLOSE = 8
    """Handle CTRL_CLOSE_EVENT: the console window is closing (Windows)."""
    CTRL_SHUTDOWN = 16
    """Handle CTRL_SHUTDOWN_EVENT: the system is shutting down (Windows)."""
    CTRL_LOGOFF = 32
    """Handle CTRL_LOGOFF_EVENT: the user is logging off (Windows)."""
    AUTO_CREATE_CONSOLE = 64
    """Allocate a hidden console when the process has none (Windows)."""
    FORCE_HIDE_CONSOLE = 128
    """Hide the process's console window (Windows)."""


CONFIG_CTRL_ALL = ConfigFlag.CTRL_CLOSE | ConfigFlag.CTRL_SHUTDOWN | ConfigFlag.CTRL_LOGOFF
"""The Windows console events that end a process: close, shutdown and logoff."""

DEFAULT_CONFIG = ConfigFlag.SIGQUIT | ConfigFlag.SIGHUP | ConfigFlag.SIGBREAK | CONFIG_CTRL_ALL
"""What :func:`safe_exit.register` installs when :func:`safe_exit.config` was not called."""


class WinCtrlEvent(IntEnum):
    """Windows console control events, with their Windows values."""

    CTRL_C_EVENT = 0
    CTRL_BREAK_EVENT = 1
    CTRL_CLOSE_EVENT = 2
    CTRL_LOGOFF_EVENT = 5
    CTRL_SHUTDOWN_EVENT = 6


class KillOutcome(str, Enum):
    """What :func:`safe_exit.safe_kill` did. A ``str`` enum: ``outcome == "exited"`` works."""

    EXITED = "exited"
    """The process ended within the deadline after the polite signal."""
    KILLED = "killed"
    """The deadline passed and the process was forced (SIGKILL)."""
    STILL_RUNNING = "still_running"
    """The deadline passed and ``force_kill`` was false: it is still running."""
    NOT_RUNNING = "not_running"
    """There was no such process (it had already ended)."""

    def __str__(self) -> str:
        return self.value
