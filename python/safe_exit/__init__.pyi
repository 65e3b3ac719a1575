from typing import Any, Callable, Optional, TypeVar, Union

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
    "exit_signal",
    "register",
    "safe_kill",
    "unregister",
]

_F = TypeVar("_F", bound=Callable[..., Any])

class SafeExitException(Exception): ...

class SignalExit(SystemExit):
    signal: int
    def __init__(self, signum: int) -> None: ...

def config(flag: Union[ConfigFlag, int, None] = ...) -> None: ...
def register(func: _F, *args: Any, **kwargs: Any) -> _F: ...
def unregister(func: Callable[..., Any]) -> None: ...
def exit_signal() -> Optional[int]: ...
def safe_kill(
    pid: int,
    kill_signal: Optional[int] = None,
    timeout_secs: Optional[float] = 4,
    force_kill: bool = True,
    silence: bool = True,
) -> Optional[KillOutcome]: ...
