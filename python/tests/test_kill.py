"""Issue point 6: safe_kill on the Rust core, and no psutil."""

import os
import pickle
import signal
import subprocess
import sys
import time

import pytest

import safe_exit
from safe_exit import KillOutcome, SafeExitException


def test_target_that_exits_on_sigterm_is_reported_exited_promptly(spawn):
    target = spawn("target", "default")
    target.wait_for("ready")
    start = time.monotonic()
    outcome = safe_exit.safe_kill(target.pid, timeout_secs=10)
    elapsed = time.monotonic() - start
    assert outcome is KillOutcome.EXITED
    assert outcome == "exited"
    assert elapsed < 2, f"safe_kill took {elapsed:.3f}s for a process that exits at once"
    assert target.finish() == -signal.SIGTERM


def test_target_running_safe_exit_runs_its_cleanup_and_is_reported_exited(spawn):
    target = spawn("target", "cleanup")
    target.wait_for("ready")
    assert safe_exit.safe_kill(target.pid, timeout_secs=10) is KillOutcome.EXITED
    assert target.finish() == -signal.SIGTERM
    assert target.stdout.count("cleanup ran 15") == 1, target.report()


def test_target_ignoring_sigterm_is_killed_after_the_timeout(spawn):
    target = spawn("target", "ignore")
    target.wait_for("ready")
    start = time.monotonic()
    outcome = safe_exit.safe_kill(target.pid, timeout_secs=0.5)
    elapsed = time.monotonic() - start
    assert outcome is KillOutcome.KILLED
    assert outcome == "killed"
    assert 0.5 <= elapsed < 5, elapsed
    assert target.finish() == -signal.SIGKILL


def test_without_force_kill_a_survivor_is_still_running(spawn):
    target = spawn("target", "ignore")
    target.wait_for("ready")
    assert safe_exit.safe_kill(target.pid, timeout_secs=0.2, force_kill=False) is KillOutcome.STILL_RUNNING
    assert target.proc.poll() is None
    assert safe_exit.safe_kill(target.pid, kill_signal=signal.SIGKILL, timeout_secs=5) is KillOutcome.EXITED
    assert target.finish() == -signal.SIGKILL


def test_gone_process_is_not_running():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid names no process now
    assert safe_exit.safe_kill(proc.pid, timeout_secs=1) is KillOutcome.NOT_RUNNING


@pytest.mark.parametrize("silence", [True, False])
@pytest.mark.parametrize("pid", [0, -1, -os.getpid(), 2**31, 2**32 - 1, 2**70, -(2**70), "own"])
def test_bad_pid_raises_value_error_whatever_silence_says(pid, silence):
    if pid == "own":
        pid = os.getpid()
    # The Rust core decides, and its message names the pid as given.
    with pytest.raises(ValueError, match=f"refusing to signal pid {pid}: "):
        safe_exit.safe_kill(pid, silence=silence)


def test_failure_raises_safe_exit_exception_without_silence(spawn):
    target = spawn("target", "default")
    target.wait_for("ready")
    # 999 is no signal: the core refuses it before signalling anything.
    with pytest.raises(SafeExitException, match="999") as failure:
        safe_exit.safe_kill(target.pid, kill_signal=999, silence=False)
    assert failure.value.kind == "invalid_signal"  # the core's word, as `safe-kill --json` says
    # It crosses a process boundary (multiprocessing pickles exceptions) with its kind.
    again = pickle.loads(pickle.dumps(failure.value))
    assert (str(again), again.kind) == (str(failure.value), "invalid_signal")
    assert safe_exit.safe_kill(target.pid, kill_signal=999) is None  # silenced, as the original
    assert target.proc.poll() is None  # untouched
    assert safe_exit.safe_kill(target.pid) is KillOutcome.EXITED


def test_bad_arguments_raise_whatever_silence_says():
    with pytest.raises(TypeError):
        safe_exit.safe_kill("123")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_secs"):
        safe_exit.safe_kill(os.getppid(), timeout_secs=-1)


def test_psutil_is_never_imported(spawn, tmp_path):
    # A `psutil` that shouts if anything imports it, ahead of any real one on the path.
    (tmp_path / "psutil.py").write_text("print('psutil was imported', flush=True)\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    child = spawn("no_psutil", env=env)
    rc = child.finish()
    assert rc == 0, child.report()
    assert child.stdout.splitlines() == ["outcome exited", "psutil imported: False", "cleanup ran None"], (
        child.report()
    )
