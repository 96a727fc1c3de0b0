"""One lane as runs of cells: the pure drawing logic behind the timeline, with no Textual in it.

For a lane and a view (t0, seconds per cell, width) `LanePainter.runs` returns runs of cells:
`(left, right, eighths, width, label)`. A plain bar has left == right and eighths == 8; an edge cell shows a state
change inside one cell as a left eighth block (`eighths`/8 of the cell in `left`, the rest in `right`); a run with a
label writes the span's reason inside the bar. When several changes fall into one cell the cell takes the most
important state among them (running > blocks the loop > blocked > ready > idle), found with `bytearray.find` over
the lane's per-span codes, so a zoomed-out frame costs O(cells x log spans), never a walk over every span.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right

from viz.trace.model import BLOCKED, IDLE, READY, RUNNING, Lane, Trace

# What a cell shows, in rising importance. NONE: the task does not exist at that time.
NONE, IDLE_V, READY_V, BLOCKED_V, LOOP_V, RUNNING_V = range(6)
VISUALS = ("none", "idle", "ready", "blocked", "loop", "running")
_BY_IMPORTANCE = (RUNNING_V, LOOP_V, BLOCKED_V, READY_V, IDLE_V)
_FROM_STATE = {RUNNING: RUNNING_V, READY: READY_V, BLOCKED: BLOCKED_V, IDLE: IDLE_V}
_STATE_TABLE = bytes(_FROM_STATE.get(i, IDLE_V) for i in range(256))

Run = tuple  # (left, right, eighths, width, label | None)
DENSE = 4      # more than width / DENSE changes in view: draw cell by cell (`_dense_runs`)
_SCAN = 12     # above this many spans in one cell, find the most important code with memchr, not max()
_SAME = re.compile(rb"(.)\1*", re.S)


class LanePainter:
    """Draws the lanes of one trace; keeps each lane's per-span display codes up to date as the lane grows."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self._codes: dict[int, bytearray] = {}

    def codes(self, lane: Lane) -> bytearray:
        """One display code per span (its state, or LOOP_V when it blocks the whole loop); extended, never rebuilt."""
        codes = self._codes.get(lane.task)
        if codes is None:
            codes = self._codes[lane.task] = bytearray()
        n = len(lane.starts)
        if len(codes) < n:
            old = len(codes)
            new = bytearray(lane.states[old:n].translate(_STATE_TABLE))
            flags = lane.flags
            for i in range(old, n):
                if flags[i]:
                    new[i - old] = LOOP_V
            codes += new
        return codes

    def lane_end(self, lane: Lane) -> float:
        end = lane.ended if lane.ended is not None else self.trace.end_time
        return max(end, lane.starts[-1]) if lane.starts else end

    def runs(self, lane: Lane, t0: float, dt: float, width: int, labels: bool = True) -> list[Run]:
        """The lane drawn across `width` cells starting at time t0, `dt` seconds per cell."""
        starts = lane.starts
        n = len(starts)
        if n == 0 or width <= 0:
            return [(NONE, NONE, 8, max(width, 0), None)]
        codes = self.codes(lane)
        end = self.lane_end(lane)
        first = starts[0]
        out: list[Run] = []
        inv = 1.0 / dt
        t_right = t0 + width * dt
        if bisect_left(starts, t_right) - bisect_right(starts, t0) > width // DENSE:
            return self._dense_runs(lane, codes, end, t0, dt, width, labels)

        def seg_at(t: float) -> int:
            """The segment covering instant t: -1 before the lane, n after it, else a span index."""
            if t < first:
                return -1
            if t >= end and end > starts[n - 1] or t > end:
                return n
            return bisect_right(starts, t) - 1

        def bound(k: int) -> float:
            """Where segment k begins."""
            return starts[k] if k < n else end

        def code(k: int) -> int:
            return codes[k] if 0 <= k < n else NONE

        c = 0
        k = seg_at(t0)
        while c < width:
            a = t0 + c * dt
            # the next boundary after segment k
            nxt = bound(k + 1) if k < n else t_right + dt
            if nxt >= a + dt:
                # cells c .. cend-1 lie wholly inside segment k
                cend = min(width, int((nxt - t0) * inv + 1e-9)) if nxt < t_right else width
                cend = max(cend, c + 1)
                label = lane.reasons[k] if labels and 0 <= k < n else 0
                _put_bar(out, code(k), cend - c, self.trace.string(label) if label else None)
                c = cend
                b2 = t0 + c * dt
                while k < n and bound(k + 1) <= b2:
                    k += 1
                continue
            b = a + dt
            # segments kb: the last one starting before b
            if b <= first:
                kb = -1
            elif k >= n:
                kb = n
            else:
                kb = bisect_left(starts, b, max(k + 1, 0)) - 1
                if kb == n - 1 and end < b and end > starts[n - 1]:
                    kb = n
            if kb <= k:
                _put_bar(out, code(k), 1, None)
            elif kb == k + 1 and code(k) != code(kb):
                eighths = min(7, max(1, round((bound(kb) - a) * inv * 8)))
                out.append((code(k), code(kb), eighths, 1, None))
            elif kb == k + 1:
                _put_bar(out, code(k), 1, None)
            else:
                _put_bar(out, _most_important(codes, max(k, 0), min(kb, n - 1) + 1), 1, None)
            c += 1
            # the segment covering the next cell's start
            k = kb
            b2 = t0 + c * dt
            while k < n and bound(k + 1) <= b2:
                k += 1
        return out


    def _dense_runs(self, lane: Lane, codes: bytearray, end: float, t0: float, dt: float, width: int,
                    labels: bool) -> list[Run]:
        """Many changes per cell: one bisect per cell boundary and the most important code in each cell.

        No sub-cell edges here (at this density they would be noise); labels only on long single-span runs.
        """
        starts = lane.starts
        br = bisect_right
        # bounds[c]: how many spans start at or before the left edge of cell c
        bounds = [br(starts, t0 + c * dt) for c in range(width + 1)]
        big = _SCAN
        row = bytearray([
            (codes[x - 1] if y == x else max(codes[x - 1:y]) if y - x < big else _most_important(codes, x - 1, y))
            if x else (0 if y == 0 else max(codes[0:y]) if y < big else _most_important(codes, 0, y))
            for x, y in zip(bounds, bounds[1:])
        ])
        gone = math.ceil((end - t0) / dt - 1e-9)  # cells from here on start after the lane ended
        if gone < width:
            row[max(gone, 0):] = bytes(width - max(gone, 0))
        out: list[Run] = []
        reasons, string = lane.reasons, self.trace.string
        for m in _SAME.finditer(row):
            c, c2 = m.span()
            label = None
            if labels and c2 - c >= 10 and bounds[c2] == bounds[c + 1]:
                i = bounds[c + 1] - 1
                label = string(reasons[i]) if 0 <= i < len(reasons) and reasons[i] else None
            _put_bar(out, row[c], c2 - c, label)
        return out


def _most_important(codes: bytearray, lo: int, hi: int) -> int:
    for v in _BY_IMPORTANCE:
        if codes.find(v, lo, hi) >= 0:
            return v
    return NONE


def _put_bar(out: list[Run], code: int, width: int, label: str | None) -> None:
    """Append `width` cells of `code`, writing `label` inside when it fits; merges with a bar just before."""
    room = width - 4  # a bar cell either side of " label "
    if label and (room >= len(label) or room >= 9):
        text = label if len(label) <= room else label[: room - 1] + "…"
        text = f" {text} "
        lead = 1
        _put_bar(out, code, lead, None)
        out.append((code, code, 8, len(text), text))
        rest = width - lead - len(text)
        if rest:
            out.append((code, code, 8, rest, None))
        return
    if out:
        left, right, eighths, w, lab = out[-1]
        if left == code and right == code and lab is None:
            out[-1] = (code, code, 8, w + width, None)
            return
    out.append((code, code, 8, width, None))


def display_order(lanes: list[Lane]) -> list[Lane]:
    """Lanes top to bottom: the main program, then the loop (gevent's hub), then the other tasks as they appeared."""
    rank = {"main": 0, "loop": 1}
    return sorted(lanes, key=lambda lane: rank.get(lane.kind, 2))
