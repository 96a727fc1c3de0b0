"""How long the compare screen's timeline takes to draw three big runs on one axis (issue 14: frame <= 8 ms at 200x50,
playhead move <= 2 ms).

    python bench/compare.py [--runs 3] [--lanes 1000] [--spans 1000000] [--width 200] [--height 50] [--repeat 15]

Builds `--runs` synthetic traces of `--spans` spans each (bench/render.py's generator, a different seed per run, so
the runs differ as real ones do), mounts the real `CompareTimeline` alone in an app of `--width` x `--height` and
times its own line path, `render_line(y)` for every row, with its real caches, in four views of the shared axis:

    fit       every run whole
    zoom 2x   half of it around the middle
    zoom 64x  1/64 of it around the middle
    scrolled  rows from the middle run's first lanes down, 1/8 around the middle (a run header among the rows)

as in bench/render.py: `cold` a frame just after the view moved by a fraction of a cell (every lane strip new, the
lanes' summaries built), `first` a cold frame with new painters (nothing built), `playhead` a frame where only the
playhead moved to the next cell. Also how long making the runs' verdicts (the headers and the table) took. The last
two lines are `playhead_ms=<median>` and `frame_ms=<median>` over every view.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from textual.app import App, ComposeResult  # noqa: E402

import render  # noqa: E402  (bench/render.py: the same synthetic runs, frames timed the same way)
from render import ms, nudged, synthetic_trace, time_lines  # noqa: E402
from viz.app.compare import CompareTimeline  # noqa: E402
from viz.app.lanes import LanePainter  # noqa: E402
from viz.app.timescale import View, fit  # noqa: E402
from viz.views.compare import Run, comparison_tables  # noqa: E402



class CompareBench(App):
    """The compare timeline alone, filling the terminal, styled by the app's own stylesheet."""

    CSS_PATH = str(REPO / "viz" / "app" / "app.tcss")

    def __init__(self, runs: list[Run]):
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        yield CompareTimeline(self.runs, id="compare-timeline")

    def on_mount(self) -> None:
        timeline = self.query_one(CompareTimeline)
        timeline.styles.height = "100%"
        timeline.styles.max_height = "100%"
        timeline.sync()


def settle(timeline: CompareTimeline) -> None:
    """Build the summaries of the lanes drawn, as the timeline's background warm-up does between frames."""
    for painter in timeline.painters:
        while painter.warm(1.0):
            pass


async def measure(runs: list[Run], width: int, height: int, repeat: int) -> list[dict]:
    app = CompareBench(runs)
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause()
        timeline = app.query_one(CompareTimeline)
        timeline.fitted = False
        rows = timeline.size.height
        start, end = timeline.time_range()
        whole = fit(start, end, timeline.cells)
        mid = (start + end) / 2
        middle_run = timeline.row_run.index(len(runs) // 2)

        def around(factor: float) -> View:
            dt = whole.dt / factor
            return View(mid - dt * timeline.cells / 2, dt, timeline.cells)

        views = [("fit", whole, 0), ("zoom 2x", around(2), 0), ("zoom 64x", around(64), 0),
                 ("scrolled", around(8), max(0, middle_run - 5))]
        results = [{"view": name, "dt": view.dt, "cold": [], "first": [], "playhead": []} for name, view, _ in views]
        samples = iter(range(1, 1 << 30))

        def show(i: int, nudge: bool = True) -> View:
            _, view, top = views[i]
            timeline.scroll_to(y=top, animate=False, immediate=True)
            results[i]["top"] = int(timeline.scroll_y)
            timeline.view = nudged(view, next(samples)) if nudge else view
            return view

        def ready() -> None:
            for i in range(len(views)):
                show(i)
                time_lines(timeline, rows)
                settle(timeline)

        ready()
        for _ in range(max(3, repeat // 3)):
            for i in range(len(views)):
                timeline.painters = [LanePainter(run.trace) for run in runs]
                show(i)
                results[i]["first"].append(time_lines(timeline, rows))
        ready()
        for k in range(repeat):
            for i in range(len(views)):
                show(i)
                results[i]["cold"].append(time_lines(timeline, rows))
                view = show(i, nudge=False)
                x = view.width // 3 + k % 40
                timeline.set_playhead(view.time_at(x))
                time_lines(timeline, rows)  # lane strips cached with the playhead at x
                timeline.set_playhead(view.time_at(x + 1))
                results[i]["playhead"].append(time_lines(timeline, rows))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lanes", type=int, default=1000)
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--width", type=int, default=200)
    ap.add_argument("--height", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: perf_counter (default); cpu: this thread's CPU time, steadier on a busy machine")
    args = ap.parse_args(argv)
    render.CLOCK = time.perf_counter if args.clock == "wall" else time.thread_time  # what time_lines reads

    t = time.perf_counter()
    traces = [synthetic_trace(args.lanes, args.spans, seed=4 + i) for i in range(args.runs)]
    built = time.perf_counter() - t
    print(f"{args.runs} traces of {args.lanes} lanes, {args.spans:,} spans each (built in {built:.1f} s)",
          file=sys.stderr)
    t = time.perf_counter()
    runs = [Run(f"run{i + 1}", trace) for i, trace in enumerate(traces)]
    comparison_tables(runs)
    judged = time.perf_counter() - t
    results = asyncio.run(measure(runs, args.width, args.height, args.repeat))

    med = statistics.median
    print(f"verdicts and comparison table of {args.runs} runs: {judged:.2f} s")
    print(f"compare timeline {args.width}x{args.height}, {args.runs} runs, median ms ({args.clock} clock) of "
          f"{args.repeat} frames (first: new LanePainters)")
    print(f"{'view':<10} {'top row':>8} {'s/cell':>10} {'cold':>7} {'first':>7} {'playhead':>8}")
    for r in results:
        print(f"{r['view']:<10} {r['top']:>8} {r['dt']:>10.3g} {ms(med(r['cold'])):>7.2f} {ms(med(r['first'])):>7.2f}"
              f" {ms(med(r['playhead'])):>8.2f}")
    cold = [x for r in results for x in r["cold"]]
    playhead = [x for r in results for x in r["playhead"]]
    print(f"worst view: cold {max(ms(med(r['cold'])) for r in results):.2f} ms, "
          f"playhead {max(ms(med(r['playhead'])) for r in results):.2f} ms")
    print(f"playhead_ms={ms(med(playhead)):.2f}")
    print(f"frame_ms={ms(med(cold)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
