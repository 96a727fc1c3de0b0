"""Recorder overhead in instructions (valgrind's callgrind): the same figures as overhead_switch / overhead_io, free
of the machine's noise.

These machines are shared: an untraced run's time swings by up to 2x between rounds, so a time ratio near a target
(1.2x for the I/O program) can land on either side of it. Instructions executed do not swing. Each program runs
untraced and under the recorder's child (its event pipe going to /dev/null, as overhead_switch's "child-only"), each
at two sizes, and the difference between the sizes gives the instructions per unit of work (one gevent.sleep(0),
one echo round trip) with start-up cancelled out. The viewer's share is measured the same way: the viewing process
(Session + Trace.add_many, as `viz record` does) under callgrind while its child runs natively, per record.
An instruction count is not a time (cache misses, the other vCPU), but the ratio tracks the child-only time ratio
within a few percent on a quiet machine, and it says which change made the recorder cheaper.

`--against TREE` also runs the recorder child of another source tree (a checkout with its C extensions built in
place, e.g. `git worktree add /tmp/old REV && (cd /tmp/old && python setup.py build_ext --inplace)`), so what a
change costs is read within one run: the table gains its per-unit instructions and this tree's ratio to it.

Needs valgrind on PATH. Runs the valgrind processes two at a time; takes about three minutes.

Last line of stdout: instr_ratio_io=<traced / untraced instructions per echo round trip>; the line before:
instr_ratio_switch=.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, PY, REPO, log, table  # noqa: E402

COLLECTED = re.compile(r"Collected : (\d+)")
WORKLOADS = {  # name: (script, args at the small size, args at the large size, units of work between them, unit)
    "switch": (PROGRAMS / "switch_heavy.py", ["200", "50"], ["200", "150"], 200 * 100, "gevent.sleep(0)"),
    "io": (PROGRAMS / "echo_io.py", ["50", "100", "64"], ["50", "300", "64"], 50 * 200, "echo round trip"),
}
VIEWER = """
import sys
sys.path.insert(0, {repo!r})
from viz.ingest.session import Session
from viz.trace.model import Trace
session = Session({script!r}, {args!r}, timeout=600)
trace = Trace(session.header)
count = [0]
def on_records(recs):
    count[0] += len(recs)
    trace.add_many(recs)
session.start()
try:
    session.run(on_records)
finally:
    session.close()
print("records", count[0])
"""


def callgrind(argv: list[str], env: dict, out_dir: str) -> tuple[int, str]:
    """Instructions the process executed (not its children), and its stdout."""
    fd, out_file = tempfile.mkstemp(dir=out_dir)
    os.close(fd)
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=1800)
    m = COLLECTED.search(p.stderr)
    if p.returncode != 0 or m is None:
        raise SystemExit(f"instructions: {' '.join(argv)} failed under valgrind:\n{p.stderr[-2000:]}")
    return int(m.group(1)), p.stdout


def measure(kind: str, script, args: list[str], out_dir: str, tree=REPO) -> tuple[int, str]:
    env = dict(os.environ)
    env.pop("VIZ_PURE_PYTHON", None)
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if kind == "plain":
        return callgrind([PY, str(script), *args], env, out_dir)
    if kind == "child":  # the recorder child alone, its events written to /dev/null (fd 3)
        argv = ["sh", "-c", 'exec "$@" 3>/dev/null', "sh", "valgrind", "--tool=callgrind",
                f"--callgrind-out-file={out_dir}/child-%p", PY, "-m", "viz.recorder.child", "3", str(script), *args]
        # from the tree's own folder: `-m` puts the working directory first on sys.path, before PYTHONPATH
        p = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=1800,
                           cwd=str(tree))
        m = COLLECTED.search(p.stderr)
        if p.returncode != 0 or m is None:
            raise SystemExit(f"instructions: the recorder child on {script.name} failed under valgrind:\n"
                             f"{p.stderr[-2000:]}")
        return int(m.group(1)), p.stdout
    # the viewer under callgrind, its child native
    return callgrind([PY, "-c", VIEWER.format(repo=str(REPO), script=str(script), args=args)], env, out_dir)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table, instr_ratio_switch= and instr_ratio_io= "
                                        "(last line).")
    ap.add_argument("--jobs", type=int, default=2, help="valgrind processes at a time (default 2)")
    ap.add_argument("--against", metavar="TREE", help="also the recorder child of this source tree (C extensions "
                                                      "built in place), for what a change costs")
    a = ap.parse_args()
    kinds = ("plain", "child", "viewer") + (("against",) if a.against else ())
    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    rows, ratios = [], {}
    with tempfile.TemporaryDirectory(prefix="viz-bench-callgrind-") as out_dir, ThreadPoolExecutor(a.jobs) as pool:
        jobs = {}
        for name, (script, small, large, _, _) in WORKLOADS.items():
            for kind in kinds:
                for size, args in (("small", small), ("large", large)):
                    jobs[name, kind, size] = pool.submit(measure, "child" if kind == "against" else kind, script,
                                                         args, out_dir, a.against if kind == "against" else REPO)
        log(f"instructions: {len(jobs)} runs under callgrind, {a.jobs} at a time")
        got = {}
        for key, job in jobs.items():
            got[key] = job.result()
            log(f"  {' '.join(key)}: {got[key][0]:,} instructions")
    for name, (script, small, large, units, unit) in WORKLOADS.items():
        per = {kind: (got[name, kind, "large"][0] - got[name, kind, "small"][0]) / units for kind in kinds}
        records = [int(re.search(r"records (\d+)", got[name, "viewer", size][1]).group(1)) for size in ("small", "large")]
        per_record = (got[name, "viewer", "large"][0] - got[name, "viewer", "small"][0]) / (records[1] - records[0])
        ratios[name] = per["child"] / per["plain"]
        rows.append([f"{script.name} {' '.join(large)}", unit, per["plain"], per["child"], ratios[name],
                     (records[1] - records[0]) / units, per_record]
                    + ([per["against"], per["child"] / per["against"]] if a.against else []))
    print("recorder overhead in instructions (callgrind; the difference between two sizes of each program)")
    print(table(rows, ["program", "unit of work", "untraced / unit", "recorder child / unit", "ratio",
                       "records / unit", "viewer / record"]
                + (["--against child / unit", "this tree / --against"] if a.against else [])))
    print(f"instr_ratio_switch={ratios['switch']:.3f}")
    print(f"instr_ratio_io={ratios['io']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
