"""Recorder overhead on a switch-heavy asyncio program (issue 13: target <= 2.0x, aim 1.5x).

Runs bench/programs/asyncio_switch_heavy.py (N tasks x M `await asyncio.sleep(0)`) untraced and under the recorder
(Session + Trace.add_many, as `viz record` does), alternating, and compares the work time the program itself prints
(`work_s=`). Per round: untraced, traced, and the recorder child alone with its event pipe discarded (the child's
share of the overhead, no viewer work); the order rotates every round so drift on a shared machine hits all alike.
The headline is the median over rounds of traced / untraced within a round. Also: microseconds per task step
(extra work time / steps counted in the trace: each step starts one `running` span of a task or the loop).

Last line of stdout: overhead_ratio=<median traced/untraced>.
"""

from __future__ import annotations

import argparse
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, Rounds, log, median, min_runs, table  # noqa: E402

PROGRAM = PROGRAMS / "asyncio_switch_heavy.py"
TARGET = 2.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `overhead_ratio=X` (last line).")
    ap.add_argument("--tasks", "-n", type=int, default=1000, help="asyncio tasks (default 1000)")
    ap.add_argument("--sleeps", "-m", type=int, default=200, help="asyncio.sleep(0) awaits per task (default 200)")
    ap.add_argument("--runs", type=min_runs, default=7, help="alternating rounds, >= 5 (default 7)")
    ap.add_argument("--no-child-only", action="store_true",
                    help="skip the child-only runs (the recorder child with its event pipe discarded: no viewer work)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-run timeout in seconds (default 120)")
    a = ap.parse_args()
    args = [a.tasks, a.sleeps]
    steps = a.tasks * a.sleeps

    modes = ["untraced", "traced"] + ([] if a.no_child_only else ["child-only"])
    log(f"overhead_asyncio: {a.tasks} tasks x {a.sleeps} asyncio.sleep(0) = {steps:,} steps, "
        f"{a.runs} rounds of {', '.join(modes)}")
    rounds = Rounds(PROGRAM, args, modes, timeout=a.timeout)
    rounds.run(a.runs)

    base = median(rounds.work["untraced"])
    print(f"asyncio switch-heavy: {a.tasks} tasks x {a.sleeps} asyncio.sleep(0), median of {a.runs} alternating "
          f"rounds (work = the program's own work_s; wall = start to exit as the viewer sees it)")
    print(table(rounds.rows(per="step", per_count=steps),
                ["mode", "work s", "wall s", "ratio", "running spans", "records", "extra us/step"]))
    ratio = rounds.ratio("traced")
    print(f"target <= {TARGET}x: {'met' if ratio <= TARGET else f'MISSED by {ratio / TARGET - 1:.0%}'}")
    if "child-only" in rounds.ratios:
        print(f"overhead_ratio_child_only={rounds.ratio('child-only'):.2f}")
    print(f"us_per_step={(median(rounds.work['traced']) - base) / steps * 1e6:.2f}")
    print(f"overhead_ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
