"""Child programs for the pytest suite: ``python child.py SCENARIO [ARGS...]``.

Each scenario uses ``safe_exit`` the way a program would, says ``ready`` on stdout (flushed)
when the test may act, and prints what its registered functions do *without* flushing, so a
test also shows that their output survives a signal while stdout is a pipe.
"""

import os
import sys
import threading
import time

# A SIGQUIT that takes its default action must not leave core files behind.
try:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
except (ImportError, ValueError, OSError):
    pass

import safe_exit


def ready(word="ready"):
    print(word, flush=True)


def block(mode):
    """Blocks the main thread the way the test asked, until a signal ends it."""
    if mode == "sleep":
        time.sleep(60)
    elif mode == "input":
        input()  # stdin is a pipe the test keeps open
    else:
        raise SystemExit(f"unknown mode {mode}")
    print("not reached: the block ended without a signal")


def cleanup():
    print("cleanup ran", safe_exit.exit_signal())


def scenario_wait(mode):
    """Registers one function and blocks."""
    safe_exit.register(cleanup)
    ready()
    block(mode)


def scenario_config0(mode):
    """config(ConfigFlag(0)): only SIGINT and SIGTERM run the functions."""
    safe_exit.config(safe_exit.ConfigFlag(0))
    safe_exit.register(cleanup)
    ready()
    block(mode)


def scenario_reconfig():
    """register() installs DEFAULT_CONFIG; a later config(ConfigFlag(0)) gives SIGQUIT and
    SIGHUP back their default actions."""
    safe_exit.register(cleanup)
    safe_exit.config(safe_exit.ConfigFlag(0))
    ready()
    block("sleep")


def scenario_normal():
    safe_exit.register(cleanup)
    print("main done")


def scenario_sys_exit(code):
    safe_exit.register(cleanup)
    sys.exit(int(code))


def scenario_uncaught():
    safe_exit.register(cleanup)
    raise RuntimeError("boom")


def scenario_unwind():
    """After a signal, `finally:` and `with` exits in the main thread run before the
    registered functions."""

    class Resource:
        def __enter__(self):
            return self

        def __exit__(self, exc_type, exc, tb):
            print("with exit", exc_type.__name__ if exc_type else None)
            return False

    safe_exit.register(cleanup)
    with Resource():
        try:
            ready()
            block("sleep")
        finally:
            print("finally ran")


def scenario_raising():
    """A function that raises is logged to logger `safe_exit`; the others still run."""
    import logging

    logging.basicConfig(stream=sys.stderr, format="%(name)s|%(levelname)s|%(message)s")

    def first():
        print("first ran")

    def bad():
        print("bad ran")
        return 1 / 0

    def last():
        print("last ran")

    safe_exit.register(first)
    safe_exit.register(bad)
    safe_exit.register(last)
    ready()
    block("sleep")


def scenario_second():
    """The registered function announces itself, then waits for a line on stdin: the test
    sends more signals meanwhile, then the line."""

    def slow_cleanup():
        print("cleanup start", safe_exit.exit_signal(), flush=True)
        line = sys.stdin.readline()
        print("cleanup got", line.strip())
        print("cleanup end", safe_exit.exit_signal())

    safe_exit.register(slow_cleanup)
    ready()
    block("sleep")


def scenario_threads():
    """Functions registered from other threads run too (after the main thread registered)."""
    safe_exit.register(lambda: print("main function ran"))

    def worker():
        safe_exit.register(lambda a, b=None: print("thread function ran", a, b), "x", b="y")

    def unregistering_worker():
        f = safe_exit.register(lambda: print("unregistered function ran"))
        safe_exit.unregister(f)

    threads = [threading.Thread(target=w) for w in (worker, unregistering_worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ready()
    block("sleep")


def scenario_thread_first():
    """The first register() happens in another thread: the main thread installs the
    handlers as soon as it runs Python code again."""

    def worker():
        # Many registrations before the main thread runs again: the handlers are still
        # installed once.
        safe_exit.register(print, "thread function ran", 0)
        for _ in range(99):
            safe_exit.register(int)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    ready()
    block("sleep")


def scenario_api():
    """register returns func (decorator), passes arguments; unregister removes every
    registration. Ends normally."""

    @safe_exit.register
    def decorated():
        print("decorated ran")

    print("decorated is the function:", callable(decorated) and decorated.__name__ == "decorated")

    def with_args(*args, **kwargs):
        print("with_args ran", args, sorted(kwargs.items()))

    def removed(*args):
        print("removed ran", args)

    safe_exit.register(with_args, 1, 2, key="value")
    safe_exit.register(removed)
    safe_exit.register(removed, "again")
    safe_exit.register(removed)
    print("register returned:", safe_exit.register(removed) is removed)
    safe_exit.unregister(removed)
    print("main done")


def scenario_echo():
    """Answers each line on stdin, to show the process is alive after a signal that must
    not reach it."""
    safe_exit.register(cleanup)
    ready()
    while True:
        line = input()
        print("pong", line, flush=True)


def scenario_chain():
    """A Python handler installed before safe_exit is called first."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: print("previous handler", signum, flush=True))
    safe_exit.register(cleanup)
    ready()
    block("sleep")


def scenario_later_handler():
    """A Python handler installed after safe_exit owns its signal: it runs, the process goes
    on (answering `ping` with `pong`), and the functions run once, when stdin closes."""
    import signal

    safe_exit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda signum, frame: print("own handler", signum, flush=True))
    ready()
    for line in sys.stdin:
        print("pong", line.strip(), flush=True)
    print("main done")


def scenario_nondaemon_thread():
    """A non-daemon thread still working when the main module ends: the functions run after
    it has been joined."""

    def worker():
        time.sleep(0.3)
        print("thread done")

    safe_exit.register(cleanup)
    threading.Thread(target=worker).start()
    print("main done")


def scenario_swallow():
    """Code that swallows SignalExit carries on; the next signal stops it, and the process
    still ends by a signal after running the functions once."""
    safe_exit.register(cleanup)
    try:
        ready()
        block("sleep")
    except BaseException as e:  # what a careless `except:` does
        print("swallowed", type(e).__name__, flush=True)
    ready("ready again")
    block("sleep")


def scenario_fork():
    """A child forked without exec runs none of its parent's functions, and a signal takes
    its usual (here default) action there."""
    safe_exit.register(cleanup)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            ready(f"forked child ready {os.getpid()}")
            time.sleep(60)
        finally:
            print("forked child unwound", flush=True)  # not reached: SIGTERM's default action
        os._exit(99)
    _, status = os.waitpid(pid, 0)
    # os.waitstatus_to_exitcode, which Python 3.8 lacks.
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    print("forked child ended", code, flush=True)
    ready()
    block("sleep")


def scenario_mp_worker():
    """A multiprocessing worker (fork) of a process that registered functions still reports
    -SIGTERM when terminated."""
    import multiprocessing

    safe_exit.register(cleanup)
    worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    worker.start()
    worker.terminate()
    worker.join(20)
    print("worker exitcode", worker.exitcode)


def _mp_registering_worker(started):
    safe_exit.register(lambda: print("worker function ran", flush=True))
    started.set()
    time.sleep(60)
    print("not reached: the worker slept on", flush=True)


def scenario_mp_worker_registers(method):
    """A multiprocessing worker (`fork` or `forkserver`) that registers a function itself and
    then gets SIGTERM: it exits with status 128 + SIGTERM and its function never runs."""
    import multiprocessing
    import signal

    safe_exit.register(cleanup)
    sys.stdout.flush()
    ctx = multiprocessing.get_context(method)
    started = ctx.Event()
    worker = ctx.Process(target=_mp_registering_worker, args=(started,))
    worker.start()
    if not started.wait(20):
        print("worker did not start")
    os.kill(worker.pid, signal.SIGTERM)
    worker.join(20)
    print("worker exitcode", worker.exitcode)


def scenario_no_psutil():
    """safe_kill works without psutil, and nothing imports it."""
    import subprocess

    safe_exit.register(cleanup)
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("outcome", safe_exit.safe_kill(target.pid, timeout_secs=10))
    target.wait()
    print("psutil imported:", "psutil" in sys.modules)


def scenario_target(behaviour):
    """A process for safe_kill to end: `default` (SIGTERM's default action), `ignore`
    (ignores SIGTERM), `cleanup` (registers a function with safe_exit)."""
    import signal

    if behaviour == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif behaviour == "cleanup":
        safe_exit.register(cleanup)
    ready()
    time.sleep(60)


def scenario_asyncio_drain(order):
    """An asyncio service that drains in `loop.add_signal_handler(SIGTERM, ...)` and registers
    a function with safe_exit, before (`before`) or after (`after`) adding its handler."""
    import asyncio
    import signal

    if order == "before":
        safe_exit.register(cleanup)

    async def main():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def drain():
            print("drain callback", flush=True)
            stop.set()

        loop.add_signal_handler(signal.SIGTERM, drain)
        if order == "after":
            safe_exit.register(cleanup)
        ready()
        try:
            await stop.wait()
        except asyncio.CancelledError:
            print("main cancelled", flush=True)
            raise
        print("main drained", flush=True)

    asyncio.run(main())
    print("after asyncio.run", flush=True)


def scenario_pending_at_exit():
    """An `atexit` function that runs before safe_exit's blocks in C (a shell that says `slow`
    and reads a line); a signal arriving meanwhile is pending when safe_exit's exit routine
    starts."""
    import atexit

    safe_exit.register(cleanup)
    atexit.register(os.system, "echo slow; read line")
    ready()
    input()


def scenario_after_functions():
    """An `atexit` function registered before safe_exit's runs after the registered
    functions; it blocks in C (a shell that says `slow` and reads a line)."""
    import atexit

    atexit.register(os.system, "echo slow; read line")
    safe_exit.register(cleanup)
    ready()
    input()


def scenario_fork_threads(forks):
    """Three threads (the main one among them) fork `forks` times each at the same moment
    (children `_exit` at once); then main reports its blocked signals and waits."""
    import signal

    safe_exit.register(cleanup)
    n = int(forks)
    # Switch threads as often as possible, so that the threads' fork callbacks interleave.
    sys.setswitchinterval(1e-6)
    start = threading.Barrier(3)

    def forker():
        start.wait()
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)

    threads = [threading.Thread(target=forker) for _ in range(2)]
    for t in threads:
        t.start()
    forker()
    for t in threads:
        t.join()
    sys.setswitchinterval(0.005)
    blocked = sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    print("blocked", blocked, flush=True)
    ready()
    block("sleep")


CHILD_WITH_CLEANUP = """
import sys, time
try:
    print("grandchild ready", flush=True)
    time.sleep(60)
except KeyboardInterrupt:
    time.sleep(0.05)  # its own cleanup takes a moment
    print("grandchild cleaned up", flush=True)
    sys.exit(1)
"""


def scenario_subprocess_ctrl_c(how):
    """Runs a child interpreter with `subprocess.run` (`run`) or `subprocess.call` (`call`);
    the test presses Ctrl-C (SIGINT to the whole process group, as a terminal does)."""
    import subprocess

    safe_exit.register(cleanup)
    # subprocess waits this long (0.25 s by default) for a child after KeyboardInterrupt; a
    # longer wait keeps the test independent of the machine's load. What is tested is that the
    # KeyboardInterrupt path is taken at all (a plain SystemExit kills the child at once).
    subprocess.Popen._sigint_wait_secs = 10.0
    ready()
    runner = subprocess.run if how == "run" else subprocess.call
    runner([sys.executable, "-c", CHILD_WITH_CLEANUP])
    print("not reached: the child ended by itself")


def scenario_asyncio_plain():
    """`asyncio.run` of a task with a `finally:` block; no handler of the program's own."""
    import asyncio

    safe_exit.register(cleanup)

    async def main():
        try:
            ready()
            await asyncio.sleep(60)
        finally:
            print("task cleanup", flush=True)

    asyncio.run(main())


def scenario_asyncio_then_more(order, removal):
    """An asyncio service with its own SIGTERM handler; safe_exit's function registered
    `before` the loop or `inside` it. `close`: the loop ends (asyncio.run closes it, which
    removes the handler) and the program goes on (`post-loop ready`). `remove`: the drain
    callback removes the handler itself and the loop goes on (`ready again`). `first`: the
    function is registered before asyncio is even imported."""
    if order == "first":
        safe_exit.register(cleanup)
    import asyncio
    import signal

    if order == "before":
        safe_exit.register(cleanup)

    async def main():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def drain():
            print("drain callback", flush=True)
            if removal == "remove":
                loop.remove_signal_handler(signal.SIGTERM)
            stop.set()

        loop.add_signal_handler(signal.SIGTERM, drain)
        if order == "inside":
            safe_exit.register(cleanup)
        ready()
        await stop.wait()
        if removal == "remove":
            ready("ready again")
            # A loop with a timer, as services have: asyncio took its wakeup fd away with its
            # handler, and a signal that lands just before the loop blocks in `epoll_wait` is
            # only seen when that wait returns (CPython's own limit for Python-level handlers).
            for _ in range(600):
                await asyncio.sleep(0.1)

    asyncio.run(main())
    ready("post-loop ready")
    block("sleep")


def scenario_asyncio_ctrl_c():
    """`asyncio.run`'s own Ctrl-C handling: the function is registered inside the coroutine,
    which takes the cancellation that Ctrl-C causes and returns normally."""
    import asyncio

    async def main():
        safe_exit.register(cleanup)
        ready()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            print("main cancelled", flush=True)

    asyncio.run(main())
    print("after asyncio.run", flush=True)


SLOW_CHILD = """
import time
try:
    print("grandchild ready", flush=True)
    time.sleep(60)
except KeyboardInterrupt:
    time.sleep(60)  # a cleanup that takes far too long
"""


def scenario_popen_ctrl_c():
    """`with subprocess.Popen(...) as p: p.wait()`, the child slow to clean up after Ctrl-C."""
    import subprocess

    safe_exit.register(cleanup)
    ready()
    with subprocess.Popen([sys.executable, "-c", SLOW_CHILD]) as p:
        p.wait()
    print("not reached: the child ended by itself")


WORKER = """
import signal, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("worker ready", flush=True)
time.sleep(60)
"""


def _start_workers(kinds):
    import subprocess

    workers = []
    for kind in kinds:
        p = subprocess.Popen([sys.executable, "-c", WORKER, kind], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline() == "worker ready\n"
        workers.append(p)
        print("worker", p.pid, flush=True)
    return workers


def scenario_own(mode):
    """Owns a polite worker and a stubborn one (0.3 s each); the registered function prints
    each worker's status from `Popen.wait()` (never reaped by safe_exit). `mode`: `signal`
    (wait for one), `exit` (sys.exit(3) after a line on stdin), `disown` (the first worker is
    disowned, then wait for a signal), `pid` (own by pid, not by Popen)."""
    workers = _start_workers(["polite", "stubborn"])

    @safe_exit.register
    def report():
        print("function ran")
        for p in workers:
            print("status", p.pid, p.wait())

    for p in workers:
        safe_exit.own(p.pid if mode == "pid" else p, timeout_secs=0.3)
    if mode == "disown":
        print("disowned", safe_exit.disown(workers[0]), safe_exit.disown(workers[0]))
    ready()
    if mode == "exit":
        input()
        sys.exit(3)
    block("sleep")


def scenario_die_with_parent(where):
    """Starts a worker with `preexec_fn=safe_exit.die_with_parent()` from the main thread
    (`main`) or from a thread that then ends (`thread`), prints `worker PID`, then `ready`, and
    waits to be killed."""
    import subprocess

    def start():
        p = subprocess.Popen([sys.executable, "-c", WORKER, "polite"], stdout=subprocess.PIPE, text=True,
                             preexec_fn=safe_exit.die_with_parent())
        assert p.stdout.readline() == "worker ready\n"
        print("worker", p.pid, flush=True)

    if where == "thread":
        t = threading.Thread(target=start)
        t.start()
        t.join()
        print("thread ended", flush=True)
    else:
        start()
    ready()
    block("sleep")


def scenario_own_in_function():
    """The function that runs first starts a worker and owns it; the one that runs next
    prints its status (it must have been stopped in between); the one that runs last owns
    another worker (stopped after it) and prints its pid."""
    workers = []

    @safe_exit.register
    def last():
        (late,) = _start_workers(["polite"])
        safe_exit.own(late, timeout_secs=0.3)
        print("last owned", late.pid, flush=True)

    @safe_exit.register
    def second():
        print("status", workers[0].pid, workers[0].wait(), flush=True)

    @safe_exit.register
    def first():
        workers.extend(_start_workers(["stubborn"]))
        safe_exit.own(workers[0], timeout_secs=0.3)

    ready()
    input()


def scenario_own_bad():
    """Everything `own` must refuse, each as `bad WHAT EXCEPTION KIND`; nothing signalled."""
    import subprocess

    def attempt(what, *args, **kwargs):
        try:
            safe_exit.own(*args, **kwargs)
            print("bad", what, "accepted")
        except safe_exit.SafeExitException as e:
            print("bad", what, type(e).__name__, e.kind)
        except (ValueError, TypeError) as e:
            print("bad", what, type(e).__name__, "-")

    attempt("zero", 0)
    attempt("negative", -1)
    attempt("huge", 2**70)
    attempt("self", os.getpid())
    attempt("bool", True)
    attempt("str", "123")
    attempt("timeout", 1, timeout_secs=-1)
    attempt("timeout-str", 1, timeout_secs="3")
    attempt("timeout-bool", 1, timeout_secs=True)
    attempt("signal-huge", 1, kill_signal=2**31)
    attempt("signal", 1, kill_signal=0)
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, done.pid, os.WEXITED | os.WNOWAIT)
    attempt("zombie", done.pid)
    done.wait()
    attempt("reaped", done)
    print("disown unknown", safe_exit.disown(done))
    ready()
    input()


def scenario_interrupt_in_except():
    """SIGINT while the main thread handles an exception: the KeyboardInterrupt is chained to
    it (``__context__``), as Python's own handler and ``raise`` chain it, and its traceback
    holds no frame of safe_exit."""
    import traceback

    safe_exit.register(cleanup)
    try:
        raise ValueError("being handled")
    except ValueError:
        try:
            ready()
            block("sleep")
        except KeyboardInterrupt as e:
            context = type(e.__context__).__name__ if e.__context__ else None
            print("context", context)
            files = {f.filename for f in traceback.extract_tb(e.__traceback__)}
            print("frames of safe_exit", sum("safe_exit" in f for f in files))
            raise


PREFIX = "scenario_"
SCENARIOS = {name[len(PREFIX) :]: f for name, f in dict(globals()).items() if name.startswith(PREFIX)}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]](*sys.argv[2:])
