"""How fast the registered function starts after a signal, with this repository's ``safe_exit``,
with the original ``safe-exit`` 0.1.2 from PyPI, and with plain ``atexit``: one run, the
contenders interleaved (round-robin, the order rotated every iteration, so that the machine's
noise hits them alike). ``scripts/bench-python`` sets up the environments and runs this:

    scripts/bench-python [--runs N] [--storm N] [--candidate PYTHON]

or, with environments of one's own (Linux 5.3+ and Python 3.9+, for pidfds):

    python hooks.py --ours PYTHON --original PYTHON [--runs N] [--out DIR]

Contenders
----------
Both packages are imported as ``safe_exit``, so each has its own virtual environment, and
every victim is a fresh interpreter of that environment running ``victim.py`` (which shows
what each contender sets up):

- **safe_exit**: this repository's package, ``safe_exit.register(fn)``. Its handler records
  the signal and raises ``SignalExit`` (``KeyboardInterrupt`` for SIGINT) in the main thread,
  which unwinds (``finally:`` blocks run); ``fn`` runs from an ``atexit`` function; the
  process then ends by the signal.
- **safe-exit 0.1.2**: the original package, ``safe_exit.register(fn)``: ``fn`` runs inside
  the signal handler, before the main thread's ``finally:`` blocks, then ``sys.exit(0)``.
- **atexit**: ``atexit.register(fn)`` and the usual idiom ``signal.signal(SIGTERM, lambda s,
  f: sys.exit(128 + s))``; SIGINT is left to Python's ``KeyboardInterrupt``.
- with ``--candidate PYTHON``, **candidate**: this package as installed in another
  environment (another build of it), to measure a change beside the current one in one run.

Measurements
------------
Each victim prints ``ready`` once set up and its main thread then waits in ``time.sleep``,
as the main thread of a service whose work runs elsewhere does; the driver sends the signal
once that thread sleeps in the kernel (``/proc/PID/stat``). The wait is inside a ``try:``
whose ``finally:`` block (the program's own cleanup) records when it runs. ``fn`` reads
``CLOCK_MONOTONIC`` first thing and writes it out.

1. **signal → first function**, SIGTERM and SIGINT: from the driver's clock reading just
   before ``kill()`` to ``fn``'s. The same victims give **signal → main thread's
   finally:** and how the process ended (by the signal, or with which exit status).
2. **signal → process gone**, as a supervisor sees it: from just before ``kill()`` to the
   victim's pidfd becoming readable (the same victims).
3. **storm**: 1 000 SIGTERMs sent back to back, from just before the first ``kill()`` to the
   first ``fn``, and how many times ``fn`` ran (it must be exactly once).
4. **set-up**: the wall time of ``python -c "import safe_exit"`` (the idiom: ``import atexit,
   signal, sys``), and with the first ``register`` too, minus the median of ``python -c
   pass`` in the same environment (printed too).

Every wait has a watchdog: a victim not ready after 10 s, or not gone 10 s after the signal,
is killed and reported (hung), and the benchmark goes on.

Stages of safe_exit
-------------------
Further victims of safe_exit (and of the candidate), interleaved with the others, set the
package's private benchmark hook ``safe_exit._trace``, which records ``CLOCK_MONOTONIC`` when
its signal handler starts, when the handler is done (the exception to raise is made) and when
its exit routine (the ``atexit`` function) starts. With the victim's ``finally:`` and ``fn``,
this splits "signal → first function" into: the signal's delivery and the main thread waking
up; the handler's own work; the unwinding of the main thread's frames; the interpreter's way
from the uncaught exception to its ``atexit`` functions (for SIGINT it prints the
``KeyboardInterrupt`` traceback, as Python does; and this step grows with the size of the main
script, by about 250 µs for one of 2 600 lines wherever its wait is, so the victims' main
script is small, as a service's entry point usually is); the exit routine's own work. Each
stamp is a clock reading and a list append, written out after the functions have run; in a fresh
process, where nothing is cached yet, that still costs about a microsecond each, which is why
these victims are kept apart from those of the main table.
"""

import argparse
import csv
import os
import select
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

VICTIM = str(Path(__file__).resolve().with_name("victim.py"))

# A victim not ready, or not gone after the signal, within this many seconds is killed.
WATCHDOG_S = 10.0
WARMUP_ITERATIONS = 2
SIGNALS = (signal.SIGTERM, signal.SIGINT)

# Each contender: its column title and what its victims run (the `victim.py` argument).
TITLES = {
    "ours": "safe_exit (this repo)",
    "candidate": "safe_exit (candidate)",
    "original": "safe-exit 0.1.2",
    "atexit": "atexit + SIGTERM handler",
}
KINDS = {"ours": "ours", "candidate": "ours", "original": "original", "atexit": "atexit"}

# What each kind of contender does in `python -c` for the set-up measurement (as in victim.py).
SET_UP_CODE = {
    "import": {
        "ours": "import safe_exit",
        "original": "import safe_exit",
        "atexit": "import atexit, signal, sys",
    },
    "import + register": {
        "ours": "import safe_exit; safe_exit.register(print)",
        "original": "import safe_exit; safe_exit.register(print)",
        "atexit": (
            "import atexit, signal, sys; atexit.register(print); "
            "signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))"
        ),
    },
}

# The stages of safe_exit's way from the signal to the first function, in order.
STAGES = [
    ("kill", "signal sent (driver, just before `kill()`)"),
    ("handler", "signal handler starts"),
    ("raise", "handler done, exception made"),
    ("finally", "main thread's `finally:` (unwinding)"),
    ("exit", "exit routine (`atexit` function) starts"),
    ("fn", "first function"),
]


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def wait_readable(fd, timeout_s):
    """Whether `fd` became readable within `timeout_s` seconds."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout_s * 1000))


class Hung(Exception):
    """A victim that missed its watchdog (it has been killed)."""


class Victim:
    """A victim process, started and waited for until it is ready and blocked. Its stdout is
    read only before the signal and once it has ended (it writes a few hundred bytes at most,
    far less than a pipe holds)."""

    def __init__(self, python, kind, stages=False):
        self.kind = kind
        argv = [python, "-I", VICTIM, kind] + (["stages"] if stages else [])
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.pid = self.proc.pid
        self.pidfd = os.pidfd_open(self.pid)
        self.out = b""
        self.gone_ns = 0
        try:
            self._read_until(lambda: b"ready\n" in self.out, time.monotonic() + WATCHDOG_S)
            if not self.out.startswith(b"ready\n"):
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                raise RuntimeError(f"{kind}: the victim wrote {self.out!r} instead of ready; {err}")
            self.out = self.out[len(b"ready\n") :]
            self._wait_blocked(time.monotonic() + WATCHDOG_S)
        except Hung:
            self.close()
            raise Hung(f"{kind}: victim not ready and sleeping after {WATCHDOG_S:.0f} s") from None
        except BaseException:
            self.close()
            raise

    def _read_until(self, done, deadline):
        """Reads stdout until `done()` or its end; `Hung` at `deadline`."""
        fd = self.proc.stdout.fileno()
        while not done():
            if not wait_readable(fd, max(0.0, deadline - time.monotonic())):
                raise Hung
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            self.out += chunk

    def _wait_blocked(self, deadline):
        """Waits until the main thread, having written `ready`, sleeps in the kernel (state S
        in /proc/PID/stat): a signal sent earlier would find it still running bytecodes."""
        path = f"/proc/{self.pid}/stat"
        while True:
            with open(path, "rb") as f:
                state = f.read().rpartition(b")")[2].split()[0]
            if state == b"S":
                return
            if state in (b"Z", b"X") or time.monotonic() > deadline:
                raise Hung
            os.sched_yield()

    def wait_gone(self):
        """Waits for the pidfd to become readable (the process has ended) and records when;
        a victim still there after the watchdog is killed (`Hung`)."""
        if not wait_readable(self.pidfd, WATCHDOG_S):
            self.close()
            raise Hung(f"{self.kind}: victim not gone {WATCHDOG_S:.0f} s after the signal")
        self.gone_ns = now_ns()

    def finish(self):
        """After `wait_gone`: the rest of its output, and how it ended. Returns
        ``(times fn ran at, {stage: time}, ending)``."""
        try:
            self._read_until(lambda: False, time.monotonic() + WATCHDOG_S)
        except Hung:
            pass  # something else holds its stdout open; what we have is what it wrote
        status = self.proc.wait()  # it has ended: no waiting
        err = self.proc.stderr.read().decode(errors="replace")
        self.close()
        fns, stages = [], {}
        for line in self.out.decode(errors="replace").splitlines():
            what, _, rest = line.partition(" ")
            if what == "fn":
                fns.append(int(rest))
            elif what == "stage":
                name, ns = rest.split()
                stages.setdefault(name, int(ns))
        if status > 0 and status != 128 + signal.SIGTERM:
            print(f"{self.kind}: the victim exited with status {status}: {err}", file=sys.stderr)
        return fns, stages, f"signal {-status}" if status < 0 else f"status {status}"

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        self.proc.stdout.close()
        self.proc.stderr.close()


class Results:
    """Samples (µs) by (measurement, contender); counted notes (endings, hung victims, how
    often the function ran); and the stage stamps of the staged victims."""

    def __init__(self):
        self.samples = {}
        self.notes = {}
        self.stages = {}

    def add(self, measurement, contender, value):
        self.samples.setdefault((measurement, contender), []).append(value)

    def note(self, measurement, contender, text):
        counts = self.notes.setdefault((measurement, contender), {})
        counts[text] = counts.get(text, 0) + 1

    def get(self, measurement, contender):
        return self.samples.get((measurement, contender), [])


def signal_and_wait(victim, signum, count=1):
    """Sends `signum` `count` times back to back to `victim` and waits (watchdog) until it is
    gone. The time just before the first `kill()`, or None if it hung (it was killed)."""
    kill, pid = os.kill, victim.pid
    sent = now_ns()
    for _ in range(count):
        kill(pid, signum)  # one that has ended (a zombie, not reaped yet) can still be signalled
    try:
        victim.wait_gone()
    except Hung as e:
        print(e, file=sys.stderr)
        return None
    return sent


def one_signal(python, contender, signum, results, record):
    """Measurements 1 and 2 on one victim."""
    name = signal.Signals(signum).name
    victim = Victim(python, KINDS[contender])
    sent = signal_and_wait(victim, signum)
    if sent is None:
        if record:
            results.note(f"{name} → first function", contender, "hung (killed)")
        return
    fns, stages, ending = victim.finish()
    if not record:
        return
    results.add(f"{name} → process gone", contender, (victim.gone_ns - sent) / 1e3)
    results.note(f"{name}: the process ended by", contender, ending)
    if fns:
        results.add(f"{name} → first function", contender, (fns[0] - sent) / 1e3)
    else:
        results.note(f"{name} → first function", contender, "function never ran")
    if "finally" in stages:
        results.add(f"{name} → main thread's `finally:`", contender, (stages["finally"] - sent) / 1e3)


def staged_signal(python, contender, signum, results, record):
    """A victim of safe_exit with its stage hook set: the stages of "signal → first
    function"."""
    victim = Victim(python, KINDS[contender], stages=True)
    sent = signal_and_wait(victim, signum)
    if sent is None:
        return
    fns, stages, _ = victim.finish()
    if record and fns:
        name = signal.Signals(signum).name
        results.stages.setdefault((contender, name), []).append(dict(stages, kill=sent, fn=fns[0]))


def storm(python, contender, size, results, record):
    """Measurement 3 on one victim: `size` SIGTERMs back to back."""
    victim = Victim(python, KINDS[contender])
    sent = signal_and_wait(victim, signal.SIGTERM, size)
    if sent is None:
        if record:
            results.note("storm", contender, "hung (killed)")
        return
    fns, _, _ = victim.finish()
    if not record:
        return
    if fns:
        results.add("storm", contender, (fns[0] - sent) / 1e3)
    results.note("storm: runs", contender, {0: "never ran", 1: "once"}.get(len(fns), f"{len(fns)} times"))


def set_up_time(python, code):
    """The wall time in µs of `python -I -c code`, from just before the spawn to its end (its
    pidfd readable: `Popen.wait` with a timeout would poll, in steps of up to 50 ms)."""
    start = now_ns()
    proc = subprocess.Popen([python, "-I", "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    pidfd = os.pidfd_open(proc.pid)
    try:
        if not wait_readable(pidfd, WATCHDOG_S):
            proc.kill()
            raise Hung(f"python -c {code!r} still running after {WATCHDOG_S:.0f} s")
        elapsed = (now_ns() - start) / 1e3
    finally:
        os.close(pidfd)
        status = proc.wait()
    if status != 0:
        raise RuntimeError(f"python -c {code!r} exited with status {status}")
    return elapsed


def iteration(pythons, i, args, results, record):
    """One round: every measurement of every contender, the contenders in an order rotated by
    `i`."""
    names = list(pythons)
    order = names[i % len(names) :] + names[: i % len(names)]
    for signum in SIGNALS:
        for contender in order:
            one_signal(pythons[contender], contender, signum, results, record)
        for contender in order:
            if KINDS[contender] == "ours":
                staged_signal(pythons[contender], contender, signum, results, record)
    for contender in order:
        storm(pythons[contender], contender, args.storm, results, record)
    for contender in order:
        python, kind = pythons[contender], KINDS[contender]
        timings = [("python -c pass", set_up_time(python, "pass"))]
        timings += [(what, set_up_time(python, codes[kind])) for what, codes in SET_UP_CODE.items()]
        if record:
            for measurement, elapsed in timings:
                results.add(measurement, contender, elapsed)


# ---------------------------------------------------------------------------------------------
# Report


def stats(xs):
    """Median and 95th percentile (nearest rank) of `xs`."""
    xs = sorted(xs)
    return xs[round((len(xs) - 1) * 0.5)], xs[round((len(xs) - 1) * 0.95)]


def fmt_us(us):
    if abs(us) >= 10_000:
        return f"{us / 1000:.1f} ms"
    return f"{us:.1f} µs" if abs(us) < 10 else f"{us:.0f} µs"


def fmt_pair(median, p95, signed=False):
    """`median / p95 µs`, in the unit that suits the median; `signed`: `+0.3 / +0.5 ms`."""
    sign = "+" if signed else ""
    if abs(median) >= 1000:
        return f"{median / 1000:{sign}.1f} / {p95 / 1000:{sign}.1f} ms"
    digits = 1 if abs(median) < 10 else 0
    return f"{median:{sign}.{digits}f} / {p95:{sign}.{digits}f} µs"


def fmt_ratio(r):
    times = "\N{MULTIPLICATION SIGN}"
    return f"{r:.0f}{times}" if r >= 10 else f"{r:.2f}{times}"


def notes_text(counts):
    """`once`, or `once: 28, 2 times: 2`, most frequent first."""
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return ", ".join(k if n == total else f"{k}: {n}" for k, n in ordered)


def timing_row(results, contenders, measurement, label, minus=None):
    """`median / p95` and the ratio to the best median, for each contender; with `minus`,
    each contender's samples less the median of its measurement `minus`."""
    cells = {}
    for contender in contenders:
        xs = results.get(measurement, contender)
        if xs:
            base = statistics.median(results.get(minus, contender)) if minus else 0.0
            cells[contender] = stats([x - base for x in xs])
    best = min((m for m, _ in cells.values() if m > 0), default=None)
    row = [label]
    for contender in contenders:
        text = "n/a"
        if contender in cells:
            median, p95 = cells[contender]
            text = fmt_pair(median, p95, signed=minus is not None)
            if best is not None and median > 0:
                text += f" **{fmt_ratio(1)}**" if median == best else f" {fmt_ratio(median / best)}"
        problems = results.notes.get((measurement, contender))
        if problems:
            text += f" ({notes_text(problems)})"
        row.append(text)
    return row


def note_row(results, contenders, measurement, label):
    return [label] + [notes_text(results.notes.get((measurement, c), {})) or "n/a" for c in contenders]


def markdown(rows):
    lines = []
    for i, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        if i == 0:
            lines.append("|---|" + "---:|" * (len(row) - 1))
    return "\n".join(lines) + "\n"


def main_table(results, contenders, args):
    storm = f"storm of {args.storm:,} SIGTERM → first function".replace(",", " ")
    rows = [
        [f"measurement (median / p95, {args.runs} runs each), ratio to the best median"]
        + [TITLES[c] for c in contenders]
    ]
    for name in ("SIGTERM", "SIGINT"):
        rows.append(timing_row(results, contenders, f"{name} → first function", f"{name} → first function"))
    rows.append(timing_row(results, contenders, "storm", storm))
    rows.append(note_row(results, contenders, "storm: runs", "storm: the function ran"))
    for name in ("SIGTERM", "SIGINT"):
        label = f"{name} → process gone (pidfd readable)"
        rows.append(timing_row(results, contenders, f"{name} → process gone", label))
    for name in ("SIGTERM", "SIGINT"):
        measurement = f"{name}: the process ended by"
        rows.append(note_row(results, contenders, measurement, measurement))
    for name in ("SIGTERM", "SIGINT"):
        measurement = f"{name} → main thread's `finally:`"
        rows.append(timing_row(results, contenders, measurement, measurement))
    bare = [fmt_pair(*stats(results.get("python -c pass", c))) for c in contenders]
    rows.append(["`python -c pass` (each environment)", *bare])
    for what in SET_UP_CODE:
        label = f"{what} (\N{MINUS SIGN} `python -c pass`)"
        rows.append(timing_row(results, contenders, what, label, minus="python -c pass"))
    return markdown(rows)


def stage_table(results, contenders):
    """safe_exit's stages: for each, the median of the time since the previous stage, and the
    median of the time since the signal was sent."""
    columns = [(c, name) for c in contenders for name in ("SIGTERM", "SIGINT") if (c, name) in results.stages]
    if not columns:
        return ""
    n = min(len(results.stages[column]) for column in columns)
    titles = [f"{TITLES[c]}, {name}: step / since kill" for c, name in columns]
    rows = [[f"stage of safe_exit (medians, {n}+ staged runs)", *titles]]
    for i, (key, label) in enumerate(STAGES):
        row = [label]
        for column in columns:
            runs = [r for r in results.stages[column] if all(k in r for k, _ in STAGES)]
            if not runs:
                row.append("n/a")
            elif i == 0:
                row.append("0")
            else:
                previous = STAGES[i - 1][0]
                step = statistics.median((r[key] - r[previous]) / 1e3 for r in runs)
                total = statistics.median((r[key] - r["kill"]) / 1e3 for r in runs)
                row.append(f"+{fmt_us(step)} / {fmt_us(total)}")
        rows.append(row)
    rows.append(
        ["first function, unstaged victims (main table)"]
        + [
            fmt_us(statistics.median(results.get(f"{name} → first function", c) or [float("nan")]))
            for c, name in columns
        ]
    )
    return markdown(rows)


def write_csv(results, path):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["measurement", "contender", "run", "microseconds"])
        for (measurement, contender), xs in sorted(results.samples.items()):
            for run, x in enumerate(xs):
                out.writerow([measurement, contender, run, f"{x:.3f}"])
        for (contender, name), runs in sorted(results.stages.items()):
            for run, stamps in enumerate(runs):
                for key, _ in STAGES[1:]:
                    if key in stamps:
                        us = (stamps[key] - stamps["kill"]) / 1e3
                        out.writerow([f"{name} → stage {key}", contender, run, f"{us:.3f}"])


def check_environments(pythons):
    """Each interpreter imports the `safe_exit` it is meant to: this package has `own`, the
    original is version 0.1.2."""
    probe = (
        "import importlib.metadata as m, safe_exit; "
        "print(m.version('safe-exit'), hasattr(safe_exit, 'own'), safe_exit.__file__)"
    )
    for contender, python in pythons.items():
        if KINDS[contender] == "atexit":
            continue
        out = subprocess.run(
            [python, "-I", "-c", probe], capture_output=True, text=True, timeout=60, check=True
        ).stdout.split()
        version, ours = out[0], out[1] == "True"
        if ours != (KINDS[contender] == "ours") or (contender == "original" and version != "0.1.2"):
            raise SystemExit(f"{python} imports safe_exit {version} from {out[2]}: not the {contender} one")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", required=True, help="python of the environment with this package")
    parser.add_argument("--original", required=True, help="python of the environment with safe-exit 0.1.2")
    parser.add_argument("--candidate", help="python of an environment with another build of this package")
    parser.add_argument("--runs", type=int, default=30, help="samples per cell (default 30)")
    parser.add_argument("--storm", type=int, default=1000, help="SIGTERMs per storm (default 1000)")
    parser.add_argument("--out", help="directory for the tables (python-hooks.md) and raw samples (CSV)")
    args = parser.parse_args()
    if not hasattr(os, "pidfd_open"):
        raise SystemExit("hooks.py needs os.pidfd_open: Linux 5.3+ and Python 3.9+")
    pythons = {"ours": args.ours}
    if args.candidate:
        pythons["candidate"] = args.candidate
    pythons.update(original=args.original, atexit=args.ours)
    check_environments(pythons)
    contenders = list(pythons)

    results = Results()
    load = os.getloadavg()[0]
    started = time.monotonic()
    for i in range(WARMUP_ITERATIONS + args.runs):
        iteration(pythons, i, args, results, record=i >= WARMUP_ITERATIONS)
        done = i + 1 - WARMUP_ITERATIONS
        if done > 0 and done % 10 == 0:
            print(f"  {done}/{args.runs} iterations", file=sys.stderr)
    elapsed = time.monotonic() - started

    report = (
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.runs} runs per cell, "
        f"{elapsed:.0f} s, load average {load:.2f} before\n\n"
        + main_table(results, contenders, args)
        + "\n"
        + stage_table(results, contenders)
    )
    print(report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "python-hooks.md").write_text(report)
        write_csv(results, out / "python-hooks.csv")
        print(f"written: {out / 'python-hooks.md'}, {out / 'python-hooks.csv'}", file=sys.stderr)


if __name__ == "__main__":
    main()
