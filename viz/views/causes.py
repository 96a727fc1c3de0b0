"""What woke a span: the cause the trace records for it, in words, and the waker's span at that moment.

A cause explains the transition that starts a span (a ready span, or a running span the task went straight into);
`by` is the waker's task, or None when no task woke it (a timer fired, a socket became readable). The app's details
panel, its jump to the cause (w) and its connector, and the Perfetto export's flows all read causes through here.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple

from viz.trace.model import READY, RUNNING, Cause, Lane, Trace
from viz.views.durations import fmt_duration

LOOK_BACK = 64  # spans of the waker searched back for the running span that woke the task


class Link(NamedTuple):
    """A span's cause and where it points: the woken span (lane, index) and the waker's span (None when no task
    woke it, or the waker has no lane)."""

    cause: Cause
    woken: Lane
    index: int
    waker: Lane | None
    waker_index: int | None


def link_of(trace: Trace, lane: Lane, i: int) -> Link | None:
    """What woke span i: its own cause, or, for a running span with none that follows a ready span with one, the
    ready span's (the wake-up that made the task ready, then run)."""
    cause = trace.cause_of(lane, i)
    if cause is None and i > 0 and lane.states[i] == RUNNING and lane.states[i - 1] == READY:
        i -= 1
        cause = trace.cause_of(lane, i)
    if cause is None:
        return None
    waker = trace.lane_of(cause.by) if cause.by is not None else None
    return Link(cause, lane, i, waker, waker_span(trace, waker, cause.t) if waker is not None else None)


def waker_span(trace: Trace, lane: Lane, t: float) -> int | None:
    """The waker's span at the moment of a wake-up at t: its last running span that starts by t (the waker ran to
    wake another; it may have moved on, to a join say, before the woken task's turn came), else its span at t."""
    starts, states = lane.starts, lane.states
    last = bisect_right(starts, t) - 1
    for i in range(last, max(-1, last - LOOK_BACK), -1):
        if states[i] == RUNNING:
            return i
    return last if last >= 0 else None


def words(trace: Trace, link: Link, instant=None) -> str:
    """'woken by: main at 0.512 s — select() returned fd 7', or 'woken: timer fired' when no task woke it."""
    cause = link.cause
    if cause.by is None:
        return f"woken: {cause.what}"
    name = link.waker.name if link.waker is not None else f"task {cause.by}"
    when = instant(cause.t) if instant is not None else fmt_duration(cause.t)
    return f"woken by: {name} at {when} — {cause.what}"
