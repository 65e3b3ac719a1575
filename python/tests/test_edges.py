"""The package at the edges: asyncio's own handlers, a signal pending when the exit functions
start or arriving after them, threads that fork at the same moment, and Ctrl-C while a
`subprocess` child runs. Real child interpreters, real signals."""

import os
import signal
import subprocess
import sys

import pytest

# What the `asyncio_drain` child prints after "ready" when its own SIGTERM handler drains it.
DRAINED = ["drain callback", "main drained", "after asyncio.run", "cleanup ran None"]


def test_an_asyncio_handler_added_before_register_owns_its_signal(spawn):
    child = spawn("asyncio_drain", "after")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    out = child.stdout.splitlines()
    assert "main cancelled" not in out, child.report()
    assert out[1:] == DRAINED, child.report()
    assert rc == 0, child.report()


def test_an_asyncio_handler_added_after_register_owns_its_signal(spawn):
    child = spawn("asyncio_drain", "before")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    out = child.stdout.splitlines()
    assert out[1:] == DRAINED, child.report()
    assert rc == 0, child.report()


def test_a_signal_pending_when_the_exit_functions_start_still_runs_them(spawn):
    child = spawn("pending_at_exit")
    child.wait_for("ready")
    child.send("\n")  # main ends; the slow atexit function starts
    child.wait_for("slow")
    child.signal(signal.SIGTERM)  # pending until the shell returns
    child.send("go\n")  # the shell reads its line and returns
    rc = child.finish()
    assert child.stdout.count("cleanup ran") == 1, child.report()
    assert "cleanup ran 15" in child.stdout, child.report()
    assert rc == -signal.SIGTERM, child.report()


def test_a_signal_after_the_functions_ends_the_process_at_once(spawn):
    child = spawn("after_functions")
    child.wait_for("ready")
    child.send("\n")
    child.wait_for("slow")  # the functions ran; an older atexit function blocks (in C)
    assert "cleanup ran None" in child.stdout, child.report()
    child.signal(signal.SIGTERM)
    # It ends without waiting for the blocked function (the shell still waits for its line,
    # and keeps stdout open: wait for the process itself, then end the shell).
    try:
        rc = child.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail("the process did not end at once on a signal after its functions\n" + child.report())
    child.kill()  # the shell or grandchild still holds stdout open
    child.finish()  # all output read
    assert rc == -signal.SIGTERM, child.report()


def test_threads_forking_at_once_leave_no_signal_blocked(spawn):
    child = spawn("fork_threads", "150")
    assert child.wait_for("blocked") == "blocked []", child.report()
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.count("cleanup ran 15") == 1, child.report()


def _ctrl_c_in_subprocess(spawn, how):
    child = spawn("subprocess_ctrl_c", how)
    child.wait_for("ready")
    child.wait_for("grandchild ready")
    # A terminal's Ctrl-C: SIGINT to the whole foreground process group.
    os.killpg(child.pid, signal.SIGINT)
    rc = child.finish()
    assert "grandchild cleaned up" in child.stdout, (
        "subprocess gives its child a moment to clean up after Ctrl-C\n" + child.report()
    )
    assert child.stdout.count("cleanup ran 2") == 1, child.report()
    assert "not reached" not in child.stdout, child.report()
    assert rc == -signal.SIGINT, child.report()


def test_ctrl_c_during_subprocess_run_lets_the_child_clean_up(spawn):
    _ctrl_c_in_subprocess(spawn, "run")


def test_ctrl_c_during_subprocess_call_lets_the_child_clean_up(spawn):
    _ctrl_c_in_subprocess(spawn, "call")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: signal.Signals(s).name)
def test_asyncio_run_still_cancels_and_cleans_up_its_tasks(spawn, signum):
    # SIGTERM raises SignalExit (a SystemExit) in the loop, SIGINT KeyboardInterrupt: either
    # way asyncio.run cancels the task, whose `finally:` runs, before the registered functions
    # and the end by the signal.
    child = spawn("asyncio_plain")
    child.wait_for("ready")
    child.signal(signum)
    rc = child.finish()
    out = child.stdout.splitlines()
    assert out[1:] == ["task cleanup", f"cleanup ran {int(signum)}"], child.report()
    assert rc == -signum, child.report()


@pytest.mark.parametrize("order", ["first", "before", "inside"])
def test_after_asyncio_run_the_functions_still_run_on_sigterm(spawn, order):
    # asyncio.run closes its loop, which resets SIGTERM to its default: ours comes back.
    child = spawn("asyncio_then_more", order, "close")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    child.wait_for("drain callback")
    child.wait_for("post-loop ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert child.stdout.count("cleanup ran 15") == 1, child.report()
    assert rc == -signal.SIGTERM, child.report()


@pytest.mark.parametrize("order", ["before", "inside"])
def test_after_remove_signal_handler_the_functions_still_run_on_sigterm(spawn, order):
    child = spawn("asyncio_then_more", order, "remove")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    child.wait_for("drain callback")
    child.wait_for("ready again")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert child.stdout.count("cleanup ran 15") == 1, child.report()
    assert rc == -signal.SIGTERM, child.report()


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.run handles Ctrl-C itself since Python 3.11 only"
)
def test_asyncio_run_keeps_its_own_ctrl_c_handling_when_register_comes_inside(spawn):
    child = spawn("asyncio_ctrl_c")
    child.wait_for("ready")
    os.killpg(child.pid, signal.SIGINT)
    rc = child.finish()
    out = child.stdout.splitlines()
    # As without safe_exit: the task takes the cancellation and asyncio.run returns.
    assert out[1:] == ["main cancelled", "after asyncio.run", "cleanup ran None"], child.report()
    assert rc == 0, child.report()


def test_ctrl_c_in_a_popen_with_block_waits_only_briefly_for_the_child(spawn):
    child = spawn("popen_ctrl_c")
    child.wait_for("ready")
    child.wait_for("grandchild ready")
    os.killpg(child.pid, signal.SIGINT)
    # The grandchild's cleanup takes a minute: Popen's `with` waits for it only briefly after
    # Ctrl-C, as it does without safe_exit.
    try:
        rc = child.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail("Ctrl-C left the parent waiting for its child\n" + child.report())
    child.kill()  # the shell or grandchild still holds stdout open
    child.finish()  # all output read
    assert rc == -signal.SIGINT, child.report()
    assert "cleanup ran 2" in child.stdout, child.report()


def test_sigterm_during_subprocess_run_kills_the_child_at_once(spawn):
    # SIGTERM to the parent alone: SignalExit makes subprocess.run kill its child (which
    # would sleep for a minute) and return at once, not after the 10 s Ctrl-C grace.
    child = spawn("subprocess_ctrl_c", "run")
    child.wait_for("ready")
    child.wait_for("grandchild ready")
    child.signal(signal.SIGTERM)
    rc = child.finish(timeout=5)
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.count("cleanup ran 15") == 1, child.report()
    assert "grandchild cleaned up" not in child.stdout, child.report()


def test_sigterm_in_a_popen_with_block_waits_for_the_child_until_a_second_signal(spawn):
    child = spawn("popen_ctrl_c")
    child.wait_for("ready")
    child.wait_for("grandchild ready")
    child.signal(signal.SIGTERM)  # the parent alone: its child sleeps on
    try:
        child.proc.wait(timeout=1)
        pytest.fail("the `with Popen` block did not wait for its child\n" + child.report())
    except subprocess.TimeoutExpired:
        pass
    child.signal(signal.SIGTERM)
    try:
        rc = child.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail("a second SIGTERM did not interrupt the wait\n" + child.report())
    child.kill()  # the grandchild still holds stdout open
    child.finish()
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.count("cleanup ran 15") == 1, child.report()
