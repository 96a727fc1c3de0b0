"""Live run in the app: records per second into the viewer's model while a key press still reaches the screen fast.

Runs the real app (VizApp, headless, 200x50) on a live recording of a program that streams records as fast as it
can, exactly as `viz run` does: the ingest process decodes and derives, the screen folds the records into the trace
and redraws. Every 0.2 s the benchmark sends a key (`+` then `-`: zoom in and out, which redraws the whole timeline)
through the app's driver, as a terminal would, and times it from the key's arrival to the first timeline line
drawn after the zoom action ran: the latency a user feels. Median of >= 5 live runs.

With `--program replay`, the app reads the raw event bytes of one real recording from a stand-in child that writes
them as fast as the pipe takes them (programs/replay_events.py): the same records, the same app, but no traced
program setting the pace, so the figure is the app's own capacity.

Figures: records/s into the model (first record to the last, all of the run's records), key-to-screen latency
(median, 90th percentile and worst over all presses), the program's work time against an untraced run of it, and
the app process's peak RSS (the model, the summary's running totals and the screen of the largest run).

Last line of stdout: live_records_per_s=<median records/s>; the lines before: key_ms_worst=, key_ms_p90= (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from unittest import mock

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import (PROGRAMS, Session, find_figure, log, median, min_runs, peak_rss_mb, rss_mb, run_plain,  # noqa: E402
                     run_traced, table)

from textual import events  # noqa: E402

from viz.app.app import VizApp  # noqa: E402
from viz.app.feed import LiveFeed  # noqa: E402
from viz.app.run_screen import RunScreen  # noqa: E402
from viz.app.timeline import Timeline  # noqa: E402
from viz.app.tuning import release_memory  # noqa: E402

TARGET_RATE = 500_000
TARGET_KEY_MS = 100.0
PROGRAMS_BY_NAME = {"switch": (PROGRAMS / "switch_heavy.py", ["1000", "300"]),
                    "flood": (PROGRAMS / "flood.py", ["2000000", "100", "0"]),
                    "replay": (PROGRAMS / "switch_heavy.py", ["1000", "300"])}
REPLAYER = PROGRAMS / "replay_events.py"


class KeepEvents(Session):
    """A Session that keeps the raw bytes its child writes to the event pipe."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.event_bytes: list[bytes] = []

    def _read(self, what, data, records, at=0.0):
        if what == "events" and data:
            self.event_bytes.append(data)
        super()._read(what, data, records, at)


def replaying(events_file: str):
    """Live runs read `events_file` from a stand-in child (programs/replay_events.py) instead of the recorder."""
    return mock.patch.object(LiveFeed, "child", [sys.executable, str(REPLAYER), "{fd}", events_file])


class Probe:
    """Times of the zoom actions and of the timeline's drawn lines (the hooks the benchmark installs)."""

    def __init__(self) -> None:
        self.actions: list[float] = []
        self.draws: list[float] = []
        self.keys: list[tuple[float, float]] = []  # (sent, drawn) of each timed key


class Explainer:
    """--explain: what the app's thread was doing while a slow key waited (Textual's layouts and paints, the
    screen's folding and redraw ticks, the collector), printed to stderr after each run. Private Textual methods
    are timed here, in the benchmark only: the app itself uses Textual's public API."""

    WATCHED = [("textual.screen", "Screen", "_refresh_layout", "layout"),
               ("textual.screen", "Screen", "_compositor_refresh", "paint"),
               ("viz.app.run_screen", "RunScreen", "on_records_waiting", "fold records"),
               ("viz.app.feed", "LiveFeed", "take", "  of which: frames unpickled"),
               ("viz.trace.model", "Trace", "flush", "  of which: lanes' columns written"),
               ("viz.trace.totals", "Totals", "catch_up", "  of which: summary totals caught up"),
               ("viz.app.run_screen", "RunScreen", "_live_tick", "live redraw tick"),
               ("viz.app.run_screen", "RunScreen", "user_input", "key seen by the app")]

    def __init__(self, slower_than_ms: float) -> None:
        import gc
        import importlib

        self.threshold = slower_than_ms / 1e3
        self.spans: list[tuple[float, float, str]] = []
        for module, cls_name, name, label in self.WATCHED:
            cls = getattr(importlib.import_module(module), cls_name)
            setattr(cls, name, self._timed(getattr(cls, name), label))
        started = [0.0]

        def collector(phase, info):
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                self.spans.append((started[0], time.perf_counter(),
                                   f"gc generation {info['generation']} ({info['collected']} collected)"))
        gc.callbacks.append(collector)

    def _timed(self, fn, label):
        spans = self.spans

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spans.append((t, time.perf_counter(), label))
        return timed

    def report(self, keys: list[tuple[float, float]]) -> None:
        for sent, drawn in keys:
            if drawn - sent < self.threshold:
                continue
            log(f"    key took {(drawn - sent) * 1e3:.0f} ms; the app's thread meanwhile (ms from the key):")
            for a, b, label in sorted(self.spans):
                if b > sent - 0.05 and a < drawn and (b - a > 0.003 or label.startswith(("gc", "key"))):
                    log(f"      {(a - sent) * 1e3:7.1f} +{(b - a) * 1e3:6.1f}  {label}")
        self.spans.clear()


def install(probe: Probe) -> None:
    zoom, render_line = RunScreen.action_zoom, Timeline.render_line

    def action_zoom(self, factor):
        probe.actions.append(time.perf_counter())
        return zoom(self, factor)

    def timed_render_line(self, y):
        if y == 0:
            probe.draws.append(time.perf_counter())
        return render_line(self, y)

    RunScreen.action_zoom, Timeline.render_line = action_zoom, timed_render_line


async def one_run(script: str, args: list[str], probe: Probe, timeout: float) -> dict:
    app = VizApp(run=(script, "bench", args, timeout))
    latencies: list[float] = []
    to_action: list[float] = []  # the part of each latency before the zoom action ran
    async with app.run_test(size=(200, 50)) as pilot:
        deadline = time.monotonic() + timeout + 30
        while not isinstance(app.screen, RunScreen):
            await pilot.pause(0.01)
        screen: RunScreen = app.screen
        trace = screen.trace
        first = None
        n = 0
        while screen.live and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if first is None and trace.changes:
                first = (time.perf_counter(), trace.changes)
                continue  # keys are timed from the next round on: records are flowing and on screen by then
            if not screen.live or first is None:
                continue
            key = "plus" if n % 2 == 0 else "minus"
            n += 1
            actions = len(probe.actions)
            sent = time.perf_counter()
            app._driver.send_message(events.Key(key, "+" if key == "plus" else "-"))
            while time.monotonic() < deadline:  # the zoom action ran, then the timeline drew its first line again
                await asyncio.sleep(0.002)
                if len(probe.actions) > actions:
                    acted = probe.actions[actions]
                    drawn = [t for t in probe.draws if t >= acted]
                    if drawn:
                        probe.keys.append((sent, drawn[0]))
                        latencies.append(drawn[0] - sent)
                        to_action.append(acted - sent)
                        break
            del probe.draws[:-1]
        last = time.perf_counter()
        if first is None:
            first = (last, 0)
        records = trace.changes
        outcome = (trace.exit or {}).get("outcome")
        await pilot.press("q")
    work = find_figure("\n".join(o.text for o in trace.outputs), r"work_s=([0-9.]+)")
    return {"records": records, "rate": (records - first[1]) / (last - first[0]) if last > first[0] else 0.0,
            "latencies": latencies, "to_action": to_action, "outcome": outcome, "work": work}


def rounds(a: argparse.Namespace, script, args: list[str], probe: Probe,
           explainer: Explainer | None = None) -> tuple[list, ...]:
    rates, latencies, to_action, records, ratios = [], [], [], [], []
    for r in range(a.runs):
        probe.keys.clear()
        plain = run_plain(script, args, timeout=a.timeout).figure() if a.program != "replay" else None
        got = asyncio.run(one_run(str(script), args, probe, a.timeout))
        release_memory()  # as the app does when the user goes back to the picker: each run's peak is its own
        rates.append(got["rate"])
        records.append(got["records"])
        latencies += got["latencies"]
        to_action += got["to_action"]
        if got["work"] and plain:
            ratios.append(got["work"] / plain)
        worst = max(got["latencies"], default=float("nan")) * 1e3
        log(f"  run {r + 1}/{a.runs}: {got['records']:,} records, {got['rate']:,.0f}/s into the model, "
            f"{len(got['latencies'])} key presses, worst {worst:.0f} ms; outcome {got['outcome']}")
        if explainer is not None:
            explainer.report(probe.keys)
    return rates, latencies, to_action, records, ratios


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table, key_ms_p90=, key_ms_worst= and "
                                        "live_records_per_s= (last line).")
    ap.add_argument("--program", choices=sorted(PROGRAMS_BY_NAME), default="switch",
                    help="switch: 1,000 greenlets x 300 gevent.sleep(0) (default); flood: 2 M switches; replay: the "
                         "event bytes of one recording of switch, written to the app by a stand-in child as fast as "
                         "it reads them (the app's own capacity, whatever the program's speed)")
    ap.add_argument("--runs", type=min_runs, default=5, help="live runs, >= 5 (default 5)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-run timeout in seconds (default 120)")
    ap.add_argument("--explain", type=float, metavar="MS",
                    help="for each key slower than MS, print what the app's thread did while it waited (layouts, "
                         "paints, folding, redraw ticks, the collector)")
    a = ap.parse_args()
    script, args = PROGRAMS_BY_NAME[a.program]
    probe = Probe()
    install(probe)
    explainer = Explainer(a.explain) if a.explain is not None else None
    label = f"{script.name} {' '.join(args)}"
    with contextlib.ExitStack() as stack:
        if a.program == "replay":
            log(f"replay: recording {label} once for its raw event bytes")
            kept = run_traced(script, args, timeout=a.timeout, session_class=KeepEvents, keep_trace=False)
            fd, events_file = tempfile.mkstemp(prefix="viz-bench-events-")
            stack.callback(os.unlink, events_file)
            with os.fdopen(fd, "wb") as f:
                f.write(b"".join(kept.session.event_bytes))
            log(f"  {kept.records:,} records, {os.path.getsize(events_file) / 1e6:.1f} MB of event bytes")
            stack.enter_context(replaying(events_file))
            label += ", replayed by a stand-in child"
        log(f"live: {label} in the app (headless, 200x50), {a.runs} runs")
        rss_before = rss_mb()
        rates, latencies, to_action, records, ratios = rounds(a, script, args, probe, explainer)
    worst_ms = max(latencies, default=float("nan")) * 1e3
    median_ms = median(latencies) * 1e3
    p90_ms = sorted(latencies)[int(0.9 * len(latencies))] * 1e3 if latencies else float("nan")
    rate = median(rates)
    print(f"live run in the app: {label}, median of {a.runs} runs")
    print(table([
        ["records into the model per second", rate, f">= {TARGET_RATE:,}",
         "met" if rate >= TARGET_RATE else f"MISSED by {1 - rate / TARGET_RATE:.0%}"],
        ["records per run", median(records), "", ""],
        ["key to screen, median (ms)", median_ms, "", ""],
        ["  of which key to zoom action, median (ms)", median(to_action) * 1e3, "", "the rest: redraw"],
        ["key to screen, 90th percentile (ms)", p90_ms, f"<= {TARGET_KEY_MS:g}",
         "met" if p90_ms <= TARGET_KEY_MS else "MISSED"],
        ["key to screen, worst of all (ms)", worst_ms, f"<= {TARGET_KEY_MS:g}",
         "met" if worst_ms <= TARGET_KEY_MS else "MISSED"],
        ["key presses timed", len(latencies), "", ""],
        ["program work traced / untraced", median(ratios) if ratios else "-", "", "information"],
        ["app's peak RSS, largest run (MiB)", peak_rss_mb(), "", f"information (from {rss_before:.0f} MiB)"],
    ], ["figure", "value", "target", ""]))
    print(f"key_ms_p90={p90_ms:.1f}")
    print(f"key_ms_worst={worst_ms:.1f}")
    print(f"live_records_per_s={rate:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
