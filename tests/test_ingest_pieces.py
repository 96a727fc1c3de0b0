"""A batch of events derived a piece at a time builds the trace it builds whole.

The session cuts each batch the child flushes (up to 50 ms of switches, tens of thousands) into pieces of about
viz.ingest.session.PIECE events, a long run of switches into shorter runs (protocol.split_runs), and derives and
passes them on one by one. Where a batch ends must not change what the trace says: the same lanes, spans and causes.
"""

from __future__ import annotations

from unittest import mock

import pytest

from conftest import fed_batches, run_session
from test_trace_fast_paths import model_of
from viz import protocol
from viz.ingest.derive import Deriver
from viz.trace.model import Trace

SHORT_LIVED = """
import gevent

def work(n):
    gevent.sleep(0)
    print("done", n)

def quick():
    pass

gevent.joinall([gevent.spawn(work, n) for n in range(40)] + [gevent.spawn(quick) for _ in range(30)])
"""


def whole_batches(path) -> list[list]:
    """The batches a real child flushed, as they came (not cut into pieces)."""
    with mock.patch.object(protocol, "split_runs", lambda batch, most: [batch]):
        return fed_batches(path)


def traced(pieces: list[list]) -> Trace:
    deriver, trace = Deriver(), Trace()
    for piece in pieces:
        trace.add_many(deriver.feed(piece))
    trace.flush()
    return trace


@pytest.mark.parametrize("most", [1, 7, 100])
def test_a_recorded_run_derived_a_piece_at_a_time_builds_the_same_trace_as_derived_whole(script, most):
    batches = whole_batches(script(SHORT_LIVED))
    assert any(ev[0] == protocol.SWITCH_RUN and len(ev[1]) > protocol.SWITCH.size for b in batches for ev in b)
    pieces = [piece for batch in batches for piece in protocol.split_runs(batch, most)]
    assert len(pieces) > len(batches)
    assert protocol.count_events([ev for p in pieces for ev in p]) == protocol.count_events(
        [ev for b in batches for ev in b])
    whole, cut = traced(batches), traced(pieces)
    assert model_of(cut) == model_of(whole)
    assert cut.causes == whole.causes


def test_a_long_run_of_switches_is_cut_into_runs_each_with_the_items_of_its_own_waits():
    switches = [("H", 0.1 * i, 1, 2 + i % 3) if i % 2 == 0 else ("Y", 0.1 * i, 2 + i % 3, 1, f"item {i}")
                for i in range(25)]
    run = protocol.pack_run(switches)
    pieces = protocol.split_runs([("x",), run, ("y",)], 4)
    assert pieces[0] == [("x",)] and pieces[-1] == [("y",)]
    runs = [p[0] for p in pieces[1:-1]]
    assert all(len(r[1]) <= 4 * protocol.SWITCH.size for r in runs)
    assert protocol.expand_runs(runs) == protocol.expand_runs([run])


def test_a_task_spawned_and_ended_within_one_batch_keeps_the_cause_of_its_first_step(script, monkeypatch):
    """30 greenlets that do nothing: spawned, run and ended within one of the child's flushes. Each one's first
    span is still explained, `spawned by main`, as a longer-lived one's is (the cause was lost when the task's end
    came in the same batch as its first step)."""
    monkeypatch.setattr(protocol, "split_runs", lambda batch, most: [batch])  # whole batches, as the child sent them
    _, trace = run_session(script(SHORT_LIVED))
    quick = [lane for lane in trace.lanes if lane.name.startswith("quick")]
    assert len(quick) == 30
    for lane in quick:
        assert lane.ended is not None
        cause = trace.cause_of(lane, 0)
        assert cause is not None and cause.what.startswith("spawned by main"), (lane.name, cause)
