"""Each task's time per state up to any instant, for the summary that keeps step with the playhead.

Prefix sums per lane (seconds in each state, and in calls that block the loop, before each span) are extended as
lanes grow, so the totals at any time cost a bisect per lane instead of a walk over every span. No Textual here.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

from viz.trace.format import STATES
from viz.trace.model import Lane, Trace

LOOP = len(STATES)  # index of "time in calls that block the whole loop" in a totals list


class _Prefix:
    __slots__ = ("sums", "done")

    def __init__(self) -> None:
        # sums[s][i]: seconds in state s over spans 0 .. i-1 (s == LOOP: over spans that block the loop)
        self.sums = [array("d", [0.0]) for _ in range(LOOP + 1)]
        self.done = 0  # spans folded in (all but the last, whose end may still move)


class Totals:
    """Running / ready / blocked / idle (and loop-blocking) seconds of each lane up to an instant."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self._prefix: dict[int, _Prefix] = {}

    def _update(self, lane: Lane) -> _Prefix:
        p = self._prefix.get(lane.task)
        if p is None:
            p = self._prefix[lane.task] = _Prefix()
        starts, states, flags = lane.starts, lane.states, lane.flags
        complete = len(starts) - 1
        sums = p.sums
        for i in range(p.done, complete):
            d = starts[i + 1] - starts[i]
            s = states[i]
            for k in range(LOOP + 1):
                sums[k].append(sums[k][-1] + (d if k == s or (k == LOOP and flags[i]) else 0.0))
        p.done = max(p.done, complete)
        return p

    def until(self, lane: Lane, t: float) -> list[float]:
        """Seconds per state (in STATES order, then loop-blocking) the task spent before instant t."""
        out = [0.0] * (LOOP + 1)
        starts = lane.starts
        if not starts or t <= starts[0]:
            return out
        p = self._update(lane)
        if lane.ended is not None:
            t = min(t, max(lane.ended, starts[-1]))
        i = bisect_right(starts, t) - 1
        i = min(i, p.done)
        for k in range(LOOP + 1):
            out[k] = p.sums[k][i]
        end = self.trace.span_end(lane, i)
        part = max(0.0, min(t, end) - starts[i])
        out[lane.states[i]] += part
        if lane.flags[i]:
            out[LOOP] += part
        return out

    def work_until(self, t: float) -> float:
        """Running + blocked seconds of every task but the main program and the loop, before instant t."""
        total = 0.0
        for lane in self.trace.lanes:
            if lane.kind in ("main", "loop"):
                continue
            sums = self.until(lane, t)
            total += sums[0] + sums[2]
        return total
