"""How long the timeline takes to draw a frame of a big trace (issue 4: timeline frame <= 8 ms, playhead move <= 2 ms).

    python bench/render.py [--lanes 1000] [--spans 1000000] [--width 200] [--height 50] [--repeat 15]

Builds a synthetic trace in memory through the model API (`Trace.add_many` of task / state / end records: a main
program, the loop, and workers that run briefly, wait in a mix of reasons, get ready, and now and then block the whole
loop), then mounts the real `Timeline` widget alone in an app of `--width` x `--height` (`App.run_test`) and times the
widget's own line path, `Timeline.render_line(y)` for every row of the widget, with its real caches, in four views:

    fit       the whole run (zoomed out: many spans per cell)
    zoom 2x   half the run around its middle
    zoom 64x  1/64 of the run around its middle (a few spans per lane in view)
    scrolled  lanes from ~500 down, 1/8 of the run around its middle

For each view it times
    cold      a frame just after the view changed (every lane strip is new: a pan of a fraction of a cell between
              samples, as a scroll or zoom does), with the lanes' summaries built (they depend only on the data,
              not on the view; the timeline builds them in the background, a few ms at a time, after a frame that
              had to do without);
    first     a cold frame with nothing built yet (a new LanePainter: lanes with summaries still to build are drawn
              from their spans, one bisect per cell edge, and queued for the background build);
    playhead  a frame where only the playhead moved, to the next cell (lane segments cached, the playhead
              spliced in);
    widget    a cold frame through Textual's own per-widget path (`Widget.render_lines`: its styles cache and line
              filters on top of render_line; the compositor and terminal output come after and are not timed);
    ph widget the playhead frame through that same path.

The views take turns sample by sample (a burst of load on a shared machine then hits them alike), and a gc.collect()
runs before each timed frame (so no collection lands inside one). --clock cpu times this thread's CPU instead of
wall time. The table goes to stdout; the last two lines are `playhead_ms=<median>` and `frame_ms=<median>`, the
medians of every playhead / cold sample over all views.
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
if str(REPO) not in sys.path:  # run from a checkout without the package installed
    sys.path.insert(0, str(REPO))

from textual.app import App, ComposeResult  # noqa: E402
from textual.geometry import Region  # noqa: E402

from viz.app.lanes import LanePainter  # noqa: E402
from viz.app.timeline import Timeline  # noqa: E402
from viz.app.timescale import View, fit  # noqa: E402
from viz.trace.format import header  # noqa: E402
from viz.trace.model import Trace  # noqa: E402

RUN_SECONDS = 60.0
WAITS = (  # (reason, weight, mean seconds, blocks the whole loop)
    ("gevent.sleep(0.05)", 30, 0.05, False),
    ("socket.recv()", 25, 0.02, False),
    ("queue.get()", 15, 0.08, False),
    ("Event.wait()", 10, 0.2, False),
    ("lock.acquire()", 8, 0.005, False),
    ("select.select([3, 7])", 6, 0.03, False),
    ("join worker-12", 4, 0.5, False),
    ("time.sleep(0.01)", 2, 0.01, True),   # a call that blocks the whole loop
)


def lane_records(task: int, name: str, kind: str, n: int, created: float, ended: float | None,
                 rnd: random.Random):
    """One task's records: n state changes filling [created, ended or the end of the run]."""
    yield {"k": "task", "t": created, "task": task, "name": name, "kind": kind}
    reasons = [w[0] for w in WAITS]
    weights = [w[1] for w in WAITS]
    info = {w[0]: w for w in WAITS}
    plan = []  # (state, reason, relative length, blocks_loop)
    while len(plan) < n:
        plan.append(("running", None, rnd.expovariate(1 / 0.002), False))
        if len(plan) >= n:
            break
        if rnd.random() < 0.03:
            plan.append(("idle", None, rnd.expovariate(1 / 0.3), False))
        else:
            reason = rnd.choices(reasons, weights)[0]
            _, _, mean, loop = info[reason]
            plan.append(("blocked", reason, rnd.expovariate(1 / mean), loop))
        if len(plan) < n and rnd.random() < 0.6:
            plan.append(("ready", None, rnd.expovariate(1 / 0.001), False))
    plan = plan[:n]
    end = ended if ended is not None else RUN_SECONDS
    scale = (end - created) / sum(p[2] for p in plan)
    t = created
    for state, reason, length, loop in plan:
        rec = {"k": "state", "t": t, "task": task, "state": state, "file": "worker.py", "line": 10 + len(state)}
        if reason:
            rec["reason"] = reason
        if loop:
            rec["blocks_loop"] = True
        yield rec
        t += length * scale
    if ended is not None:
        yield {"k": "end", "t": ended, "task": task}


def synthetic_trace(lanes: int, spans: int, seed: int = 4) -> Trace:
    """`lanes` tasks with `spans` state changes between them (about the same number each, +-50%)."""
    rnd = random.Random(seed)
    trace = Trace(header(target="render-bench", file="worker.py"))
    weights = [rnd.uniform(0.5, 1.5) for _ in range(lanes)]
    total = sum(weights)
    counts = [max(2, int(spans * w / total)) for w in weights]
    counts[0] += spans - sum(counts)
    for i, n in enumerate(counts):
        task = i + 1
        if i == 0:
            name, kind, created, ended = "main", "main", 0.0, RUN_SECONDS
        elif i == 1:
            name, kind, created, ended = "hub", "loop", 0.001, None
        else:
            name, kind = f"worker-{i - 1}", "greenlet"
            created = rnd.uniform(0.0, RUN_SECONDS * 0.3)
            ended = rnd.uniform(RUN_SECONDS * 0.7, RUN_SECONDS) if rnd.random() < 0.3 else None
        trace.add_many(lane_records(task, name, kind, n, created, ended, rnd))
    trace.add({"k": "exit", "t": RUN_SECONDS, "outcome": "finished", "status": 0})
    return trace


class RenderBench(App):
    """The timeline alone, filling the terminal, styled by the app's own stylesheet."""

    CSS_PATH = str(REPO / "viz" / "app" / "app.tcss")

    def __init__(self, trace: Trace):
        super().__init__()
        self.trace = trace

    def compose(self) -> ComposeResult:
        yield Timeline(self.trace, id="timeline")

    def on_mount(self) -> None:
        timeline = self.query_one(Timeline)
        timeline.styles.height = "100%"
        timeline.styles.max_height = "100%"
        timeline.sync()


def ms(seconds: float) -> float:
    return seconds * 1000.0


CLOCK = time.perf_counter


def time_lines(timeline: Timeline, height: int) -> float:
    """One frame the way Textual asks for it: render_line for every row of the widget."""
    render_line = timeline.render_line
    gc.collect()
    t = CLOCK()
    for y in range(height):
        render_line(y)
    return CLOCK() - t


def time_widget(timeline: Timeline) -> float:
    """One frame through Textual's per-widget path (styles cache, then render_line for each dirty row)."""
    region = Region(0, 0, timeline.size.width, timeline.size.height)
    gc.collect()
    t = CLOCK()
    timeline._styles_cache.clear()
    timeline.render_lines(region)
    return CLOCK() - t


def settle(timeline: Timeline) -> None:
    """Build the summaries of the lanes in view, as the timeline's background warm-up does between frames."""
    warm = getattr(timeline.painter, "warm", None)  # (a painter without summaries has nothing to build)
    while warm is not None and warm(1.0):
        pass


async def measure(trace: Trace, width: int, height: int, repeat: int) -> list[dict]:
    """Every kind of frame, `repeat` times per view; the views take turns sample by sample, so a burst of load on a
    shared machine hits them alike."""
    app = RenderBench(trace)
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause()
        timeline = app.query_one(Timeline)
        timeline.fitted = False
        rows = timeline.size.height
        start, end = timeline.time_range()
        whole = fit(start, end, timeline.cells)
        mid = (start + end) / 2

        def around(factor: float) -> View:
            dt = whole.dt / factor
            return View(mid - dt * timeline.cells / 2, dt, timeline.cells)

        views = [("fit", whole, 0), ("zoom 2x", around(2), 0), ("zoom 64x", around(64), 0),
                 ("scrolled", around(8), len(timeline.rows) // 2)]
        results = [{"view": name, "dt": view.dt, "cold": [], "first": [], "widget": [], "playhead": [],
                    "playhead_widget": []} for name, view, top in views]
        samples = iter(range(1, 1 << 30))

        def show(i: int, nudge: bool = True) -> View:
            """View i, panned by a new fraction of a cell unless nudge is False (then exactly the view)."""
            _, view, top = views[i]
            timeline.scroll_to(y=top, animate=False, immediate=True)
            results[i]["top"] = int(timeline.scroll_y)
            timeline.view = nudged(view, next(samples)) if nudge else view
            return view

        def ready() -> None:
            """Every view drawn once and its lanes' summaries built."""
            for i in range(len(views)):
                show(i)
                time_lines(timeline, rows)
                settle(timeline)

        ready()
        for _ in range(max(3, repeat // 3)):
            for i in range(len(views)):
                timeline.painter = LanePainter(trace)
                show(i)
                results[i]["first"].append(time_lines(timeline, rows))
        ready()
        for k in range(repeat):
            for i in range(len(views)):
                show(i)
                results[i]["cold"].append(time_lines(timeline, rows))
                show(i)
                results[i]["widget"].append(time_widget(timeline))
                view = show(i, nudge=False)
                x = view.width // 3 + k % 40
                timeline.set_playhead(view.time_at(x))
                time_lines(timeline, rows)  # lane strips cached with the playhead at x
                timeline.set_playhead(view.time_at(x + 1))
                results[i]["playhead"].append(time_lines(timeline, rows))
                timeline.set_playhead(view.time_at(x + 2))
                results[i]["playhead_widget"].append(time_widget(timeline))
    return results


def nudged(view: View, k: int) -> View:
    """The same zoom panned by a fraction of a cell (a different one for each k): every lane strip is new, the lanes'
    summaries are not."""
    return View(view.t0 + view.dt * ((k * 0.1373) % 1.0), view.dt, view.width)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lanes", type=int, default=1000)
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--width", type=int, default=200)
    ap.add_argument("--height", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: perf_counter (default); cpu: this thread's CPU time, steadier on a busy machine")
    args = ap.parse_args(argv)
    global CLOCK
    CLOCK = time.perf_counter if args.clock == "wall" else time.thread_time

    t = time.perf_counter()
    trace = synthetic_trace(args.lanes, args.spans)
    built = time.perf_counter() - t
    n = sum(len(lane) for lane in trace.lanes)
    print(f"trace: {len(trace.lanes)} lanes, {n} spans, {trace.duration:.0f} s run (built in {built:.1f} s)")
    results = asyncio.run(measure(trace, args.width, args.height, args.repeat))

    med = statistics.median
    print(f"timeline {args.width}x{args.height}, median ms ({args.clock} clock) of {args.repeat} frames "
          "(first: new LanePainter)")
    print(f"{'view':<10} {'top lane':>8} {'s/cell':>10} {'cold':>7} {'first':>7} {'widget':>7} {'playhead':>8}"
          f" {'ph widget':>9}")
    for r in results:
        print(f"{r['view']:<10} {r['top']:>8} {r['dt']:>10.3g} {ms(med(r['cold'])):>7.2f} {ms(med(r['first'])):>7.2f}"
              f" {ms(med(r['widget'])):>7.2f} {ms(med(r['playhead'])):>8.2f} {ms(med(r['playhead_widget'])):>9.2f}")
    cold = [x for r in results for x in r["cold"]]
    playhead = [x for r in results for x in r["playhead"]]
    print(f"worst view: cold {max(ms(med(r['cold'])) for r in results):.2f} ms, "
          f"first {max(ms(med(r['first'])) for r in results):.2f} ms, "
          f"playhead {max(ms(med(r['playhead'])) for r in results):.2f} ms")
    print(f"playhead_ms={ms(med(playhead)):.2f}")
    print(f"frame_ms={ms(med(cold)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
