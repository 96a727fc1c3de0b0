"""The whole `viz record` and `viz run` until the timeline is complete, against a plain run (issue 18: <= 2.0x).

    python bench/run_whole.py [--rounds 5] [--seconds 1.0 | --program FILE ARGS...]

Issue 18 asks for both commands within 2.0x of the plain program on gevent switch-heavy code that runs about a second
on its own. By default the program is switch_heavy with 1,000 greenlets, its number of `sleep(0)` calls each chosen
first so that a plain run takes about --seconds on this machine (two plain runs, of 100 and 300 calls, give the fixed
cost and the cost per call; a third, of the count chosen, checks it); `--program FILE ARGS` runs another program as
it is.

Each round runs, in an order that rotates: the program plainly (`python PROGRAM ARGS`); `viz record --no-color
--width 80 PROGRAM -- ARGS`, the whole command with its report, as bench/peers.py runs it; and the app on a live run
of it, as `viz run` would: a fresh interpreter that starts the run, imports the app and runs it headless at 200x50
(Textual's test driver instead of a terminal: no terminal output is timed), and prints a line the moment the run
screen is no longer live, every record of the run folded into the timeline. Each is timed from just before its spawn:
start-up counts, as it does for a user. Ratios are taken within each round; the headlines are their medians. The table
also gives the CPU time of each command's processes (for `viz run`: the app, the ingest process, the program) over the
plain run's: on 2 cores shared by three processes, the wall clock follows it.

Last lines of stdout: record_whole_over_plain=<median ratio>, then run_whole_over_plain=<median ratio>.
"""

from __future__ import annotations

import sys

INGEST = None
if __name__ == "__main__" and "--headless" in sys.argv:  # the spawned app's side: as viz.cli does for `viz run`,
    from viz.ingest.launch import IngestProcess       # the ingest process starts first thing (viz's bytecode
    INGEST = IngestProcess()                           # cached, as `viz run` has it: child_env)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, PY, child_env, children_cpu, log, median, table  # noqa: E402

COMPLETE = "timeline complete"
GREENLETS = 1000  # the default program: switch_heavy with this many greenlets, its sleeps calibrated (--seconds)


async def _headless(script: str, args: list[str], timeout: float) -> None:
    """In the spawned interpreter: the app on a live run, until the run screen is no longer live. As `viz run`
    (viz.cli, viz.app.run_target) does, the ingest process starts first, and the run before Textual and the app are
    imported."""
    sys.dont_write_bytecode = False  # viz's bytecode cached, as `viz run` has it; bench/'s modules are imported
    from viz.app.feed import LiveFeed
    from viz.ingest.session import Session

    feed = LiveFeed(Session(script, args, name="bench", timeout=timeout)).start(INGEST)
    from viz.app.app import VizApp
    from viz.app.run_screen import RunScreen

    app = VizApp(run=(script, "bench", args, timeout), feed=feed)
    async with app.run_test(size=(200, 50)) as pilot:
        while not isinstance(app.screen, RunScreen):
            await pilot.pause(0.005)
        while app.screen.live:
            await asyncio.sleep(0.005)
        print(COMPLETE, flush=True)
        await pilot.press("q")


def timed(cmd: list[str], until: str | None = None) -> tuple[float, float]:
    """Seconds from the spawn to the process's end, or to its first stdout line containing `until`; and the CPU
    seconds of the process and the processes it waited for (the ingest process, the program), to its end."""
    start, cpu = time.perf_counter(), children_cpu()
    with tempfile.TemporaryFile() as err, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                                           stdin=subprocess.DEVNULL, text=True,
                                                           env=child_env()) as proc:
        took = None
        for line in proc.stdout:
            if until is not None and until in line:
                took = time.perf_counter() - start
                proc.stdout.read()
                break
        proc.wait()
        if took is None and (until is not None or proc.returncode):
            err.seek(0)
            said = err.read().decode(errors="replace").strip()[-1500:]
            raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode}"
                               + (f" without `{until}`" if until else "") + (f":\n{said}" if said else ""))
    return (took if took is not None else time.perf_counter() - start), children_cpu() - cpu


def calibrated(seconds: float) -> list[str]:
    """switch_heavy's arguments for a plain run of about `seconds` on this machine: the fixed cost (the interpreter,
    gevent's import) and the cost per sleep call from plain runs of 100 and 300 calls (the faster of two each), the
    line fitted again once through a run of the count it gives if that run is off by more than a fifth."""
    program = str(PROGRAMS / "switch_heavy.py")

    def plain(sleeps: int) -> float:
        return min(timed([PY, program, str(GREENLETS), str(sleeps)])[0] for _ in range(2))

    def fit(n0: int, t0: float, n1: int, t1: float) -> int:
        if t1 - t0 < 0.2 * t0 * (n1 - n0) / n0:  # the runs did not grow with their sleeps: the machine is too noisy
            raise SystemExit(f"run_whole: cannot calibrate: plain runs of {t0:.3f} s ({n0} sleeps) and {t1:.3f} s "
                             f"({n1}); try again, or give --program")
        return int(round(n0 + (seconds - t0) * (n1 - n0) / (t1 - t0), -1))

    low, high = plain(100), plain(300)
    sleeps = fit(100, low, 300, high)
    if sleeps < 10:
        raise SystemExit(f"run_whole: a plain run of 100 sleeps takes {low:.3f} s: --seconds {seconds:g} is too short")
    took = plain(sleeps)
    if not 0.8 <= took / seconds <= 1.2:
        sleeps = max(10, fit(100, low, sleeps, took))
        took = plain(sleeps)
    log(f"calibrated: plain runs of {low:.3f} s (100 sleeps) and {high:.3f} s (300): {sleeps} sleeps each, "
        f"{took:.3f} s for about {seconds:g} s")
    return [program, str(GREENLETS), str(sleeps)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--timeout", type=float, default=120, help="the live run's time limit (s)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--seconds", type=float, default=1.0,
                       help="the default program's plain run time to aim for (s; default 1.0, as issue 18 asks)")
    which.add_argument("--program", nargs="+", metavar=("FILE", "ARGS"),
                       help="run this program as it is instead (default: switch_heavy, calibrated)")
    p.add_argument("--headless", action="store_true", help=argparse.SUPPRESS)  # the spawned app's side
    a = p.parse_args()
    if a.headless and not a.program:
        p.error("--headless needs --program")
    if a.headless:
        asyncio.run(_headless(a.program[0], a.program[1:], a.timeout))
        return 0
    program = a.program or calibrated(a.seconds)
    script, args = program[0], program[1:]
    commands = {
        "plain": ([PY, script, *args], None),
        "viz record": ([PY, "-m", "viz", "record", "--no-color", "--width", "80", script, "--", *args], None),
        "viz run": ([PY, __file__, "--headless", "--timeout", str(a.timeout), "--program", script, *args],
                    COMPLETE),
    }
    for name in ("viz record", "viz run"):  # untimed: bytecode and the OS file cache as a user has them
        timed(*commands[name])
    walls = {name: [] for name in commands}
    cpus = {name: [] for name in commands}
    names = list(commands)
    for r in range(a.rounds):
        for name in names[r % 3:] + names[:r % 3]:
            wall, cpu = timed(*commands[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
        log(f"round {r + 1}/{a.rounds}: plain {walls['plain'][-1]:.3f} s, viz record {walls['viz record'][-1]:.3f} s "
            f"({walls['viz record'][-1] / walls['plain'][-1]:.2f}x), viz run until complete "
            f"{walls['viz run'][-1]:.3f} s ({walls['viz run'][-1] / walls['plain'][-1]:.2f}x)")

    def ratio(name: str, of=walls) -> float:
        return median([x / y for x, y in zip(of[name], of["plain"])])

    print(f"program: {' '.join([Path(script).name, *args])}")
    print(table([["plain run (s), median", f"{median(walls['plain']):.3f}"],
                 ["viz record, the whole command (s), median", f"{median(walls['viz record']):.3f}"],
                 ["viz run until the timeline is complete (s), median", f"{median(walls['viz run']):.3f}"],
                 ["CPU of viz record's processes over the plain run's, median", f"{ratio('viz record', cpus):.2f}x"],
                 ["CPU of viz run's processes (the app, the ingest process, the program) over the plain run's, "
                  "median", f"{ratio('viz run', cpus):.2f}x"],
                 ["viz record: ratio within a round, median", f"{ratio('viz record'):.2f}x"],
                 ["viz run: ratio within a round, median", f"{ratio('viz run'):.2f}x"]], ["figure", "value"]))
    print(f"record_whole_over_plain={ratio('viz record'):.2f}")
    print(f"run_whole_over_plain={ratio('viz run'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
