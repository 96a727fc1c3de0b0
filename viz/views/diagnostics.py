"""Diagnostics in plain language: what went wrong in a run, where in the code, when, and what to do about it.

Derived from the trace model alone (no Textual, no gevent), so `viz record`, `viz show --text`, `--json` and the app
show the same findings. Each finding is tied to a task, a moment and a source line, and suggests a fix:

- loop-blocked: a call held a whole event loop (gevent's hub or asyncio's loop) for at least `loop-blocked` ms; it
  names the tasks it starved (ready meanwhile) and for how long;
- long-run: a task of a loop ran at least `long-run` ms without giving the loop back;
- lock-contention: threads waited at least `lock-contention` ms in total for one lock;
- starved: a task was ready for at least `starved` ms and nobody blocked the loop meanwhile;
- serial-io: tasks of a loop did their I/O strictly one after another (none overlapping), at least `serial-io` ms
  in total, although a loop could overlap it.
Thresholds are in milliseconds (`THRESHOLDS`, viz.views.thresholds); each can be changed.
"""

from __future__ import annotations

import os
import re
from array import array
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import compress, count
from operator import sub

from viz.trace.model import BLOCKED, LOOP_KIND, READY, Lane, Span, Trace
from viz.views.durations import fmt_duration
from viz.views.thresholds import THRESHOLDS

long_spans = ids_present = None  # viz/trace/_fold.c (VIZ_PURE_PYTHON=1 or a build without a compiler: Python)
if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._fold import ids_present, long_spans
    except ImportError:  # pragma: no cover - depends on the build
        pass

LOOP_TASK_KINDS = ("greenlet", "coroutine", "asyncio", "main")  # tasks that take turns on a loop
_IO = re.compile(r"^(recv|recv_into|recvfrom|recvfrom_into|send|sendall|sendto|connect|accept|read|write|"
                 r"select|poll|epoll|urlopen)\b|\bon fd \d|\bfd \d+ (readable|writable)")
_LOCK = re.compile(r"^(R?Lock|(Bounded)?Semaphore)\.acquire\(\)")
_HELD_BY = re.compile(r"\s*\(?held by [^)]*\)?$")


@dataclass(frozen=True)
class Finding:
    """One diagnosis: its kind, the moment and task it is tied to, what happened and what to do."""

    kind: str
    t: float
    duration: float
    task: int
    task_name: str
    file: str | None
    line: int | None
    text: str
    fix: str

    @property
    def where(self) -> str:
        if self.line is None:
            return ""
        return f"{self.file}:{self.line}" if self.file else f"line {self.line}"

    def to_json(self) -> dict:
        return asdict(self)


def diagnose(trace: Trace, thresholds: dict[str, float] | None = None) -> list[Finding]:
    """Every finding in the run, in time order. It reads the lanes' columns and makes Span objects only for the
    spans it reports, so a run of a million spans is diagnosed in a fraction of a second."""
    limits = {k: v / 1000 for k, v in (thresholds or THRESHOLDS).items()}
    lanes = {lane.task: lane for lane in trace.lanes}
    found: list[Finding] = []
    blocked_loop = _loop_blocked(trace, lanes, limits["loop-blocked"], found)
    long_runs = _long_runs(trace, lanes, limits["long-run"], found)
    _lock_contention(trace, lanes, limits["lock-contention"], found)
    _starved(trace, lanes, blocked_loop + long_runs, limits["starved"], found)
    _serial_io(trace, lanes, limits["serial-io"], found)
    found.sort(key=lambda f: (f.t, f.task, f.kind))
    return found


def _runtime(lanes: dict[int, Lane]) -> str:
    kinds = {lane.kind for lane in lanes.values()}
    if "asyncio" in kinds or "coroutine" in kinds:
        return "asyncio" if not any(lane.name == "hub" for lane in lanes.values()) else "gevent"
    return "gevent"


def _finding(kind: str, span: Span, lane: Lane, text: str, fix: str, duration: float | None = None) -> Finding:
    return Finding(kind, span.start, span.duration if duration is None else duration, lane.task, lane.name,
                   span.file, span.line, text, fix)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _indices(column: bytearray, code: int):
    """The indices where a state or flag column holds `code` (found in C, a run at a time)."""
    if column.find(code) < 0:
        return
    for m in re.finditer(re.escape(bytes([code])) + b"+", column):
        yield from range(m.start(), m.end())


def _ends(trace: Trace, lane: Lane) -> array:
    """Each span's end, as a column beside lane.starts (a span ends where the next begins)."""
    ends = lane.starts[1:]
    if lane.starts:
        ends.append(trace.span_end(lane, len(lane.starts) - 1))
    return ends


def _long(lane: Lane, ends: array, code: int, limit: float) -> list[int]:
    """Indices of the lane's spans in state `code` that last at least `limit` seconds."""
    if long_spans is not None:  # viz/trace/_fold.c: lanes of a million spans
        return long_spans(lane.starts, lane.states, ends[-1] if ends else 0.0, code, limit)
    states = lane.states
    long = compress(count(), map(limit.__le__, map(sub, ends, lane.starts)))
    return [i for i in long if states[i] == code]


def _reasons_among(wanted: set[int]) -> Callable[[Lane], set[int]]:
    """Which of the string ids `wanted` (those of Trace.string_ids) a lane has as a reason, as a function of the lane:
    in C, a pass over the lane's reasons with no int object per span (a thousand lanes of a thousand spans: 1 ms, not
    10)."""
    if not wanted:
        return lambda lane: wanted
    if ids_present is None:
        return lambda lane: wanted.intersection(lane.reasons)
    marks = bytearray(max(wanted) + 1)  # ids_present's form of `wanted`: a nonzero byte at each
    for sid in wanted:
        marks[sid] = 1
    return lambda lane: ids_present(lane.reasons, marks)


def _ready_during(trace: Trace, lane: Lane, t0: float, t1: float) -> float:
    """Seconds `lane` was ready within [t0, t1]."""
    starts, states = lane.starts, lane.states
    total = 0.0
    for i in range(max(0, bisect_right(starts, t0) - 1), bisect_right(starts, t1)):
        if states[i] == READY:
            total += _overlap(t0, t1, starts[i], trace.span_end(lane, i))
    return total


def _loop_blocked(trace, lanes, limit, found) -> list[tuple[float, float]]:
    held = []
    runtime = _runtime(lanes)
    for task, lane in lanes.items():
        for i in _indices(lane.flags, 1):
            start, end = lane.starts[i], trace.span_end(lane, i)
            if end - start < limit:
                continue
            span = trace.span(lane, i)
            held.append((start, end))
            call = span.reason or "a call"
            text = f"{call} held the whole loop for {fmt_duration(span.duration)}; "
            text += _starved_during(trace, task, start, end, lanes, limit)
            found.append(_finding("loop-blocked", span, lane, text, _loop_fix(call, runtime)))
    return held


def _starved_during(trace, task: int, t0: float, t1: float, lanes, limit: float) -> str:
    """`starved (ready meanwhile): inner 2.00 s, outer 2.00 s`: the other tasks kept ready while `task` held the loop."""
    starved = []
    for other, lane in lanes.items():
        if other == task or lane.kind == LOOP_KIND:
            continue
        waited = _ready_during(trace, lane, t0, t1)
        if waited >= min(limit, (t1 - t0) / 2):
            starved.append(f"{lane.name} {fmt_duration(waited)}")
    return f"starved (ready meanwhile): {', '.join(starved)}" if starved else "no other task was waiting"


def _loop_fix(call: str, runtime: str) -> str:
    if runtime == "asyncio":
        if call.startswith("time.sleep"):
            return "use `await asyncio.sleep(...)` instead of time.sleep"
        return "await the asyncio version of this call, or run it with `await loop.run_in_executor(None, ...)`"
    if call.startswith("time.sleep"):
        return "use gevent.sleep(...), or call gevent.monkey.patch_all() before other imports so time.sleep yields"
    if _IO.search(call):
        return "call gevent.monkey.patch_all() before other imports, so this I/O waits in the hub, not in the loop"
    return "call gevent.monkey.patch_all() before other imports, or move the call to gevent's threadpool"


def _long_runs(trace, lanes, limit, found) -> list[tuple[float, float]]:
    held: list[tuple[float, float]] = []
    loops = [lane.created for lane in lanes.values() if lane.kind == LOOP_KIND]
    if not loops:
        return held
    loop_from = min(loops)
    for task, lane in lanes.items():
        if lane.kind not in LOOP_TASK_KINDS or trace.totals(lane)["running"] < limit - 1e-9:
            continue  # (a run is never longer than all the lane's running together: most lanes are skipped in C)
        starts, ends = lane.starts, _ends(trace, lane)
        for m in re.finditer(b"\x00+", lane.states):  # runs of consecutive running spans: one stretch of work
            first, last = m.start(), m.end() - 1
            end = ends[last]
            start = max(starts[first], loop_from)
            if end - start < limit or end <= loop_from:
                continue
            where = next((trace.span(lane, i) for i in range(first, last + 1) if lane.lines[i]),
                         trace.span(lane, first))
            text = (f"{lane.name} ran {fmt_duration(end - start)} without giving the loop back; "
                    + _starved_during(trace, task, start, end, lanes, limit))
            fix = ("split the work and yield between pieces (`gevent.sleep(0)` / `await asyncio.sleep(0)`), "
                   "or move CPU-bound work to a thread or process pool")
            found.append(Finding("long-run", start, end - start, task, lane.name, where.file, where.line, text, fix))
            held.append((start, end))
    return held


def _lock_contention(trace, lanes, limit, found) -> None:
    waits: dict[tuple, list[tuple[Lane, Span]]] = {}
    reasons_among = _reasons_among(trace.string_ids(_LOCK))
    for lane in lanes.values():
        sids = reasons_among(lane)
        if not sids:
            continue
        for i in _indices(lane.states, BLOCKED):
            if lane.reasons[i] in sids:
                span = trace.span(lane, i)
                key = (_HELD_BY.sub("", span.reason), span.file, span.line)
                waits.setdefault(key, []).append((lane, span))
    for (call, file, line), items in waits.items():
        total = sum(s.duration for _, s in items)
        if total < limit:
            continue
        per_task: dict[str, float] = {}
        holders: dict[str, float] = {}
        for lane, span in items:
            per_task[lane.name] = per_task.get(lane.name, 0.0) + span.duration
            m = re.search(r"held by (.+?)\)?$", span.reason or "")
            if m:
                holders[m.group(1)] = holders.get(m.group(1), 0.0) + span.duration
        lane, first = items[0]
        who = ", ".join(f"{name} {fmt_duration(d)}" for name, d in sorted(per_task.items(), key=lambda x: -x[1]))
        text = f"threads waited {fmt_duration(total)} in total for {call} ({who})"
        if holders:
            text += "; held by " + ", ".join(sorted(holders, key=lambda h: -holders[h]))
        fix = "hold the lock for less time (do slow work outside `with lock:`), or split it into finer locks"
        found.append(Finding("lock-contention", first.start, total, lane.task, lane.name, file, line, text, fix))


def _starved(trace, lanes, explained_by, limit, found) -> None:
    for lane in lanes.values():
        if lane.kind == LOOP_KIND or trace.totals(lane)["ready"] < limit - 1e-9:
            continue  # (no ready span is longer than all the lane's ready time together)
        starts, ends = lane.starts, _ends(trace, lane)
        for i in _long(lane, ends, READY, limit):
            start, end = starts[i], ends[i]
            explained = sum(_overlap(start, end, a, b) for a, b in explained_by)
            if explained >= (end - start) / 2:
                continue  # a loop-blocked or long-run finding already accounts for it
            span = trace.span(lane, i)
            text = f"{lane.name} was ready for {fmt_duration(span.duration)} before it ran ({span.reason or 'ready'})"
            fix = ("the task that held the CPU meanwhile should yield more often; "
                   "for threads, CPU-bound Python code takes turns on the GIL: use processes for parallel CPU work")
            found.append(_finding("starved", span, lane, text, fix))


def _serial_io(trace, lanes, limit, found) -> None:
    stretches = []
    reasons_among = _reasons_among(trace.string_ids(_IO))
    for lane in lanes.values():
        if lane.kind not in LOOP_TASK_KINDS:
            continue
        sids = reasons_among(lane)
        io = [i for i in _indices(lane.states, BLOCKED) if lane.reasons[i] in sids] if sids else []
        if io:
            stretches.append((lane.starts[io[0]], trace.span_end(lane, io[-1]), lane, trace.span(lane, io[0])))
    if len(stretches) < 2:
        return
    stretches.sort(key=lambda s: s[0])
    if any(b[0] < a[1] for a, b in zip(stretches, stretches[1:])):
        return  # some I/O overlapped: the loop did its job
    total = sum(end - start for start, end, _, _ in stretches)
    if total < limit:
        return
    longest = max(end - start for start, end, _, _ in stretches)
    start, _, lane, first = stretches[0]
    names = ", ".join(f"{ln.name} {fmt_duration(e - s)}" for s, e, ln, _ in stretches)
    text = (f"{len(stretches)} tasks did their I/O one after another, none overlapping ({names}): "
            f"{fmt_duration(total)} in all, where overlapped it could take about {fmt_duration(longest)}")
    blocking = any(1 in ln.flags for _, _, ln, _ in stretches)
    fix = ("call gevent.monkey.patch_all() before other imports, so each task's socket waits let the others run"
           if blocking else "start the tasks together and wait for them all (gevent.joinall / asyncio.gather)")
    found.append(Finding("serial-io", start, stretches[-1][1] - start, lane.task, lane.name, first.file, first.line,
                         text, fix))
