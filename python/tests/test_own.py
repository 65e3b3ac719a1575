"""Issue 13: ``safe_exit.own`` stops children before the registered functions, under one
deadline, without reaping them; ``disown`` leaves one running; bad input is refused."""

import os
import signal
import time

import pytest


def _workers(child):
    child.wait_for("ready")
    return [int(line.split()[1]) for line in child.stdout.splitlines() if line.startswith("worker ")]


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return ") Z " in f.read()
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("mode", ["signal", "pid"])
def test_owned_children_are_stopped_before_the_functions_under_one_deadline(spawn, mode):
    child = spawn("own", mode)
    polite, stubborn = _workers(child)
    sent = time.monotonic()
    child.signal(signal.SIGTERM)
    child.wait_for("function ran")
    waited = time.monotonic() - sent
    assert child.finish() == -signal.SIGTERM, child.report()
    # Their real statuses, from the parent's own Popen.wait(): never reaped by safe_exit.
    assert f"status {polite} -15" in child.stdout, child.report()
    assert f"status {stubborn} -9" in child.stdout, child.report()
    assert 0.3 <= waited < 5, waited
    assert f"owned child {stubborn} did not end" in child.stderr, child.report()


def test_sys_exit_stops_them_too(spawn):
    child = spawn("own", "exit")
    polite, stubborn = _workers(child)
    child.send("go\n")
    assert child.finish() == 3, child.report()
    assert f"status {polite} -15" in child.stdout, child.report()
    assert f"status {stubborn} -9" in child.stdout, child.report()


def test_a_disowned_child_outlives_the_parent(spawn):
    child = spawn("own", "disown")
    polite, stubborn = _workers(child)
    assert "disowned True False" in child.stdout, child.report()
    child.signal(signal.SIGTERM)
    child.wait_for("function ran")
    # The function now waits for every worker (Popen.wait): the stubborn one was forced, the
    # disowned one still runs (the parent has not reaped it, so its pid is still its own).
    assert _gone(stubborn), child.report()
    assert not _gone(polite), child.report()
    os.kill(polite, signal.SIGKILL)
    assert child.finish() == -signal.SIGTERM, child.report()
    assert f"status {polite} -9" in child.stdout, child.report()


def test_bad_input_is_refused_and_nothing_is_signalled(spawn):
    child = spawn("own_bad")
    child.wait_for("ready")
    child.send("\n")
    assert child.finish() == 0, child.report()
    out = child.stdout
    for line in [
        "bad zero ValueError",
        "bad negative ValueError",
        "bad huge ValueError",
        "bad self ValueError",
        "bad bool TypeError",
        "bad str TypeError",
        "bad timeout ValueError",
        "bad timeout-str TypeError",
        "bad timeout-bool TypeError",
        "bad signal-huge ValueError",
        "bad signal SafeExitException invalid_signal",
        "bad zombie SafeExitException not_running",
        "bad reaped SafeExitException not_running",
        "disown unknown False",
    ]:
        assert line in out, child.report()


def _wait_gone(pid, limit=5.0):
    """Waits (bounded) until ``pid`` has exited: notified through a pidfd (Python 3.9+), else
    by looking at /proc every 10 ms (Python 3.8)."""
    if hasattr(os, "pidfd_open"):
        import select

        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return True
        try:
            return bool(select.select([fd], [], [], limit)[0])
        finally:
            os.close(fd)
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if _gone(pid):
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("where", ["main", "thread"])
def test_die_with_parent_kills_the_child_when_the_parent_is_killed(spawn, where):
    child = spawn("die_with_parent", where)
    (worker,) = _workers(child)
    # Started from a thread that has ended: still running while the parent lives.
    assert not _gone(worker), child.report()
    if where == "thread":
        assert "thread ended" in child.stdout
        time.sleep(0.2)  # the window in which PR_SET_PDEATHSIG would have killed it
        assert not _gone(worker), child.report()
    child.signal(signal.SIGKILL)
    assert child.finish() == -signal.SIGKILL
    assert _wait_gone(worker), f"worker {worker} outlived its killed parent"


def test_a_child_owned_in_a_function_is_stopped_before_the_next_and_after_the_last(spawn):
    child = spawn("own_in_function")
    child.wait_for("ready")
    child.send("\n")
    (first,) = [int(w) for w in [child.wait_for("worker ").split()[1]]]
    line = child.wait_for("status ")
    assert line == f"status {first} -9", child.report()
    last = int(child.wait_for("last owned ").split()[2])
    assert child.finish() == 0, child.report()
    # Stopped after the last function, before the interpreter went on ending: gone, and by
    # our SIGTERM (it is not our child, so the state is all we can see; a worker left running
    # would still be sleeping).
    assert _wait_gone(last), child.report()
