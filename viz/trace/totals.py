"""Each task's time per state up to any instant (the app's summary reads it as the playhead moves).

Running totals per lane (seconds in each state, and in calls that block the loop) are kept after every STRIDE
spans and extended as lanes grow, so the totals at any time cost a bisect and at most STRIDE spans per lane instead
of a walk over every span, in 1.25 bytes per span (a total after every span took 40: more than the lanes
themselves). No Textual here.
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_right
from itertools import accumulate, islice
from operator import mul, sub
from typing import Iterator

from viz.trace.format import STATES
from viz.trace.model import Lane, Trace

# viz/trace/_fold.c: _update's and _before's loops in C (VIZ_PURE_PYTHON=1 or a build without a compiler: Python)
prefix_extend = prefix_at = None
if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._fold import prefix_at, prefix_extend
    except ImportError:  # pragma: no cover - depends on the build
        pass

LOOP = len(STATES)  # index of "time in calls that block the whole loop" in a totals list
STRIDE = 32  # spans between two kept running totals
_IS = [bytes(1 if code == k else 0 for code in range(256)) for k in range(LOOP)]  # state code -> 1 if k, else 0


class _Prefix:
    __slots__ = ("sums", "done")

    def __init__(self) -> None:
        # sums[s][j]: seconds in state s over spans 0 .. j * STRIDE - 1 (s == LOOP: over spans that block the loop)
        self.sums = [array("d", [0.0]) for _ in range(LOOP + 1)]
        self.done = 0  # spans folded in: whole strides of complete spans (all but the last span, whose end may move)


def _running(total: float, durations: list[float], mask) -> Iterator[float]:
    """A running total from `total` over the spans' durations (times 1 or 0: in that state or not), added up in span
    order, in C iterators: the same additions, so the same bits, as viz/trace/_fold.c."""
    return accumulate(map(mul, durations, mask), initial=total)


class Totals:
    """Running / ready / blocked / idle (and loop-blocking) seconds of each lane up to an instant."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self._prefix: dict[int, _Prefix] = {}

    def _update(self, lane: Lane) -> _Prefix:
        p = self._prefix.get(lane.task)
        if p is None:
            p = self._prefix[lane.task] = _Prefix()
        starts = lane.starts
        lo, hi = p.done, (len(starts) - 1) // STRIDE * STRIDE  # whole strides of complete spans not folded in yet
        if hi <= lo:
            return p
        if prefix_extend is not None:  # viz/trace/_fold.c: the loop below, in C
            prefix_extend(starts, lane.states, lane.flags, p.sums, lo, hi, STRIDE)
        else:
            durations = list(map(sub, starts[lo + 1:hi + 1], starts[lo:hi]))
            for sums, mask in zip(p.sums, self._masks(lane, lo, hi)):
                sums.extend(islice(_running(sums[-1], durations, mask), STRIDE, None, STRIDE))
        p.done = hi
        return p

    @staticmethod
    def _masks(lane: Lane, lo: int, hi: int) -> list:
        return [lane.states[lo:hi].translate(_IS[k]) for k in range(LOOP)] + [lane.flags[lo:hi]]

    def _before(self, lane: Lane, p: _Prefix, i: int) -> list[float]:
        """Seconds per state over spans 0 .. i - 1 (complete spans): the kept total before i, plus the rest."""
        j = i // STRIDE
        lo = j * STRIDE
        if prefix_at is not None:
            return prefix_at(lane.starts, lane.states, lane.flags, p.sums, j, lo, i)
        starts = lane.starts
        durations = list(map(sub, starts[lo + 1:i + 1], starts[lo:i]))
        return [list(_running(sums[j], durations, mask))[-1] for sums, mask in zip(p.sums, self._masks(lane, lo, i))]

    def catch_up(self) -> None:
        """Extend every lane's sums over the spans it gained (called as a live run's records are folded in, a
        batch at a time, so that a summary drawn later does not have to do seconds of them at once)."""
        for lane in self.trace.lanes:
            self._update(lane)

    def until(self, lane: Lane, t: float) -> list[float]:
        """Seconds per state (in STATES order, then loop-blocking) the task spent before instant t."""
        starts = lane.starts
        if not starts or t <= starts[0]:
            return [0.0] * (LOOP + 1)
        p = self._update(lane)
        if lane.ended is not None:
            t = min(t, max(lane.ended, starts[-1]))
        i = bisect_right(starts, t) - 1
        out = self._before(lane, p, i)
        end = self.trace.span_end(lane, i)
        part = max(0.0, min(t, end) - starts[i])
        out[lane.states[i]] += part
        if lane.flags[i]:
            out[LOOP] += part
        return out
