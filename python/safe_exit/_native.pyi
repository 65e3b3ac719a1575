# The native module, built from crates/safe-exit-py. Private: use the `safe_exit` package.

from typing import NoReturn

__all__ = [
    "ALL_CONFIG",
    "DEFAULT_CONFIG",
    "KillFailed",
    "arm",
    "end_by_signal",
    "exit_signal",
    "handled_signals",
    "safe_kill",
    "schedule_install",
    "set_exit_signal",
]

DEFAULT_CONFIG: int
ALL_CONFIG: int

class KillFailed(Exception): ...

def handled_signals(flags: int) -> list[int]: ...
def arm() -> None: ...
def set_exit_signal(signum: int) -> None: ...
def exit_signal() -> int: ...
def end_by_signal(signum: int) -> NoReturn: ...
def schedule_install() -> None: ...
def safe_kill(pid: int, signal: int | None, timeout: float, force_kill: bool) -> str: ...
