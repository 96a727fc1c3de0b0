"""A cell where a task was in several states: the text view and the app draw it alike, by the rule of
viz.views.cells (blocks the whole loop > running > ready > blocked > idle)."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console

from viz.app.lanes import LanePainter
from viz.trace.format import header
from viz.trace.model import Trace
from viz.views.cells import BLOCKED_V, IDLE_V, LOOP_V, READY_V, RUNNING_V, lane_cells
from viz.views.text import swimlanes

LETTER = {"R": RUNNING_V, "r": READY_V, "b": BLOCKED_V, "i": IDLE_V, "L": LOOP_V}


def make_trace(lanes: dict[str, list[tuple]], end: float) -> Trace:
    """lanes: name -> [(t, state, blocks_loop), ...], every lane from 0 to `end` (so no cell is blank)."""
    trace = Trace(header(target="test", file="t.py"))
    for task, (name, spans) in enumerate(lanes.items(), start=1):
        trace.add({"k": "task", "t": 0.0, "task": task, "name": name, "kind": "greenlet"})
        for t, state, loop in spans:
            trace.add({"k": "state", "t": t, "task": task, "state": state, "blocks_loop": loop})
        trace.add({"k": "end", "t": end, "task": task})
    trace.add({"k": "exit", "t": end, "outcome": "finished", "status": 0})
    return trace


def text_cells(trace: Trace, width: int) -> dict[str, list[int]]:
    """Each lane's cells as `viz show --text --no-color` prints them (letters), as display codes."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(swimlanes(trace, width, color=False))
    lines = out.getvalue().splitlines()
    name_w = max(len(lane.name) for lane in trace.lanes)
    rows = {}
    for lane, line in zip(trace.lanes, lines[1:]):
        assert line.startswith(lane.name)
        rows[lane.name] = [LETTER[ch] for ch in line[name_w + 1:].split(" ")[0]]
    return rows


def app_cells(painter: LanePainter, lane, t0: float, dt: float, width: int) -> list[int]:
    """The app's cells: a run's code, or for an edge (a cell with one change, drawn as both states side by side)
    the more important of its two states."""
    out = []
    for left, right, eighths, w, _label in painter.runs(lane, t0, dt, width, labels=False):
        out.extend([max(left, right)] * w)
    return out


def test_a_cell_mostly_blocked_but_briefly_ready_is_ready_in_the_text_view_and_in_the_app():
    # ten cells of a second: in cell 1 blocked 0.45 s, ready 0.1 s, blocked 0.45 s; in cell 2 running 0.5 s, a call
    # that blocks the whole loop for 0.4 s, running again; then idle
    trace = make_trace({"task": [(0.0, "blocked", False), (1.45, "ready", False), (1.55, "blocked", False),
                                 (2.0, "running", False), (2.5, "blocked", True), (2.9, "running", False),
                                 (3.0, "idle", False)]}, end=10.0)
    lane = trace.lanes[0]
    want = [BLOCKED_V, READY_V, LOOP_V] + [IDLE_V] * 7
    assert list(lane_cells(trace, lane, 0.0, 1.0, 10)) == want
    assert app_cells(LanePainter(trace), lane, 0.0, 1.0, 10) == want
    width = next(w for w in range(10, 80) if len(text_cells(trace, w)["task"]) == 10)  # a bar of ten cells
    assert text_cells(trace, width)["task"] == want


def random_spans(rnd: random.Random, n: int, end: float) -> list[tuple]:
    times = sorted(rnd.uniform(0.0, end) for _ in range(n - 1))
    spans = [(0.0, rnd.choice(["running", "ready", "blocked", "idle"]), False)]
    for t in times:
        state = rnd.choice(["running", "ready", "blocked", "blocked", "idle"])
        spans.append((t, state, state == "blocked" and rnd.random() < 0.1))
    return spans


@pytest.mark.parametrize("seed", range(6))
def test_the_text_view_and_the_app_agree_cell_by_cell_on_a_trace_of_mixed_cells(seed):
    rnd = random.Random(seed)
    end = 10.0
    # from a few changes per lane (the app draws span by span, with edges) to many per cell (it draws from summaries)
    trace = make_trace({f"lane{i}": random_spans(rnd, rnd.choice([3, 12, 60, 400, 3000]), end) for i in range(6)},
                       end=end)
    width = 100
    text = text_cells(trace, width)
    bar_w = len(text["lane0"])
    painter = LanePainter(trace)
    for lane in trace.lanes:
        assert len(text[lane.name]) == bar_w
        drawn = app_cells(painter, lane, 0.0, end / bar_w, bar_w)
        assert drawn == text[lane.name], lane.name
    painter.warm(10.0, trace.lanes)  # the summaries built: the app's dense path
    for lane in trace.lanes:
        assert app_cells(painter, lane, 0.0, end / bar_w, bar_w) == text[lane.name], lane.name
