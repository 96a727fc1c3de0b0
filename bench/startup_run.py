"""`viz run`'s start: how long after its launch the program's first line runs, against a plain run's (issue 18).

    python bench/startup_run.py [--runs 15]

Each round launches a one-line program that writes the time it runs (time.time()) to a file, plainly
(`python PROGRAM`) and under `viz run` as bench/run_whole.py runs it (a fresh interpreter starting the ingest process
first thing, as viz.cli does, then the app headless at 200x50), in turns. The figure is the median, over the rounds,
of the difference between the two delays from launch to first line: the time the user waits for the program to
start that a plain run does not make them wait (interpreters started one after another, the recorder's imports).

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
from _common import PY, child_env, log, median, min_runs, table  # noqa: E402

RUN_WHOLE = str(Path(__file__).resolve().parent / "run_whole.py")
PROGRAM = "import sys, time\nwith open(sys.argv[1], 'w') as f:\n    f.write(repr(time.time()))\n"


def first_line(cmd: list[str], stamp: str, until: str | None = None) -> float:
    """Seconds from the launch of `cmd` to the time the program wrote to `stamp` (the run is waited for: to the
    end of the process, or to its stdout line containing `until`)."""
    if os.path.exists(stamp):
        os.remove(stamp)
    launched = time.time()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                          text=True, env=child_env()) as proc:
        for line in proc.stdout:
            if until is not None and until in line:
                break
        proc.stdout.read()
        proc.wait()
    with open(stamp) as f:
        return float(f.read()) - launched


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=min_runs, default=15, help="rounds (default 15, at least 5)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="viz-startup-run-") as tmp:
        program, stamp = os.path.join(tmp, "first.py"), os.path.join(tmp, "stamp")
        with open(program, "w") as f:
            f.write(PROGRAM)
        plain_cmd = [PY, program, stamp]
        run_cmd = [PY, RUN_WHOLE, "--headless", "--program", program, stamp]
        first_line(run_cmd, stamp, "timeline complete")  # untimed: bytecode and the OS file cache as a user has them
        plains, runs, over = [], [], []
        for r in range(a.runs):
            plain = first_line(plain_cmd, stamp)
            run = first_line(run_cmd, stamp, "timeline complete")
            plains.append(plain)
            runs.append(run)
            over.append(run - plain)
            log(f"round {r + 1}/{a.runs}: first line after {plain * 1000:.0f} ms plain, {run * 1000:.0f} ms under viz run")
    print(table([["plain: launch to the program's first line (ms), median", f"{median(plains) * 1000:.0f}"],
                 ["viz run: launch to the program's first line (ms), median", f"{median(runs) * 1000:.0f}"],
                 ["difference within a round (ms), median", f"{median(over) * 1000:.0f}"]], ["figure", "value"]))
    print(f"run_first_line_over_plain_ms={median(over) * 1000:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
