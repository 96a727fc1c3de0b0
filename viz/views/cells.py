"""What one cell of a swimlane shows: the rule every view that draws lanes follows, and the words for each state.

A cell stands for a slice of time. When the task was in several states during that slice, the cell shows the most
important of them, in this order (the display codes below rise with it):

    blocks the whole loop  >  running  >  ready  >  blocked  >  idle  >  (no task)

Why an order and not the state that covered most of the cell: what a learner zooms in to find is nearly always short
(a run of a few microseconds between long waits, a wake-up, a blocking call), and by time share it would vanish as
soon as the view is zoomed out. With an order, a state seen in a cell stays visible, as at least one cell, at every
zoom level further out, and the app can compute whole rows from summaries of a lane (a max over codes).

Why this order: a call that blocks the whole loop is the mistake the scenarios teach to spot, so nothing hides it.
Then the short states that carry the news beat the long ones that are the background: running (the task did work),
then ready (it could run but waited for its turn: the loop or the CPU was busy elsewhere), then blocked (waiting for
I/O or a timer, where most tasks spend most of their time), then idle (a loop with nothing to do).

`exact_row` is that rule, cell by cell, for a lane with its spans as display codes (`span_codes`). The text view
(viz.views.text) draws with it; the app's timeline (viz.app.lanes) draws the same cells by faster paths, checked
against it in tests/test_app_drawing.py. Where the app has room, in a view with few changes, a cell holding exactly
one change shows both states side by side in proportion (an eighth block); the rule is the cell's state everywhere
else. docs/drawing.md says the same for readers of the docs. Nothing here imports Textual.
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from itertools import repeat
from operator import eq, itemgetter, sub

from viz.trace.model import BLOCKED, IDLE, READY, RUNNING, Lane, Trace

# Display codes, in rising importance. NONE: the task does not exist at that time. LOOP: blocked in a call that holds
# the whole loop (the span's `blocks_loop` flag).
NONE, IDLE_V, BLOCKED_V, READY_V, RUNNING_V, LOOP_V = range(6)
NAMES = ("none", "idle", "blocked", "ready", "running", "loop")  # a name per code (the app's CSS classes use them)
BY_IMPORTANCE = (LOOP_V, RUNNING_V, READY_V, BLOCKED_V, IDLE_V)

LOOP_WORDS = "blocks the whole loop"  # the one phrase every view uses for the blocks_loop flag
WORDS = {RUNNING_V: "running", READY_V: "ready", BLOCKED_V: "blocked", IDLE_V: "idle", LOOP_V: LOOP_WORDS}

SCAN = 12  # above this many spans in one cell, find the most important code with memchr (`most_important`), not max()

_FROM_STATE = {RUNNING: RUNNING_V, READY: READY_V, BLOCKED: BLOCKED_V, IDLE: IDLE_V}
_STATE_TABLE = bytes(_FROM_STATE.get(i, IDLE_V) for i in range(256))


def with_loop_words(reason: str | None, blocks_loop: bool) -> str | None:
    """A span's reason as views write it: the flag, when set, phrased after the call ('time.sleep(2) — blocks the
    whole loop')."""
    if not blocks_loop:
        return reason
    return f"{reason} — {LOOP_WORDS}" if reason else LOOP_WORDS


def extend_codes(lane: Lane, codes: bytearray) -> bytearray:
    """Bring `codes`, one display code per span of `lane` (its state, or LOOP_V when it blocks the whole loop), up to
    the lane's spans: a growing lane's codes are extended, never rebuilt."""
    n = len(lane.starts)
    old = len(codes)
    if old < n:
        codes += lane.states[old:n].translate(_STATE_TABLE)
        flags = lane.flags
        i = flags.find(1, old, n)
        while i >= 0:  # spans that block the whole loop are rare: visit only those
            codes[i] = LOOP_V
            i = flags.find(1, i + 1, n)
    return codes


def lane_end(trace: Trace, lane: Lane) -> float:
    """Where the lane's last span ends: the task's end, or (while it lives) the latest time of the run."""
    end = lane.ended if lane.ended is not None else trace.end_time
    return max(end, lane.starts[-1]) if lane.starts else end


def lane_cells(trace: Trace, lane: Lane, t0: float, dt: float, width: int) -> bytearray:
    """The lane across `width` cells from time t0, `dt` seconds each: one display code per cell, by the rule."""
    if not len(lane) or width <= 0:
        return bytearray(max(width, 0))
    edges = [t0 + c * dt for c in range(width + 1)]
    return exact_row(lane.starts, extend_codes(lane, bytearray()), lane_end(trace, lane), edges)


def most_important(codes: bytearray, lo: int, hi: int) -> int:
    """The most important of codes[lo:hi] (a find per code, for many spans)."""
    for v in BY_IMPORTANCE:
        if codes.find(v, lo, hi) >= 0:
            return v
    return NONE


def exact_cell(starts, codes: bytearray, end: float, a: float, b: float) -> int:
    """The most important code among the spans overlapping [a, b) (a span lasts until the next one starts, the last
    one until `end`; a span of no length counts at its instant)."""
    n = len(starts)
    hi = bisect_left(starts, b)  # spans starting before b
    if hi == 0:
        return NONE
    i = bisect_right(starts, a) - 1  # the span covering instant a...
    lo = i if i < 0 or starts[i] != a else bisect_left(starts, a, 0, i)  # ...and any of no length at a
    if hi == n:
        last = starts[n - 1]
        if not (end > a or end == last >= a):
            hi -= 1  # the lane ended before a
    lo = max(lo, 0)
    if lo >= hi:
        return NONE
    if hi - lo < SCAN:
        return max(codes[lo:hi])
    return most_important(codes, lo, hi)


def _exact_row_py(starts, codes: bytearray, end: float, edges: list[float]) -> bytearray:
    """Every cell with `exact_cell` (cell c is [edges[c], edges[c + 1])), with one bisect per cell edge (and a second
    only where a span starts exactly on an edge). viz/trace/_fold.c's exact_row does the same in C."""
    width = len(edges) - 1
    right = list(map(bisect_right, repeat(starts, width + 1), edges))
    if not any(map(eq, itemgetter(*map(sub, right, repeat(1)))(starts), edges)):
        # no span starts on an edge: cell c holds spans right[c] - 1 .. right[c + 1] - 1, all in C
        before = bisect_right(right, 0, 1) - 1  # cells before the lane's first span
        lo = list(map(sub, right[before:width], repeat(1)))
        if lo and lo[0] < 0:
            lo[0] = 0
        row = bytearray(before)
        row += bytes(map(max, map(codes.__getitem__, map(slice, lo, right[before + 1:]))))
        gone = bisect_left(edges, end, 0, width)  # cells from here on start after the lane ended
        row[gone:] = bytes(width - gone)
        return row
    left = list(map(bisect_left, repeat(starts, width + 1), edges))
    n = len(starts)
    row = bytearray(width)
    for c in range(width):
        hi = left[c + 1]
        if hi == 0:
            continue
        lo = right[c] - 1
        if left[c] < right[c]:
            lo = left[c]  # spans of no length exactly at the cell's start count too
        if hi == n:
            a = edges[c]
            if not (end > a or end == starts[n - 1] >= a):
                hi -= 1
        if lo < 0:
            lo = 0
        if lo < hi:
            row[c] = codes[lo] if hi - lo == 1 else max(codes[lo:hi]) if hi - lo < SCAN else \
                most_important(codes, lo, hi)
    return row


exact_row = _exact_row_py  # viz/trace/_fold.c's, when built (the report draws a thousand lanes of spans this way)
if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._fold import exact_row
    except ImportError:  # pragma: no cover - depends on the build
        pass
