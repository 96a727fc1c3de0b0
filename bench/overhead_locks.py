"""Recorder overhead on uncontended locks: a tight loop of `with lock:` untraced and under the recorder (issue 13).

Under the recorder `threading.Lock` and `threading.RLock` are thin Python wrappers around the C locks (so that a
contended acquire can be drawn blocked, naming the holder); an uncontended acquire records nothing, but it is a
Python call instead of a C one. The program (written to a temporary folder) runs N iterations of `with lock:` around
`total += 1` in one thread and prints `work_s=<seconds>` for the loop alone. Rounds alternate untraced and traced
(Session + Trace.add_many, as `viz record` does), for a Lock and then an RLock. The headline is the median over
rounds of traced / untraced within a round, and the extra nanoseconds per `with lock:`.

Last line of stdout: overhead_ratio=<median traced/untraced for threading.Lock>.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import Rounds, log, median, min_runs, table  # noqa: E402

PROGRAM = '''\
import sys, threading, time
kind, n = sys.argv[1], int(sys.argv[2])
lock = threading.Lock() if kind == "lock" else threading.RLock()
def loop(lock, n):
    total = 0
    for _ in range(n):
        with lock:
            total += 1
    return total
t0 = time.perf_counter()
total = loop(lock, n)
work = time.perf_counter() - t0
assert total == n
print(f"work_s={work:.6f}")
'''


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `overhead_ratio=X` (last line).")
    ap.add_argument("--iterations", "-n", type=int, default=1_000_000, help="`with lock:` per run (default 1 M)")
    ap.add_argument("--runs", type=min_runs, default=7, help="alternating rounds per lock kind, >= 5 (default 7)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-run timeout in seconds (default 120)")
    a = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="viz-bench-") as tmp:
        program = Path(tmp) / "lock_loop.py"
        program.write_text(PROGRAM)
        for kind in ("lock", "rlock"):
            log(f"overhead_locks: {a.iterations:,} x `with {kind}:`, {a.runs} rounds of untraced, traced")
            rounds = Rounds(program, [kind, a.iterations], ["untraced", "traced"], timeout=a.timeout)
            rounds.run(a.runs)
            results[kind] = rounds

    print(f"Uncontended `with lock:` in a tight loop, {a.iterations:,} iterations, median of {a.runs} alternating "
          "rounds (work = the loop's own time)")
    rows = []
    for kind, rounds in results.items():
        base, traced = median(rounds.work["untraced"]), median(rounds.work["traced"])
        rows.append([f"threading.{'Lock' if kind == 'lock' else 'RLock'}", base / a.iterations * 1e9,
                     traced / a.iterations * 1e9, rounds.ratio("traced"), (traced - base) / a.iterations * 1e9])
    print(table(rows, ["lock", "untraced ns/with", "traced ns/with", "ratio", "extra ns/with"]))
    print(f"overhead_ratio_rlock={results['rlock'].ratio('traced'):.2f}")
    print(f"overhead_ratio={results['lock'].ratio('traced'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
