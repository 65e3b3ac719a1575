"""Issue point 3: normal end, sys.exit(n), uncaught exception."""


def test_normal_end_runs_function_once_with_status_0(spawn):
    child = spawn("normal")
    rc = child.finish()
    assert rc == 0, child.report()
    assert child.stdout.splitlines() == ["main done", "cleanup ran None"], child.report()


def test_sys_exit_keeps_its_code(spawn):
    child = spawn("sys_exit", "3")
    rc = child.finish()
    assert rc == 3, child.report()
    assert child.stdout.splitlines() == ["cleanup ran None"], child.report()


def test_uncaught_exception_exits_1_after_running_function(spawn):
    child = spawn("uncaught")
    rc = child.finish()
    assert rc == 1, child.report()
    assert child.stdout.splitlines() == ["cleanup ran None"], child.report()
    assert "RuntimeError: boom" in child.stderr, child.report()


def test_functions_run_after_non_daemon_threads_are_joined(spawn):
    child = spawn("nondaemon_thread")
    rc = child.finish()
    assert rc == 0, child.report()
    assert child.stdout.splitlines() == ["main done", "thread done", "cleanup ran None"], child.report()

