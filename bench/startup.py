"""How long `viz show` of a small trace takes to put its first frame on the terminal (issue 4: startup <= 1 s).

    python bench/startup.py [--runs 5] [--trace tests/data/gevent_sleepers.jsonl] [--size 120x40]

Each run starts `python -m viz show TRACE` as a real subprocess in a pseudo-terminal of --size (TERM=xterm-256color),
reads what it writes to the terminal, and stops the clock when the bytes written so far hold the first frame of the
run screen: the trace's name in the status bar, a lane name in the timeline and the footer's `quit` key (Textual
paints a frame in one write, so they arrive together). Measured: from just before the process is spawned to that
moment, wall clock, so it covers interpreter start, imports, loading the trace, building the screen, the first
render and writing it. Then it presses q and waits for the process to exit (not timed). One untimed run comes
first (see --bytecode).

Prints one line per run, then `startup_s=<median>` as the last line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, in_terminal  # noqa: E402

TIMEOUT = 20.0


def first_frame(trace: Path, cols: int, rows: int, markers: list[bytes], bytecode: bool) -> float:
    """Seconds from spawning `viz show` to the first frame that holds every marker."""
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    launched, framed = in_terminal([sys.executable, "-m", "viz", "show", str(trace)], cols, rows,
                                   lambda screen: time.time() if all(m in screen for m in markers) else None, env,
                                   TIMEOUT)
    return framed - launched


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--trace", default=str(REPO / "tests" / "data" / "gevent_sleepers.jsonl"))
    ap.add_argument("--size", default="120x40")
    ap.add_argument("--bytecode", choices=("cached", "none"), default="cached",
                    help="cached (default): as an installed viz runs, with its modules' bytecode cached (written "
                         "by an untimed first run if missing); none: PYTHONDONTWRITEBYTECODE=1, so viz's own "
                         "modules are compiled from source at every start (Textual's and Rich's come with .pyc)")
    args = ap.parse_args(argv)
    cols, rows = (int(x) for x in args.size.split("x"))
    trace = Path(args.trace).resolve()
    name = trace.name.split(".")[0]
    # the status bar names the run, the timeline shows a lane, the footer offers quit
    markers = [name.encode(), b"outer" if name == "gevent_sleepers" else b"main", b"quit"]
    cached = args.bytecode == "cached"
    first_frame(trace, cols, rows, markers, cached)  # untimed: bytecode and the OS file cache as a user has them
    times = []
    for i in range(args.runs):
        t = first_frame(trace, cols, rows, markers, cached)
        times.append(t)
        print(f"run {i + 1}: first frame after {t:.3f} s")
    print(f"viz show {trace.relative_to(REPO) if trace.is_relative_to(REPO) else trace} at {cols}x{rows}, "
          f"bytecode {args.bytecode}: median {statistics.median(times):.3f} s, min {min(times):.3f} s, "
          f"max {max(times):.3f} s")
    print(f"startup_s={statistics.median(times):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
