"""Export a trace to the Trace Event Format that Perfetto and chrome://tracing open.

One `thread_name` metadata event per task (tid = task id, in lane order), one complete `ph:"X"` slice per span named
after its state with the reason and source line in `args`, one instant `ph:"i"` per output line, all times in
microseconds from the start of the run. Slices of one task never overlap, as the format requires: a slice's
`ts + dur`, added as a reader of the file adds them (in double precision), never passes the next slice's `ts`.

A span that blocks the whole loop is named so ("blocks the whole loop", its own colour in Perfetto), has the category
`blocks_loop` besides the task's kind (to filter on), and `state: "blocked"` and `blocks_loop: true` in its args.

A span with a recorded cause has it in its args (`woken_by`, `cause`); when a task woke it, a flow arrow (`ph:"s"` on
the waker's track, `ph:"f"` on the woken task's, one `id` per pair, both bound to the enclosing slice with `bp:"e"`)
goes from the waker's running slice at the cause's instant (or a nanosecond before that slice's end, when the waker
moved on before the woken task's turn came) to the start of the woken slice.
"""

from __future__ import annotations

import json
import math
import os

from viz.trace.model import Trace
from viz.views.causes import waker_span
from viz.views.cells import LOOP_WORDS

PID = 1


def to_chrome(trace: Trace) -> dict:
    events: list[dict] = [{"ph": "M", "name": "process_name", "pid": PID, "tid": 0,
                           "args": {"name": f"viz: {trace.header.get('target', 'trace')}"}}]
    for order, lane in enumerate(trace.lanes):
        events.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": lane.task, "args": {"name": lane.name}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": lane.task,
                       "args": {"sort_index": order}})
    flows: list[dict] = []
    for lane in trace.lanes:
        for i in range(len(lane)):
            span = trace.span(lane, i)
            args = {"reason": span.reason, "line": span.where or None}
            name, cat = span.state, lane.kind
            if span.blocks_loop:
                name, cat = LOOP_WORDS, f"{lane.kind},blocks_loop"
                args.update(state=span.state, blocks_loop=True)
            cause = trace.cause_of(lane, i)
            if cause is not None:
                by = trace.lane_of(cause.by) if cause.by is not None else None
                args.update(cause=cause.what, woken_by=by.name if by is not None else None)
                if by is not None and by is not lane:
                    flows.extend(_flow(trace, len(flows) // 2 + 1, by, cause, lane, span.start, cause.what))
            events.append({"ph": "X", "name": name, "cat": cat, "pid": PID, "tid": lane.task,
                           "ts": _us(span.start), "dur": _dur(_us(span.start), _us(span.end)), "args": args})
    events.extend(flows)
    for out in trace.outputs:
        events.append({"ph": "i", "s": "t", "name": "output", "pid": PID, "tid": out.task, "ts": _us(out.t),
                       "args": {"text": out.text, "stream": out.stream}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"viz_trace": trace.header.get("viz_trace"), "target": trace.header.get("target")}}


def _flow(trace: Trace, fid: int, waker, cause, woken, start: float, what: str) -> list[dict]:
    """The two ends of a flow from the waker's slice at the cause to the woken slice's start (none when the waker
    has no slice by then)."""
    j = waker_span(trace, waker, cause.t)
    if j is None:
        return []
    ts = _us(waker.starts[j])
    dur = _dur(ts, _us(trace.span_end(waker, j)))
    at = max(ts, min(_us(cause.t), round(ts + dur - 0.001, 3)))  # inside the waker's slice, short of the next one's
    common = {"name": what, "cat": "cause", "id": fid, "pid": PID, "bp": "e"}
    return [{"ph": "s", "tid": waker.task, "ts": at, **common},
            {"ph": "f", "tid": woken.task, "ts": _us(start), **common}]


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
