import subprocess
from typing import Any, Callable, TypeVar

from ._types import CONFIG_CTRL_ALL as CONFIG_CTRL_ALL
from ._types import DEFAULT_CONFIG as DEFAULT_CONFIG
from ._types import ConfigFlag as ConfigFlag
from ._types import KillOutcome as KillOutcome
from ._types import WinCtrlEvent as WinCtrlEvent

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

_F = TypeVar("_F", bound=Callable[..., Any])

class SafeExitException(Exception):
    kind: str
    def __init__(self, message: str, kind: str = ...) -> None: ...

class SignalExit(SystemExit):
    signal: int
    def __init__(self, signum: int) -> None: ...

def config(flag: ConfigFlag | int | None = ...) -> None: ...
def register(func: _F, *args: Any, **kwargs: Any) -> _F: ...
def unregister(func: Callable[..., Any]) -> None: ...
def exit_signal() -> int | None: ...
def safe_kill(
    pid: int,
    kill_signal: int | None = None,
    timeout_secs: float | None = 4,
    force_kill: bool = True,
    silence: bool = True,
) -> KillOutcome | None: ...
def own(
    child: subprocess.Popen[Any] | int,
    timeout_secs: float | None = 4,
    kill_signal: int | None = None,
    group: bool = False,
) -> None: ...
def disown(child: subprocess.Popen[Any] | int) -> bool: ...
def die_with_parent() -> Callable[[], None] | None: ...
