"""Helpers for tests that run real child interpreters and send them real signals.

Every wait has a deadline (the watchdog), so a bug fails a test instead of hanging the run,
and every child still running when its test ends is killed.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CHILD = str(Path(__file__).with_name("child.py"))
# Generous: these bound a wait for something that normally takes milliseconds.
DEADLINE = 20.0


class Child:
    """A child interpreter running one scenario of ``child.py``, with stdin, stdout and
    stderr as pipes (stdin stays open until the test closes it)."""

    def __init__(self, argv, **popen_args):
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Its own process group, so that `kill` also ends anything it forked.
            start_new_session=True,
            **popen_args,
        )
        self.pid = self.proc.pid
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._out: list = []
        self._err: list = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self._out, self._lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self._err, None), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, sink, lines):
        for line in stream:
            sink.append(line)
            if lines is not None:
                lines.put(line)
        if lines is not None:
            lines.put(None)

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def wait_for(self, prefix: str, timeout: float = DEADLINE) -> str:
        """Waits for the next stdout line that starts with ``prefix``; returns it."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            try:
                line = self._lines.get(timeout=max(left, 0))
            except queue.Empty:
                self.kill()
                pytest.fail(f"no line starting with {prefix!r} within {timeout}s\n{self.report()}")
            if line is None:
                self.finish()
                pytest.fail(f"child ended before a line starting with {prefix!r}\n{self.report()}")
            if line.startswith(prefix):
                return line.rstrip("\n")

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def send(self, text: str) -> None:
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def finish(self, timeout: float = DEADLINE) -> int:
        """Waits for the child to end; returns its returncode (-N: ended by signal N)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"child still running after {timeout}s\n{self.report()}")
        for reader in self._readers:
            reader.join(timeout)
        return rc

    def kill(self) -> None:
        """Kills the child and everything it started (its process group)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def report(self) -> str:
        return f"returncode: {self.proc.poll()}\n--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"


@pytest.fixture
def spawn():
    """``spawn(scenario, *args, wrapper=[], **popen_args)`` starts ``child.py scenario args``,
    through ``wrapper`` (e.g. ``["nohup"]``) if given.

    Every signal starts at its default action (``env --default-signal``): a test run started
    under ``nohup`` or as a background job of a script ignores SIGHUP or SIGINT, and an ignored
    signal is passed on to the children, which would then (rightly) leave it ignored. (Not
    ``preexec_fn``: it runs Python code between fork and exec while this process has threads,
    which can deadlock.)"""
    children: list = []

    def start(scenario: str, *args: str, wrapper=(), **popen_args) -> Child:
        argv = ["env", "--default-signal", *wrapper, sys.executable, CHILD, scenario, *args]
        child = Child(argv, **popen_args)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()
        try:
            child.proc.stdin.close()
        except OSError:
            pass  # a broken pipe: the child is gone


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def assert_clean_stderr(child, signum: int) -> None:
    """Nothing on stderr, except for SIGINT Python's own report of an uncaught
    ``KeyboardInterrupt`` (safe_exit raises exactly what Python's SIGINT handler raises)."""
    err = child.stderr
    if signum == signal.SIGINT and err:
        assert err.startswith("Traceback") and err.rstrip().endswith("KeyboardInterrupt"), child.report()
    else:
        assert err == "", child.report()


def cannot_run(reason: str) -> None:
    """A test that cannot run on this machine. Under CI (``CI`` set) that is a failure: CI runs
    where every test can. Elsewhere the test is skipped, and the reason also goes into the file
    named by ``SAFE_EXIT_NOT_RUN``, which ``scripts/test`` lists at the end of the run."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "a test").split(" ")[0]
    if os.environ.get("CI"):
        pytest.fail(f"{test} cannot run here, and under CI every test must run: {reason}")
    path = os.environ.get("SAFE_EXIT_NOT_RUN")
    if path:
        with open(path, "a") as f:
            f.write(f"{test}: {reason}\n")
    pytest.skip(reason)
