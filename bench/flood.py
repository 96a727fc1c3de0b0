"""Flood: the viewer's memory stays bounded while a program floods it with events (issue 4: bounded).

Records bench/programs/flood.py (a gevent program producing EVENTS events as fast as it can: 10 % switch events,
45 % print()ed lines, 45 % lines written straight to fd 1) under Session + Trace.add_many, as `viz record` does,
once per size (default 25 M, then 50 M events: both past the session's 5,000,000-record cap), each recording in a
fresh viewer process so each has its own peak. Reports the viewer's peak RSS (VmHWM), the RSS it started from,
what the trace kept (spans, output lines) and what the session's flood note says was dropped, how the run ended,
and the wall time. Memory is bounded when doubling the flood past the cap leaves the peak within 25 %. With
`--app`, the viewer is the real app on a live run instead (headless, 200x50, as `viz run`): its model, the summary's
running totals, the output panel and the screen.

Last line of stdout: flood_peak_rss_mb=<peak RSS of the viewer at the largest size, MiB>.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, PY, TracedRun, log, median, peak_rss_mb, rss_mb, run_traced, table  # noqa: E402

PROGRAM = PROGRAMS / "flood.py"


def in_app(events: int, timeout: float) -> TracedRun:
    """A live run of the flood in the real app (headless, 200x50), as `viz run` does, until the run ends."""
    import asyncio

    from viz.app.app import VizApp
    from viz.app.run_screen import RunScreen

    run = TracedRun()

    async def go() -> None:
        app = VizApp(run=(str(PROGRAM), "flood", [str(events)], timeout))
        async with app.run_test(size=(200, 50)) as pilot:
            deadline = time.monotonic() + timeout + 60
            while not isinstance(app.screen, RunScreen):
                if time.monotonic() > deadline:
                    raise SystemExit("the app never showed the run screen")
                await pilot.pause(0.01)
            screen = app.screen
            while screen.live and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            run.trace, run.session, run.records = screen.trace, screen.session, screen.trace.changes
            run.exit = run.trace.exit or {}
            await pilot.press("q")
    asyncio.run(go())
    return run


def one(events: int, timeout: float, app: bool = False) -> dict:
    """One recording in this process (the viewer, or the app); returns the figures as a dict."""
    import gc
    gc.collect()
    start_rss, start_peak = rss_mb(), peak_rss_mb()
    t0 = time.perf_counter()
    run = in_app(events, timeout) if app else run_traced(PROGRAM, [events], timeout=timeout)
    wall = time.perf_counter() - t0
    trace = run.trace
    spans = sum(len(lane) for lane in trace.lanes)
    notes = run.notes()
    flood = " ".join(n for n in notes if n.startswith("flood:"))  # one note for records, one for output lines
    dropped_events = _num(r"([\d,]+) later events", flood)
    dropped_lines = _num(r"([\d,]+) later lines", flood)
    s = run.session
    return {
        "events": events, "wall_s": wall, "outcome": run.exit.get("outcome"), "detail": run.exit.get("detail"),
        "records": run.records, "spans": spans, "outputs": len(trace.outputs), "lanes": len(trace.lanes),
        "dropped_events": dropped_events, "dropped_lines": dropped_lines, "flood_note": flood, "notes": notes,
        "session_dropped": s.dropped, "session_dropped_lines": s.dropped_lines,
        "start_rss_mb": start_rss, "start_peak_mb": start_peak, "peak_rss_mb": peak_rss_mb(), "end_rss_mb": rss_mb(),
        "work_s": run.figure(),
    }


def _num(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    return int(m.group(1).replace(",", "")) if m else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `flood_peak_rss_mb=X` (last line).")
    ap.add_argument("--events", type=lambda s: [int(float(x)) for x in s.split(",")], default=[25_000_000, 50_000_000],
                    help="comma-separated flood sizes in events, one recording each (default 25e6,50e6)")
    ap.add_argument("--timeout", type=float, default=150.0,
                    help="stop a recording after this many seconds (default 150); the trace then says timeout")
    ap.add_argument("--app", action="store_true",
                    help="the viewer is the real app (headless, 200x50) on a live run, as `viz run` (its model, "
                         "summary totals, output panel and screen), instead of Session + Trace as `viz record`")
    ap.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)  # internal: one recording, JSON out
    a = ap.parse_args()
    if a.one is not None:
        print(json.dumps(one(int(a.one), a.timeout, a.app)))
        return 0
    viewer = "app" if a.app else "viewer"

    results = []
    for n in a.events:
        log(f"flood: recording {n:,} events in a fresh {viewer} process (timeout {a.timeout:g} s)...")
        p = subprocess.run([PY, __file__, "--one", str(n), "--timeout", str(a.timeout)] + (["--app"] if a.app else []),
                           capture_output=True, timeout=a.timeout + 120)
        if p.returncode != 0:
            raise SystemExit(f"flood recording of {n:,} events failed: {p.stderr.decode(errors='replace')[-2000:]}")
        r = json.loads(p.stdout.decode().strip().splitlines()[-1])
        results.append(r)
        log(f"  {r['outcome']} after {r['wall_s']:.1f} s; {viewer} peak RSS {r['peak_rss_mb']:.0f} MiB "
            f"(started at {r['start_rss_mb']:.0f}); {r['flood_note'] or 'no flood note'}")

    print(f"flood: one recording per size, each in a fresh {viewer} process")
    print(table([[f"{r['events']:,}", r["outcome"], r["wall_s"], r["start_rss_mb"], r["peak_rss_mb"], r["end_rss_mb"],
                  r["records"], r["spans"], r["outputs"], r["dropped_events"], r["dropped_lines"]] for r in results],
                ["events", "outcome", "wall s", "start MiB", "peak MiB", "end MiB", "records kept", "spans",
                 "output lines", "events dropped", "lines dropped"]))
    for r in results:
        print(f"{r['events']:,}: trace note: {r['flood_note'] or '(none)'}")
        if r["outcome"] != "finished":
            print(f"{r['events']:,}: the run ended as {r['outcome']}: {r['detail']}")
        seen = r["records"] + r["dropped_events"] + r["dropped_lines"]
        print(f"{r['events']:,}: the {viewer} accounted for {seen:,} items (records kept + events and lines dropped)")
    peaks = [r["peak_rss_mb"] for r in results]
    bounded = len(peaks) < 2 or peaks[-1] <= peaks[0] * 1.25
    print(f"bounded: {'yes' if bounded else 'NO'} (peak {peaks[0]:.0f} MiB at {results[0]['events']:,} events, "
          f"{peaks[-1]:.0f} MiB at {results[-1]['events']:,})")
    for r in results:
        print(f"{r['events']:,}: {viewer} RSS at the end, over the start, per record kept: "
              f"{(r['end_rss_mb'] - r['start_rss_mb']) * 2**20 / max(r['records'], 1):.0f} bytes")
    print(f"flood_peak_rss_mb={peaks[-1]:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
