"""Export a trace to the Trace Event Format that Perfetto and chrome://tracing open.

One `thread_name` metadata event per task (tid = task id, in lane order), one complete `ph:"X"` slice per span named
after its state with the reason and source line in `args`, one instant `ph:"i"` per output line, all times in
microseconds from the start of the run. Slices of one task never overlap, as the format requires: a slice's
`ts + dur`, added as a reader of the file adds them (in double precision), never passes the next slice's `ts`.

A span that blocks the whole loop is named so ("blocks the whole loop", its own colour in Perfetto), has the category
`blocks_loop` besides the task's kind (to filter on), and `state: "blocked"` and `blocks_loop: true` in its args.
"""

from __future__ import annotations

import json
import math
import os

from viz.trace.model import Trace
from viz.views.cells import LOOP_WORDS

PID = 1


def to_chrome(trace: Trace) -> dict:
    events: list[dict] = [{"ph": "M", "name": "process_name", "pid": PID, "tid": 0,
                           "args": {"name": f"viz: {trace.header.get('target', 'trace')}"}}]
    for order, lane in enumerate(trace.lanes):
        events.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": lane.task, "args": {"name": lane.name}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": lane.task,
                       "args": {"sort_index": order}})
    for lane in trace.lanes:
        for i in range(len(lane)):
            span = trace.span(lane, i)
            args = {"reason": span.reason, "line": span.where or None}
            name, cat = span.state, lane.kind
            if span.blocks_loop:
                name, cat = LOOP_WORDS, f"{lane.kind},blocks_loop"
                args.update(state=span.state, blocks_loop=True)
            events.append({"ph": "X", "name": name, "cat": cat, "pid": PID, "tid": lane.task,
                           "ts": _us(span.start), "dur": _dur(_us(span.start), _us(span.end)), "args": args})
    for out in trace.outputs:
        events.append({"ph": "i", "s": "t", "name": "output", "pid": PID, "tid": out.task, "ts": _us(out.t),
                       "args": {"text": out.text, "stream": out.stream}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"viz_trace": trace.header.get("viz_trace"), "target": trace.header.get("target")}}


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 3)


def _dur(ts: float, end: float) -> float:
    """The largest duration that, added to `ts`, does not pass `end` (a plain difference can overshoot by an ulp)."""
    dur = max(end - ts, 0.0)
    while dur > 0 and ts + dur > end:
        dur = math.nextafter(dur, 0.0)
    return dur


def export(trace: Trace, path: str | os.PathLike) -> int:
    """Write the export; returns the number of events."""
    doc = to_chrome(trace)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    return len(doc["traceEvents"])
