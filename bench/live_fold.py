"""The app's side of a live run, folding alone: a live run's frames folded into a Trace frame by frame, or in batches.

    python bench/live_fold.py [--rounds 3] [--batch 20] [--program FILE ARGS...]

Runs the ingest process once on the program (default switch_heavy 1,000 x 400: 1.6 M state records in 1,000 lanes)
and keeps the frames it writes; then, in this one interpreter, takes and folds them as the run screen does
(viz.ingest.process's FrameReader, then BlockFolder.fold, the lanes' columns written at the end of each fold),
writing the columns after every frame, then after every --batch frames (viz.app.live's FOLD_BATCH), alternating.
The ingest process, the program and the screen do not run meanwhile: this is the folding's own CPU time.

Last line of stdout: fold_batched_over_each=<median ratio of the batched fold's time to the frame-by-frame one>.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, PY, log, median, table  # noqa: E402

from viz.ingest.process import FrameReader, frames  # noqa: E402
from viz.trace.binary import BlockFolder  # noqa: E402
from viz.trace.model import Trace  # noqa: E402


def capture(script: str, args: list[str], timeout: float) -> list[bytes]:
    """The frames' bodies the ingest process writes for one run of the program."""
    spec = json.dumps({"script": script, "args": args, "name": "bench", "timeout": timeout, "child": None})
    with subprocess.Popen([PY, "-m", "viz.ingest.launch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:  # stdin open: it ends at the run's end, not at once
        proc.stdin.write(spec.encode() + b"\n")  # its first line: the run (viz.ingest.launch)
        proc.stdin.flush()
        data = proc.stdout.read()
        proc.stdin.close()
    bodies = frames(bytearray(data))
    if proc.returncode or not bodies:
        raise RuntimeError(f"the ingest process exited {proc.returncode} after {len(bodies)} frames")
    return bodies


def fold_all(bodies: list[bytes], every: int) -> tuple[float, int]:
    """CPU seconds to take and fold every frame, the lanes' columns written after every `every` frames; records."""
    trace = Trace({})  # (as the run screen's, whose header the records do not need)
    reader, folder = FrameReader(), BlockFolder(trace)
    start = time.process_time()
    for i, body in enumerate(bodies, 1):
        _, block = reader.decode(body)
        folder.fold(block, hold=True)
        if i % every == 0:
            trace.flush()
    trace.flush()
    took = time.process_time() - start
    return took, sum(len(lane.starts) for lane in trace.lanes)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=20, help="frames folded before the columns are written")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--program", nargs="+", default=[str(PROGRAMS / "switch_heavy.py"), "1000", "400"],
                   metavar=("FILE", "ARGS"))
    a = p.parse_args()
    bodies = capture(a.program[0], a.program[1:], a.timeout)
    each, batched, ratios, records = [], [], [], 0
    for r in range(a.rounds):
        e, records = fold_all(bodies, 1)
        b, _ = fold_all(bodies, a.batch)
        each.append(e)
        batched.append(b)
        ratios.append(b / e)
        log(f"round {r + 1}/{a.rounds}: frame by frame {e:.3f} s, every {a.batch} frames {b:.3f} s")
    print(table([["frames, records", f"{len(bodies):,}, {records:,}"],
                 ["fold, columns written after every frame (s CPU), median", f"{median(each):.3f}"],
                 [f"fold, columns written after every {a.batch} frames (s CPU), median", f"{median(batched):.3f}"],
                 ["ratio within a round, median", f"{median(ratios):.2f}x"]], ["figure", "value"]))
    print(f"fold_batched_over_each={median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
