"""`viz run`'s start: how long after its launch the program's first line runs, against a plain run's (issue 18).

    python bench/startup_run.py [--runs 15] [--size 120x40]

Each round launches a one-line program that writes the time it runs (time.time()) to a file, plainly
(`python PROGRAM STAMP`) and under the real command, `python -m viz run PROGRAM -- STAMP`, in a pseudo-terminal of
--size (TERM=xterm-256color), in turns. The viz run is ended once the program has written its stamp (q, then the
process is waited for; not timed). The figure is the median, over the rounds, of the difference between the two
delays from launch to first line: the time the user waits for the program to start that a plain run does not make
them wait (three interpreters started one after another: viz's, the ingest process's, the recorder child's; the
recorder's imports; the app loading meanwhile on the same two cores). One untimed run of each comes first.

Last line of stdout: run_first_line_over_plain_ms=<median difference>.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PY, child_env, in_terminal, log, median, min_runs, table  # noqa: E402

PROGRAM = ("import os, sys, time\nt = time.time()\nwith open(sys.argv[1] + '.part', 'w') as f:\n    f.write(repr(t))\n"
           "os.replace(sys.argv[1] + '.part', sys.argv[1])\n")  # (whole or not there: never read half-written)
TIMEOUT = 20.0  # s: a run that has not written its stamp by then fails the bench


def stamped(stamp: str) -> float | None:
    """The time the program wrote to `stamp`, once it has written it whole; None before."""
    try:
        with open(stamp) as f:
            return float(f.read())
    except (OSError, ValueError):
        return None


def plain_first_line(program: str, stamp: str) -> float:
    """Seconds from the launch of `python PROGRAM STAMP` to the time the program wrote to `stamp`."""
    launched = time.time()
    subprocess.run([PY, program, stamp], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=child_env(), check=True, timeout=TIMEOUT)
    return stamped(stamp) - launched


def viz_run_first_line(program: str, stamp: str, cols: int, rows: int) -> float:
    """Seconds from the launch of `python -m viz run PROGRAM -- STAMP` in a pseudo-terminal to the time the program
    wrote to `stamp`; then the app is quit and waited for."""
    launched, wrote = in_terminal([PY, "-m", "viz", "run", program, "--", stamp], cols, rows,
                                  lambda screen: stamped(stamp), child_env(), TIMEOUT)
    return wrote - launched


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=min_runs, default=15, help="rounds (default 15, at least 5)")
    p.add_argument("--size", default="120x40", help="the pseudo-terminal's COLSxROWS (default 120x40)")
    a = p.parse_args()
    cols, rows = (int(x) for x in a.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="viz-startup-run-") as tmp:
        program, stamp = os.path.join(tmp, "first.py"), os.path.join(tmp, "stamp")
        with open(program, "w") as f:
            f.write(PROGRAM)

        def fresh() -> str:
            if os.path.exists(stamp):
                os.remove(stamp)
            return stamp
        plain_first_line(program, fresh())  # untimed: bytecode and the OS file cache as a user has them
        viz_run_first_line(program, fresh(), cols, rows)
        plains, runs, over = [], [], []
        for r in range(a.runs):
            plain = plain_first_line(program, fresh())
            run = viz_run_first_line(program, fresh(), cols, rows)
            plains.append(plain)
            runs.append(run)
            over.append(run - plain)
            log(f"round {r + 1}/{a.runs}: first line after {plain * 1000:.0f} ms plain, "
                f"{run * 1000:.0f} ms under viz run")
    print(table([["plain: launch to the program's first line (ms), median", f"{median(plains) * 1000:.0f}"],
                 ["viz run, in a pseudo-terminal: launch to the program's first line (ms), median",
                  f"{median(runs) * 1000:.0f}"],
                 ["difference within a round (ms), median", f"{median(over) * 1000:.0f}"]], ["figure", "value"]))
    print(f"run_first_line_over_plain_ms={median(over) * 1000:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
