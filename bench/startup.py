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
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 20.0


def first_frame(trace: Path, cols: int, rows: int, markers: list[bytes], bytecode: bool) -> float:
    """Seconds from spawning `viz show` to the first frame that holds every marker."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", COLUMNS=str(cols), LINES=str(rows))
    env.pop("TEXTUAL", None)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "viz", "show", str(trace)], stdin=slave, stdout=slave,
                            stderr=slave, cwd=REPO, env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    elapsed = None
    try:
        while time.perf_counter() - start < TIMEOUT:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if all(m in seen for m in markers):
                elapsed = time.perf_counter() - start
                break
        if elapsed is None:
            tail = seen[-400:].decode("utf-8", "replace")
            raise RuntimeError(f"no first frame within {TIMEOUT:.0f} s (exit {proc.poll()}); last output: {tail!r}")
        os.write(master, b"q")
        deadline = time.perf_counter() + 10
        while proc.poll() is None and time.perf_counter() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 1 << 16)  # keep draining so the app never blocks on a full terminal
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)
    return elapsed


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
