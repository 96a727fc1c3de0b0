"""How long the compare screen takes to bring its panels to the selected row's run (issue 14: switching lanes must
stay fast).

    python bench/compare_panels.py [--runs 3] [--lanes 1000] [--spans 300000] [--lines 20000] [--repeat 30]

Builds `--runs` synthetic traces (bench/render.py's generator, a different seed per run), each with `--lines`
printed lines spread over its tasks and a source file of 400 lines the spans point into, opens the real compare
screen (`CompareApp`) at `--width` x `--height` and times, per key, what the screen does on the app's thread:

    handler   the key's action: the timeline's selection or playhead, the status line, the panels' show()
              (details, source with the other tasks' marks, output up to the playhead, in the run's own time);
    panels    drawing the panels after it (Widget.render_lines of the details, the source and the output shown);

for four keys:

    lane      ↓ to the next lane of the same run
    run       ↓ from a run's last lane onto the next run's header row (the output view shown switches: one
              OutputView per run, never rebuilt; the layout the switch asks for is Textual's and is not timed)
    header    ↓ from a header row onto its run's first lane
    step      → to the next event of any run (the playhead moves; the panels follow)

Also the cold mount (the app's first frame with every run). The last lines are `<key>_ms=<median handler+panels>`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from textual.geometry import Region  # noqa: E402

from render import RUN_SECONDS, ms, synthetic_trace  # noqa: E402  (bench/render.py: the same synthetic runs)
from viz.app.compare import CompareScreen, CompareTimeline, compare_app  # noqa: E402
from viz.app.compare_panels import ComparePanels, RunDetails  # noqa: E402
from viz.app.source import SourceView  # noqa: E402
from viz.views.compare import Run  # noqa: E402

SOURCE_LINES = 400


def with_output(trace, lines: int, seed: int):
    """The trace with `lines` printed lines at random moments by random tasks, and the source they point into."""
    rnd = random.Random(seed)
    tasks = [lane.task for lane in trace.lanes]
    trace.add({"k": "source", "file": "worker.py",
               "text": "\n".join(f"    result = step_{i}(data)  # line {i + 1}" for i in range(SOURCE_LINES))})
    for t in sorted(rnd.uniform(0, RUN_SECONDS) for _ in range(lines)):
        trace.add({"k": "output", "t": t, "task": rnd.choice(tasks), "stream": "stdout",
                   "text": f"item {rnd.randrange(10 ** 6)} done at {t:.3f}", "file": "worker.py",
                   "line": rnd.randrange(1, SOURCE_LINES)})
    return trace


def draw_panels(screen: CompareScreen) -> None:
    panels = screen.query_one(ComparePanels)
    for widget in (panels.query_one(RunDetails), panels.query_one(SourceView), panels.output):
        widget._styles_cache.clear()
        widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))


async def measure(runs: list[Run], width: int, height: int, repeat: int) -> tuple[float, dict]:
    app = compare_app(runs)
    started = time.perf_counter()
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause()
        mounted = time.perf_counter() - started
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        timeline = screen.query_one(CompareTimeline)
        heads = [i for i, lane in enumerate(timeline.rows) if lane is None]
        results: dict[str, list[tuple[float, float]]] = {"lane": [], "run": [], "header": [], "step": []}
        rnd = random.Random(1)

        def timed(action) -> tuple[float, float]:
            gc.collect()
            t0 = time.perf_counter()
            action()
            t1 = time.perf_counter()
            draw_panels(screen)
            return t1 - t0, time.perf_counter() - t1

        def select(row: int) -> None:
            timeline.select(row)
            screen._sync()
            draw_panels(screen)

        for k in range(repeat):
            r = k % len(runs)
            screen.t = rnd.uniform(0.2, 0.8) * RUN_SECONDS
            head = heads[r]
            last = heads[r + 1] - 1 if r + 1 < len(heads) else len(timeline.rows) - 1
            select(head + 1 + rnd.randrange(last - head - 1))
            results["lane"].append(timed(lambda: screen.action_row(1)))
            if r + 1 < len(heads):
                select(last)
                results["run"].append(timed(lambda: screen.action_row(1)))
            select(head)
            results["header"].append(timed(lambda: screen.action_row(1)))
            results["step"].append(timed(lambda: screen.action_step(1)))
            await pilot.pause()  # let the app draw and settle between samples
    return mounted, results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lanes", type=int, default=1000)
    ap.add_argument("--spans", type=int, default=300_000)
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--width", type=int, default=200)
    ap.add_argument("--height", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)

    t = time.perf_counter()
    runs = [Run(f"run{i + 1}", with_output(synthetic_trace(args.lanes, args.spans, seed=4 + i), args.lines, i))
            for i in range(args.runs)]
    print(f"{args.runs} traces of {args.lanes} lanes, {args.spans:,} spans, {args.lines:,} printed lines each (built "
          f"in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
    mounted, results = asyncio.run(measure(runs, args.width, args.height, args.repeat))
    med = statistics.median
    print(f"compare screen {args.width}x{args.height}, {args.runs} runs: mounted and first frame in {mounted:.2f} s")
    print(f"{'key':<8} {'handler':>8} {'panels':>8} {'total':>8}  (median ms of {args.repeat})")
    for key, samples in results.items():
        handler, panels = med(s[0] for s in samples), med(s[1] for s in samples)
        print(f"{key:<8} {ms(handler):>8.2f} {ms(panels):>8.2f} {ms(med(a + b for a, b in samples)):>8.2f}")
    for key, samples in results.items():
        print(f"{key}_ms={ms(med(a + b for a, b in samples)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
