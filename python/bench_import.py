"""What ``import safe_exit`` adds to interpreter start.

Run with the interpreter that has the package installed, e.g. after ``scripts/test-python``:

    .venv/bin/python python/bench_import.py [ROUNDS]

Starts fresh interpreters, interleaving the variants so that machine noise hits them alike,
and prints the median wall time of each and its difference from bare ``python -c pass``:

- ``import safe_exit``: the cost the package adds to every program that imports it;
- ``+ register``: the import plus a first ``register``, which loads the native module and
  installs the handlers.
"""

import statistics
import subprocess
import sys
import time

VARIANTS = [
    ("python -c pass", "pass"),
    ("import safe_exit", "import safe_exit"),
    ("import safe_exit + register", "import safe_exit; safe_exit.register(print)"),
]


def run_once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    times: dict = {name: [] for name, _ in VARIANTS}
    for _ in range(3):  # warm the page cache and the .pyc files
        for _, code in VARIANTS:
            run_once(code)
    for _ in range(rounds):
        for name, code in VARIANTS:
            times[name].append(run_once(code))
    base = statistics.median(times[VARIANTS[0][0]])
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]}), {rounds} rounds, medians")
    for name, _ in VARIANTS:
        median = statistics.median(times[name])
        print(f"  {name:<30} {median * 1e3:7.2f} ms   {(median - base) * 1e3:+6.2f} ms")


if __name__ == "__main__":
    main()
