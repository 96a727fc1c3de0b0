"""Recorder overhead on CPU-bound threads, with the GIL sampler (issue 13, item 2).

Runs bench/programs/gil_threads.py (T threads x N iterations of `x += i * i`, started together) untraced and under
the recorder (Session + Trace.add_many, as `viz record` does), alternating, and compares the work time the program
itself prints (`work_s=`). Per round: untraced; traced (the C hooks and the GIL sampler: a native thread reading the
threads' CPU clocks every millisecond); traced with VIZ_PURE_PYTHON=1 (no sampler: GIL waits are not recorded, and
the other hooks, which a program of plain threads hardly calls, are pure Python); and the recorder child alone with
its event pipe discarded. The order rotates every round. The headline is the median over rounds of traced /
untraced within a round. Also, from the last traced run of each mode: the GIL waits recorded, the records, and the
task time drawn per second of wall time (the threads' running + blocked time over the run's length: about 1.0x when
the waits are drawn, about the number of threads when they are not). And the sampler thread's own CPU time while
threads contend, measured in this process (information: it ticks every millisecond while two threads are shown
running, every 4 ms while one is, to see it asleep in C code, and not while none is or the one runs an event loop).

Last line of stdout: overhead_ratio=<median traced/untraced, with the GIL sampler>.
"""

from __future__ import annotations

import argparse
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, Rounds, log, median, min_runs, table  # noqa: E402

PROGRAM = PROGRAMS / "gil_threads.py"
GIL = "waiting for the GIL"


def drawn(run) -> tuple[int, float]:
    """GIL waits in the trace, and task time per second of wall time."""
    trace = run.trace
    waits = sum(1 for lane in trace.lanes for s in trace.spans(lane) if s.reason == GIL)
    return waits, trace.work_time() / trace.duration if trace.duration else float("nan")


class GilRounds(Rounds):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.drawn: dict[str, tuple[int, float]] = {}

    def run_one(self, m: str) -> float:
        w = super().run_one(m)
        if self.last_traced is not None and m.startswith("traced"):
            self.drawn[m] = drawn(self.last_traced)
        return w


def sampler_cost(threads: int, seconds: float = 2.0) -> tuple[float, float]:
    """The sampler thread's CPU time (% of one CPU) and ticks per second while `threads` threads spin here."""
    import collections
    import os
    import threading
    import time

    from viz.recorder import _cpuclock

    q: collections.deque = collections.deque()
    sampler = _cpuclock.Sampler(q.append, "S", time.perf_counter(), sys.getswitchinterval())
    sampler.register(0)
    sampler.state(0, False)  # this thread only watches
    stop = threading.Event()

    def spin(task):
        sampler.register(task)
        x = 0
        while not stop.is_set():
            for i in range(10_000):
                x += i
        sampler.end(task)

    def cpu() -> float:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() == "viz-gil":
                    return _thread_cpu(int(tid))
        return float("nan")

    spinners = [threading.Thread(target=spin, args=(k + 1,)) for k in range(threads)]
    for t in spinners:
        t.start()
    time.sleep(0.2)
    c0, t0, k0 = cpu(), time.perf_counter(), sampler.stats()["ticks"]
    time.sleep(seconds)
    c1, t1, k1 = cpu(), time.perf_counter(), sampler.stats()["ticks"]
    stop.set()
    for t in spinners:
        t.join()
    sampler.stop()
    return (c1 - c0) / (t1 - t0) * 100, (k1 - k0) / (t1 - t0)


def _thread_cpu(tid: int) -> float:
    """Seconds on a CPU of thread `tid` of this process (its schedstat, else utime + stime in clock ticks)."""
    import os
    try:
        with open(f"/proc/self/task/{tid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        with open(f"/proc/self/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `overhead_ratio=X` (last line).")
    ap.add_argument("--threads", "-t", type=int, default=2, help="CPU-bound threads (default 2)")
    ap.add_argument("--iterations", "-n", type=int, default=5_000_000,
                    help="iterations of `x += i * i` per thread (default 5,000,000: about 0.3 s each)")
    ap.add_argument("--runs", type=min_runs, default=7, help="alternating rounds, >= 5 (default 7)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-run timeout in seconds (default 120)")
    a = ap.parse_args()
    modes = ["untraced", "traced", "traced-pure", "child-only"]
    log(f"overhead_gil: {a.threads} threads x {a.iterations:,} iterations, {a.runs} rounds of {', '.join(modes)}")
    rounds = GilRounds(PROGRAM, [a.threads, a.iterations], modes, timeout=a.timeout)
    rounds.run(a.runs)

    print(f"CPU-bound threads: {a.threads} x {a.iterations:,} iterations of pure-Python arithmetic, median of "
          f"{a.runs} alternating rounds (work = the program's own work_s; wall = start to exit as the viewer sees it)")
    rows = [[m, median(rounds.work[m]), median(rounds.wall[m]), rounds.ratio(m) if m in rounds.ratios else 1.0,
             *(rounds.drawn.get(m, ("-", float("nan"))))] for m in modes]
    print(table(rows, ["mode", "work s", "wall s", "ratio", "GIL waits", "task time / wall"]))
    pct, ticks = sampler_cost(a.threads)
    print(f"sampler thread while {a.threads} threads contend (information): {pct:.2f}% of one CPU, {ticks:.0f} "
          f"ticks/s")
    print(f"overhead_ratio_pure={rounds.ratio('traced-pure'):.2f}")
    print(f"overhead_ratio_child_only={rounds.ratio('child-only'):.2f}")
    print(f"overhead_ratio={rounds.ratio('traced'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
