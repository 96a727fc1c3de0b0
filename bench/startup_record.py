"""How much longer `viz record` takes than a plain run of a program that does almost nothing (issue 18: <= 0.1 s).

    python bench/startup_record.py [--runs 15] [--program FILE] [--against TREE]

Each round runs, in a rotating order, `python HELLO` (plain), `python -m viz record -q HELLO` (record: the whole
command, from spawning the viewer to its exit) and `python -m viz.recorder.child FD HELLO` with the event pipe read
and discarded (child: the recorder's child alone, no viewer). HELLO is a one-line `print("hello")` written to a
temporary folder (removed at the end), or --program. Every run is wall clock from just before the spawn to the exit,
stdin at /dev/null, stdout and stderr captured. One untimed round comes first (bytecode and the OS file cache as a
user has them; with the default --bytecode cached, that round writes viz's bytecode if it is missing, as an installed
viz has it). The difference record - plain is taken within each round and the headline is its median: the
machine is shared and noisy, so only runs close in time are compared.

`--against TREE` adds a mode, `against`: `viz record -q HELLO` of another source tree (a checkout, with or without its
C extensions built; run from it, so `-m viz` and the child it spawns are that tree's), to see what a change buys
within one run.

Prints one line per round, a table, then `record_startup_over_plain_s=<median difference>` as the last line.
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
from _common import PY, REPO, child_env, log, median, min_runs, table  # noqa: E402

MODES = ("plain", "record", "child")


BYTECODE: dict[str, str | None] = {"PYTHONDONTWRITEBYTECODE": None}
TREES: dict[str, str] = {"record": str(REPO)}  # the source tree each traced mode runs from (`against`: --against)


def timed(cmd: list[str], pass_fds=(), env=None, cwd=REPO) -> float:
    env = env if env is not None else child_env(**BYTECODE)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, pass_fds=pass_fds, cwd=str(cwd),
                       env=env, timeout=60)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {p.returncode}: {p.stderr.decode(errors='replace')[-1500:]}")
    return wall


def without_bytecode(tree: str, dest: str) -> str:
    """A copy of `tree`'s viz package (its built extensions included) with no __pycache__: run from it with
    PYTHONDONTWRITEBYTECODE=1, viz's modules are compiled from source at every start, the rest as cached as ever."""
    import shutil
    shutil.copytree(os.path.join(tree, "viz"), os.path.join(dest, "viz"), ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run_child(program: str) -> float:
    """The recorder child alone; its event pipe is read to the end by a thread and discarded."""
    import threading
    rfd, wfd = os.pipe()

    def drain():
        while os.read(rfd, 1 << 20):
            pass
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = child_env(PYTHONUNBUFFERED="1", **BYTECODE)
    env["PYTHONPATH"] = TREES["record"] + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        wall = timed([PY, "-m", "viz.recorder.child", str(wfd), program], pass_fds=(wfd,), env=env)
    finally:
        os.close(wfd)
        reader.join(5)
        os.close(rfd)
    return wall


def run_one(mode: str, program: str) -> float:
    if mode == "plain":
        return timed([PY, program])
    if mode in TREES:  # run from the tree: `-m viz` and the child it spawns are that tree's
        return timed([PY, "-m", "viz", "record", "-q", program], cwd=TREES[mode])
    return run_child(program)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=min_runs, default=15, help="timed rounds (default 15, at least 5)")
    ap.add_argument("--program", help="the program to run (default: a one-line print('hello'))")
    ap.add_argument("--bytecode", choices=("cached", "none"), default="cached",
                    help="cached (default): viz's modules' bytecode cached, as an installed viz has it; none: viz's "
                         "own modules compiled from source at every start (each tree is run from a copy of its viz "
                         "package without __pycache__, with PYTHONDONTWRITEBYTECODE=1), as a checkout runs on a "
                         "machine that sets it; the standard library's and the dependencies' stay cached")
    ap.add_argument("--against", metavar="TREE", help="also `viz record` of this source tree")
    args = ap.parse_args(argv)
    modes = MODES + (("against",) if args.against else ())
    BYTECODE["PYTHONDONTWRITEBYTECODE"] = None if args.bytecode == "cached" else "1"
    with tempfile.TemporaryDirectory(prefix="viz-startup-") as tmp:
        if args.against:
            TREES["against"] = os.path.abspath(args.against)
        if args.bytecode == "none":
            for m in TREES:
                TREES[m] = without_bytecode(TREES[m], os.path.join(tmp, m))
        program = args.program
        if program is None:
            program = os.path.join(tmp, "hello.py")
            with open(program, "w") as f:
                f.write('print("hello")\n')
        program = os.path.abspath(program)
        for m in modes:  # untimed
            run_one(m, program)
        walls: dict[str, list[float]] = {m: [] for m in modes}
        over: list[float] = []
        for r in range(args.runs):
            order = modes[r % len(modes):] + modes[:r % len(modes)]
            got = {m: run_one(m, program) for m in order}
            for m in modes:
                walls[m].append(got[m])
            over.append(got["record"] - got["plain"])
            log(f"  round {r + 1}/{args.runs}: " + ", ".join(f"{m} {got[m]:.3f} s" for m in modes) +
                f"; record over plain {over[-1]:.3f} s")
    base = median(walls["plain"])
    rows = [[m, median(walls[m]), min(walls[m]), max(walls[m]), median(walls[m]) - base] for m in modes]
    print(table(rows, ["mode", "median_s", "min_s", "max_s", "over_plain_s"]))
    print(f"{Path(program).name}, Python {sys.version.split()[0]}, bytecode {args.bytecode}, {args.runs} rounds; record over plain "
          f"within a round: median {median(over):.3f} s, min {min(over):.3f} s, max {max(over):.3f} s")
    print(f"record_startup_over_plain_s={median(over):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
