"""One victim process of ``hooks.py``: sets up one contender, says ``ready``, then waits.

    python -I victim.py CONTENDER [stages]      # CONTENDER: ours | original | atexit

Run by the benchmark with the interpreter of the contender's virtual environment (``-I``, so
that neither the environment nor this directory decides which ``safe_exit`` is imported).

- ``ours`` and ``original``: ``import safe_exit`` and ``safe_exit.register(first_function)``
  (which of the two packages that is depends on the interpreter). With ``stages`` (ours
  only), the package's private benchmark hook ``safe_exit._trace`` is set, so that it
  records when its signal handler starts, when the handler is done and when its exit
  routine starts.
- ``atexit``: ``atexit.register(first_function)`` and the usual idiom that makes ``atexit``
  functions run on SIGTERM, ``signal.signal(SIGTERM, lambda s, f: sys.exit(128 + s))``;
  SIGINT keeps Python's own handler (``KeyboardInterrupt``).

After ``ready`` the main thread sleeps in ``time.sleep``, as the main thread of a service does
once it has handed its work to threads (or waits for a signal in a sleep loop): a blocking
call that a signal interrupts, as ``read(2)`` is in the Rust benchmark. Around that wait, a
``finally:`` block stands for the program's own cleanup: it records when it runs.

Lines written to stdout, each with one ``write(2)``:

- ``ready``: set-up done;
- ``fn NS``: the registered function ran, NS being ``CLOCK_MONOTONIC`` in nanoseconds, read
  first thing (one line per run: a function that runs twice writes two);
- ``stage NAME NS``: the stages recorded on the way (``finally``; with ``stages`` also
  ``handler``, ``raise``, ``exit``), written together by a plain ``atexit`` function
  registered before everything else, so that it runs last.
"""

import atexit
import os
import sys
import time

_clock = time.clock_gettime_ns
_MONOTONIC = time.CLOCK_MONOTONIC
_stamps = []


def stamp(name):
    """Records that stage ``name`` is reached now; kept in memory until ``report``."""
    _stamps.append((name, _clock(_MONOTONIC)))


def first_function():
    """The registered function: reads the clock first thing and reports it at once."""
    now = _clock(_MONOTONIC)
    os.write(1, b"fn %d\n" % now)


def report():
    """Writes the recorded stages (registered first, so it runs after every other function)."""
    if _stamps:
        os.write(1, "".join(f"stage {name} {ns}\n" for name, ns in _stamps).encode())


def set_up(contender, stages):
    atexit.register(report)
    if contender in ("ours", "original"):
        import safe_exit

        if stages:
            safe_exit._trace = stamp
        safe_exit.register(first_function)
    elif contender == "atexit":
        import signal

        atexit.register(first_function)
        signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    else:
        raise SystemExit(f"victim.py: unknown contender {contender!r}")


def main():
    set_up(sys.argv[1], stages=sys.argv[2:] == ["stages"])
    try:
        os.write(1, b"ready\n")
        while True:
            time.sleep(3600)
    finally:
        stamp("finally")


if __name__ == "__main__":
    main()
