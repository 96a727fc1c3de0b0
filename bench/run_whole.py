"""`viz run` until the timeline is complete, against a plain run of the same program (issue 18: <= 2.0x).

    python bench/run_whole.py [--rounds 5] [--program FILE ARGS...]

Each round runs the program plainly (`python PROGRAM ARGS`), then the app on a live run of it: a fresh interpreter
that starts the run, imports the app and runs it headless at 200x50 as `viz run` would (Textual's test driver instead of a terminal:
no terminal output is timed), and prints a line the moment the run screen is no longer live, every record of the
run folded into the timeline. Both are timed from just before the spawn: the app's start-up (its imports, Textual's
first screen) counts, as it does for a user. The ratio is taken within each round, and the headline is its median.
Default program: switch_heavy 1,000 x 400 (about a second plain). The table also gives the CPU time of the app's
process and of the processes it waited for (the ingest process, the program) over the plain run's: on 2 cores shared
by three processes, the wall clock follows it.

Last line of stdout: run_whole_over_plain=<median ratio>.
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
import time  # noqa: E402

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, PY, child_env, children_cpu, log, median, table  # noqa: E402

COMPLETE = "timeline complete"


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
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                          text=True, env=child_env()) as proc:
        took = None
        for line in proc.stdout:
            if until is not None and until in line:
                took = time.perf_counter() - start
                proc.stdout.read()
                break
        proc.wait()
        if took is None and (until is not None or proc.returncode):
            raise RuntimeError(f"{' '.join(cmd[:3])}… exited {proc.returncode} without `{until}`")
    return (took if took is not None else time.perf_counter() - start), children_cpu() - cpu


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--timeout", type=float, default=120, help="the live run's time limit (s)")
    p.add_argument("--program", nargs="+", default=[str(PROGRAMS / "switch_heavy.py"), "1000", "400"],
                   metavar=("FILE", "ARGS"))
    p.add_argument("--headless", action="store_true", help=argparse.SUPPRESS)  # the spawned app's side
    a = p.parse_args()
    script, args = a.program[0], a.program[1:]
    if a.headless:
        asyncio.run(_headless(script, args, a.timeout))
        return 0
    app_cmd = [PY, __file__, "--headless", "--timeout", str(a.timeout), "--program", script, *args]
    timed(app_cmd, COMPLETE)  # untimed: bytecode and the OS file cache as a user has them
    plains, wholes, ratios, cpus = [], [], [], []
    for r in range(a.rounds):
        plain, plain_cpu = timed([PY, script, *args])
        whole, whole_cpu = timed(app_cmd, COMPLETE)
        plains.append(plain)
        wholes.append(whole)
        ratios.append(whole / plain)
        cpus.append(whole_cpu / plain_cpu)
        log(f"round {r + 1}/{a.rounds}: plain {plain:.3f} s, viz run until complete {whole:.3f} s: {whole / plain:.2f}x"
            f" (CPU {whole_cpu:.2f} s against {plain_cpu:.2f} s)")
    print(table([["plain run (s), median", f"{median(plains):.3f}"],
                 ["viz run until the timeline is complete (s), median", f"{median(wholes):.3f}"],
                 ["CPU of viz run's processes (the app, the ingest process, the program) over the plain run's, "
                  "median", f"{median(cpus):.2f}x"],
                 ["ratio within a round, median", f"{median(ratios):.2f}x"]], ["figure", "value"]))
    print(f"run_whole_over_plain={median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
