"""What writing the trace file costs `viz record` (issue 18): no file, JSON Lines, the binary form (`.viztrace`).

    python bench/trace_write.py [--runs 5] [--greenlets 1000] [--switches 400]

Each round runs, in a rotating order, `python -m viz record -q bench/programs/switch_heavy.py -- N M` without `-o`
(none), with `-o run.jsonl` (jsonl) and with `-o run.viztrace` (viztrace): wall clock of the whole command, stdin at
/dev/null, output captured. The viewer writes the file on its main thread while the run goes, so what it costs shows
in the whole command's time; each mode's ratio is taken against the `none` run of the same round (the machine is
shared and noisy), and the headline is the median. Then the files of the last round are loaded with Trace.load
(median of 3 loads each) and their sizes printed. The files go to a temporary folder, removed at the end.

Prints one line per round, a table, then `trace_write_binary_over_none=<median ratio>` as the last line.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PROGRAMS, PY, REPO, child_env, log, median, min_runs, table  # noqa: E402

from viz.trace.model import Trace  # noqa: E402

MODES = ("none", "jsonl", "viztrace")


def record(program: Path, args: list[str], out: str | None) -> float:
    """Wall clock of one `viz record -q` (with `-o out` if given)."""
    cmd = [PY, "-m", "viz", "record", "-q", *(["-o", out] if out else []), str(program), "--", *args]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, cwd=str(REPO), env=child_env(),
                       timeout=300)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {p.returncode}: {p.stderr.decode(errors='replace')[-1500:]}")
    return wall


def load_time(path: str, runs: int = 3) -> tuple[float, int]:
    times, spans = [], 0
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        trace = Trace.load(path)
        times.append(time.perf_counter() - t0)
        spans = sum(len(lane) for lane in trace.lanes)
        del trace
    return median(times), spans


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=min_runs, default=5, help="rounds (default 5, at least 5)")
    ap.add_argument("--greenlets", type=int, default=1000, help="switch_heavy's N (default 1000)")
    ap.add_argument("--switches", type=int, default=400, help="switch_heavy's M (default 400)")
    a = ap.parse_args(argv)
    program = PROGRAMS / "switch_heavy.py"
    args = [str(a.greenlets), str(a.switches)]
    walls: dict[str, list[float]] = {m: [] for m in MODES}
    ratios: dict[str, list[float]] = {m: [] for m in MODES[1:]}
    with tempfile.TemporaryDirectory(prefix="viz-trace-write-") as tmp:
        files = {"none": None, "jsonl": os.path.join(tmp, "run.jsonl"), "viztrace": os.path.join(tmp, "run.viztrace")}
        for r in range(a.runs):
            order = MODES[r % len(MODES):] + MODES[:r % len(MODES)]
            got = {}
            for m in order:
                if files[m] and os.path.exists(files[m]):
                    os.unlink(files[m])
                got[m] = record(program, args, files[m])
                walls[m].append(got[m])
            for m in ratios:
                ratios[m].append(got[m] / got["none"])
            log(f"  round {r + 1}/{a.runs}: " + ", ".join(f"{m} {got[m]:.2f} s" for m in MODES) + "; over none " +
                ", ".join(f"{m} {ratios[m][-1]:.2f}x" for m in ratios))
        sizes = {m: os.path.getsize(files[m]) for m in ratios}
        loads = {m: load_time(files[m]) for m in ratios}
    spans = loads["viztrace"][1]
    rows = [[m, median(walls[m]), min(walls[m]), max(walls[m]), median(ratios[m]) if m in ratios else 1.0,
             f"{sizes[m] / 1e6:.1f}" if m in sizes else "-", f"{sizes[m] / spans:.1f}" if m in sizes else "-",
             loads[m][0] if m in loads else "-"] for m in MODES]
    print(table(rows, ["mode", "median_s", "min_s", "max_s", "over_none", "file_MB", "bytes_per_span", "load_s"]))
    print(f"switch_heavy {a.greenlets} x {a.switches}, {spans:,} spans, Python {sys.version.split()[0]}, {a.runs} "
          f"rounds; jsonl over none {median(ratios['jsonl']):.2f}x, viztrace over none "
          f"{median(ratios['viztrace']):.2f}x; load jsonl {loads['jsonl'][0]:.2f} s, viztrace "
          f"{loads['viztrace'][0]:.2f} s")
    print(f"trace_write_binary_over_none={median(ratios['viztrace']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
