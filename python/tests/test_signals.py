"""Issue points 1, 2 and 4: termination signals, config(ConfigFlag(0)), unwinding."""

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import assert_clean_stderr, cannot_run

TERMINATION = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP]


@pytest.mark.parametrize("mode", ["sleep", "input"])
@pytest.mark.parametrize("signum", TERMINATION, ids=lambda s: signal.Signals(s).name)
def test_signal_runs_function_once_and_ends_by_that_signal(spawn, signum, mode):
    child = spawn("wait", mode)
    child.wait_for("ready")
    child.signal(signum)
    rc = child.finish()
    # The function's print was not flushed by it: its output survived the pipe.
    assert child.stdout.count("cleanup ran") == 1, child.report()
    assert f"cleanup ran {int(signum)}" in child.stdout, child.report()
    assert "not reached" not in child.stdout, child.report()
    assert rc == -signum, child.report()
    assert_clean_stderr(child, signum)


@pytest.mark.parametrize("signum", [signal.SIGQUIT, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_config_0_leaves_sigquit_and_sighup_to_their_default_action(spawn, signum):
    child = spawn("config0", "sleep")
    child.wait_for("ready")
    child.signal(signum)
    rc = child.finish()
    assert rc == -signum, child.report()
    assert "cleanup ran" not in child.stdout, child.report()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: signal.Signals(s).name)
def test_config_0_still_handles_sigint_and_sigterm(spawn, signum):
    child = spawn("config0", "sleep")
    child.wait_for("ready")
    child.signal(signum)
    rc = child.finish()
    assert rc == -signum, child.report()
    assert child.stdout.count("cleanup ran") == 1, child.report()


def test_config_after_register_gives_dropped_signals_back_their_default(spawn):
    child = spawn("reconfig")
    child.wait_for("ready")
    child.signal(signal.SIGHUP)
    rc = child.finish()
    assert rc == -signal.SIGHUP, child.report()
    assert "cleanup ran" not in child.stdout, child.report()


def test_main_thread_unwinds_before_the_functions_run(spawn):
    child = spawn("unwind")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    lines = child.stdout.splitlines()
    assert lines == ["ready", "finally ran", "with exit SignalExit", "cleanup ran 15"], child.report()


def test_sigint_raises_keyboard_interrupt_and_the_main_thread_unwinds_first(spawn):
    child = spawn("unwind")
    child.wait_for("ready")
    child.signal(signal.SIGINT)
    rc = child.finish()
    assert rc == -signal.SIGINT, child.report()
    lines = child.stdout.splitlines()
    assert lines == ["ready", "finally ran", "with exit KeyboardInterrupt", "cleanup ran 2"], child.report()


def test_a_python_handler_installed_later_owns_its_signal(spawn):
    child = spawn("later_handler")
    child.wait_for("ready")
    for _ in range(3):
        child.signal(signal.SIGTERM)
        assert child.wait_for("own handler") == "own handler 15"
    child.send("ping\n")
    assert child.wait_for("pong") == "pong ping"
    child.proc.stdin.close()
    rc = child.finish()
    assert rc == 0, child.report()
    assert child.stdout.splitlines()[-2:] == ["main done", "cleanup ran None"], child.report()
    assert child.stdout.count("cleanup ran") == 1, child.report()


def test_signal_ignored_at_start_stays_ignored(spawn):
    # SIGHUP ignored before the interpreter starts, as `nohup` leaves it.
    child = spawn("echo", wrapper=["nohup"])
    child.wait_for("ready")
    child.signal(signal.SIGHUP)
    child.send("ping\n")
    assert child.wait_for("pong") == "pong ping"
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.count("cleanup ran 15") == 1, child.report()


def test_python_handler_installed_earlier_is_chained(spawn):
    child = spawn("chain")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.splitlines()[1:] == ["previous handler 15", "cleanup ran 15"], child.report()


def test_swallowed_signal_exit_can_be_followed_by_another_signal(spawn):
    child = spawn("swallow")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    assert child.wait_for("swallowed") == "swallowed SignalExit"
    child.wait_for("ready again")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.count("cleanup ran") == 1, child.report()


def test_forked_child_runs_none_of_the_parents_functions(spawn):
    child = spawn("fork")
    grandchild = int(child.wait_for("forked child ready").split()[-1])
    os.kill(grandchild, signal.SIGTERM)
    assert child.wait_for("forked child ended") == "forked child ended -15"
    assert "forked child unwound" not in child.stdout, child.report()
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.count("cleanup ran") == 1, child.report()


def test_multiprocessing_worker_terminated_reports_sigterm(spawn):
    child = spawn("mp_worker")
    rc = child.finish()
    assert rc == 0, child.report()
    assert child.stdout.splitlines() == ["worker exitcode -15", "cleanup ran None"], child.report()


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_multiprocessing_worker_that_registers_exits_128_plus_signal_without_its_functions(spawn, method):
    child = spawn("mp_worker_registers", method)
    rc = child.finish()
    assert rc == 0, child.report()
    expected = [f"worker exitcode {128 + signal.SIGTERM}", "cleanup ran None"]
    assert child.stdout.splitlines() == expected, child.report()


def _pid_namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def test_as_pid_1_it_exits_with_128_plus_signal(spawn):
    # PID 1 of a PID namespace ignores signals whose action is the default, so re-raising
    # cannot end it: it must exit with the status a shell reports for the signal.
    if not _pid_namespaces_work():
        cannot_run("PID namespaces are not available here (`unshare --pid --fork` fails)")
    child = spawn("wait", "sleep", wrapper=["unshare", "--pid", "--fork"])
    child.wait_for("ready")
    children = Path(f"/proc/{child.pid}/task/{child.pid}/children")
    if not children.exists():
        cannot_run("this kernel does not list children in /proc")
    pid_1 = int(children.read_text().split()[0])  # the interpreter, PID 1 in its namespace
    os.kill(pid_1, signal.SIGTERM)
    rc = child.finish()  # unshare's status is its child's
    assert rc == 128 + signal.SIGTERM, child.report()
    assert child.stdout.count("cleanup ran 15") == 1, child.report()


def test_an_uncaught_sigint_prints_what_python_prints_without_safe_exit(spawn):
    """The KeyboardInterrupt is raised from the native module: no frame of the package is in
    its traceback (printing one at exit also cost a third of the time to the functions), and
    it is chained to the exception being handled, as Python's own handler chains it."""
    child = spawn("interrupt_in_except")
    child.wait_for("ready")
    child.signal(signal.SIGINT)
    rc = child.finish()
    assert rc == -signal.SIGINT, child.report()
    assert "context ValueError" in child.stdout, child.report()
    assert "frames of safe_exit 0" in child.stdout, child.report()
    assert child.stdout.count("cleanup ran 2") == 1, child.report()
    # What Python prints for a KeyboardInterrupt raised while handling the ValueError.
    chained = "During handling of the above exception, another exception occurred"
    assert chained in child.stderr, child.report()
    assert "safe_exit" not in child.stderr, child.report()
    assert child.stderr.rstrip().endswith("KeyboardInterrupt"), child.report()
