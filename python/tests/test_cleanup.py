"""Issue point 5: raising functions, a second signal during cleanup, threads; and the
register/unregister API."""

import signal

import pytest
from conftest import assert_clean_stderr


def test_raising_function_is_logged_and_the_others_run(spawn):
    child = spawn("raising")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    # Newest first; `bad` raised in between.
    assert child.stdout.splitlines()[1:] == ["last ran", "bad ran", "first ran"], child.report()
    assert "safe_exit|ERROR|exit function" in child.stderr, child.report()
    assert "ZeroDivisionError" in child.stderr, child.report()


@pytest.mark.parametrize(
    "first, then",
    [
        (signal.SIGTERM, [signal.SIGTERM]),
        (signal.SIGINT, [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]),
        (signal.SIGTERM, [signal.SIGINT] * 50 + [signal.SIGTERM] * 50),
    ],
    ids=["same", "others", "storm"],
)
def test_more_signals_during_cleanup_neither_rerun_nor_cut_it_short(spawn, first, then):
    child = spawn("second")
    child.wait_for("ready")
    child.signal(first)
    assert child.wait_for("cleanup start") == f"cleanup start {int(first)}"
    for signum in then:
        child.signal(signum)
    # The function is blocked reading stdin; the signals interrupted that read, so their
    # handler ran before the line below can be read.
    child.send("go\n")
    rc = child.finish()
    assert rc == -first, child.report()
    assert child.stdout.count("cleanup start") == 1, child.report()
    assert "cleanup got go" in child.stdout, child.report()
    assert child.stdout.count(f"cleanup end {int(first)}") == 1, child.report()
    assert_clean_stderr(child, first)


def test_functions_registered_from_threads_run(spawn):
    child = spawn("threads")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.splitlines()[1:] == ["thread function ran x y", "main function ran"], child.report()


def test_first_register_in_a_thread_still_handles_signals(spawn):
    child = spawn("thread_first")
    child.wait_for("ready")
    child.signal(signal.SIGTERM)
    rc = child.finish()
    assert rc == -signal.SIGTERM, child.report()
    assert child.stdout.count("thread function ran 0") == 1, child.report()
    assert child.stderr == "", child.report()


def test_register_returns_func_passes_arguments_and_unregister_removes_all(spawn):
    child = spawn("api")
    rc = child.finish()
    assert rc == 0, child.report()
    assert child.stdout.splitlines() == [
        "decorated is the function: True",
        "register returned: True",
        "main done",
        "with_args ran (1, 2) [('key', 'value')]",
        "decorated ran",
    ], child.report()
