"""The C deriver (viz/ingest/_derive.c) makes exactly the records the Python deriver makes.

The raw events of recorded scenarios, and fuzzed sequences of switch, task, poll and end events, go through a
Deriver with the C fast path and through one in pure Python: same records, same end time, same tasks closed at exit.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import viz.ingest.derive as derive
from conftest import record
from viz import protocol
from viz.ingest.derive import Deriver
from viz.trace.record import StateRecord

pytest.importorskip("viz.ingest._derive", reason="the C fast paths are not built here")
if derive._switches is None:  # VIZ_PURE_PYTHON=1: the Python code alone is under test
    pytest.skip("the C fast paths are turned off (VIZ_PURE_PYTHON)", allow_module_level=True)


@contextlib.contextmanager
def pure_python():
    """The deriver as it is without the C module."""
    with mock.patch.multiple(derive, _switches=None, _Task=derive._PyTask, _Hub=derive._PyHub,
                             _expand_runs=protocol.expand_runs):
        yield


def derived(batches: list[list[tuple]], close_at: float = 1e9) -> tuple:
    d = Deriver()
    out = [rec for batch in batches for rec in d.feed(batch)]
    return out, d.end_time, d.close(close_at), d.outputs


def both(batches: list[list[tuple]]) -> tuple[tuple, tuple]:
    fast = derived(batches)
    with pure_python():
        pure = derived(batches)
    return fast, pure


@pytest.fixture
def raw_batches():
    """Record a scenario in a real child and keep the raw event batches the viewer derived."""
    def run(target: str, *args: str) -> list[list[tuple]]:
        seen: list[list[tuple]] = []
        feed = Deriver.feed

        def keep(self, batch):
            seen.append(list(batch))
            return feed(self, batch)

        with mock.patch.object(Deriver, "feed", keep):
            record(target, *args)
        return seen
    return run


@pytest.mark.parametrize("scenario", ["gevent_sleepers", "gevent_echo_server", "crawler_gevent", "sleepers_patched",
                                      "sleepers_unpatched", "greenlet_switch", "selectors_server"])
def test_recorded_scenarios_derive_the_same_records_in_c_and_in_python(raw_batches, scenario):
    batches = raw_batches(scenario)
    kinds = {ev[0] for batch in batches for ev in protocol.expand_runs(batch)}
    fast, pure = both(batches)
    assert fast == pure
    if protocol.HUB_TO_TASK in kinds:  # the C path had work to do
        assert any(type(r) is StateRecord for r in fast[0])


def test_a_switch_heavy_program_derives_the_same_records_in_c_and_in_python(raw_batches, script):
    path = script("import gevent\n"
                  "def w(n):\n"
                  "    for i in range(50):\n"
                  "        gevent.sleep(0.001 * (i % 3 == 0))\n"
                  "    print('done', n)\n"
                  "gevent.joinall([gevent.spawn(w, n) for n in range(20)])\n")
    batches = raw_batches(str(path))
    switches = [ev for batch in batches for ev in protocol.expand_runs(batch)
                if ev[0] in (protocol.HUB_TO_TASK, protocol.TASK_TO_HUB)]
    assert len(switches) > 1000
    assert any(ev[0] == protocol.SWITCH_RUN for batch in batches for ev in batch)  # the C hook sent runs of them
    fast, pure = both(batches)
    assert fast == pure



@pytest.mark.parametrize("late", [True, False])
def test_a_wake_up_later_than_its_timer_or_its_poll_is_ready_from_then_in_c_as_in_python(late):
    """A task resumed noticeably after its timer fired or after the poll that returned its fd was ready meanwhile:
    the C path finds those spans itself, the same as Python (in order, with the same reasons)."""
    d = 0.2 if late else 0.001  # between the resumes: all after LATE (5 ms) of their cause, or all within it
    setup = [(protocol.TASK_SPAWNED, 0.0, 1, "Hub", "loop", None, None, None), (protocol.LOOP_BEFORE_POLL, 0.0, 1)]
    setup += [(protocol.TASK_SPAWNED, 0.0, tid, f"g{tid}", "greenlet", 1, "a.py", tid) for tid in (2, 3, 4, 5)]
    waits = [(2, ("gevent.sleep(0.1)", "blocked", 0.1, "a.py", 3, None)),
             (3, ("recv() on fd 7", "blocked", None, "a.py", 4, {"fd": 7})),
             (4, ("send() on fd 8", "blocked", None, "a.py", 5, {"fd": 8, "io": "write"})),
             (5, ("select() on fds [3, 5]", "blocked", None, "a.py", 6, {"fds": [3, 5]}))]
    events = [("Y", 1.0, tid, 1, item) for tid, item in waits]
    events += [(protocol.LOOP_BEFORE_POLL, 1.05, 1), (protocol.LOOP_AFTER_POLL, 1.1, 1)]  # the poll returns at 1.1, the timer is due at 1.1
    events += [("H", 1.1 + d * k, 1, tid) for k, (tid, _) in enumerate(waits, 1)]
    fast, pure = both([setup, events])
    assert fast == pure
    ready = [(r[2], r[4]) for r in fast[0] if type(r) is StateRecord and r[3] == "ready" and r[2] != 1]
    expected = [(2, "timer fired"), (3, "fd 7 readable"), (4, "fd 8 writable"), (5, "select() returned")]
    assert ready == (expected if late else [])
    deriver = Deriver()
    with mock.patch.object(Deriver, "_hub_resumes", side_effect=AssertionError("left to Python")):
        deriver.feed(setup)
        deriver.feed(events)  # the C path took every switch


# ---- fuzzed event sequences ------------------------------------------------------------------------------------
_ids = st.integers(1, 5)
_t = st.floats(0, 10, allow_nan=False, width=32).map(float)
_item = st.tuples(st.sampled_from(["gevent.sleep(0)", "recv() on fd 7", "waiting at yield", None]),
                  st.sampled_from(["blocked", "ready", "running"]),
                  st.sampled_from([0, 0.0, 0.002, 1, None]),
                  st.sampled_from([None, "a.py", "b.py"]), st.sampled_from([None, 3, 40]),
                  st.sampled_from([None, {}, {"fd": 7}, {"fd": 7, "io": "write"}, {"fds": [3, 5]},
                                   {"blocks_loop": True}, {"until": 3.0}]))
_hub = st.sampled_from([1, 1, 1, 2])  # mostly the hub the setup makes, sometimes a task that is not one
_task = st.sampled_from([2, 3, 4, 2, 3, 4, 1, 5])  # mostly tasks the setup names, sometimes the hub or a stranger
_switch = st.one_of(st.tuples(st.just("H"), _t, _hub, _task), st.tuples(st.just("Y"), _t, _task, _hub, _item))
_run = st.lists(_switch, min_size=1, max_size=6).map(protocol.pack_run)  # switches as the C hook sends them
_switch = _switch | _run  # as tuples, and in runs as the C hook sends them
_event = st.one_of(
    _switch, _switch, _switch, _switch,
    st.tuples(st.just(protocol.TASK_SPAWNED), _t, _ids, st.sampled_from(["Hub", "g1", "main"]),
              st.sampled_from(["loop", "greenlet", "main"]), st.none() | _ids, st.none(), st.none()),
    st.tuples(st.sampled_from([protocol.LOOP_BEFORE_POLL, protocol.LOOP_AFTER_POLL, protocol.TASK_EXITED]), _t, _ids),
    st.tuples(st.just(protocol.TASK_STATE), _t, _ids, st.sampled_from(["running", "blocked", "ready"]),
              st.sampled_from([None, "x"]), st.none(), st.none(), st.none() | st.just({"until": 2.0})),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_event, max_size=40), max_size=5))
def test_any_event_sequence_derives_the_same_records_in_c_and_in_python(batches):
    setup = [(protocol.TASK_SPAWNED, 0.0, 1, "Hub", "loop", None, None, None), (protocol.LOOP_BEFORE_POLL, 0.0, 1)]
    setup += [(protocol.TASK_SPAWNED, 0.0, tid, f"g{tid}", "greenlet", 1, "a.py", tid) for tid in (2, 3, 4)]
    fast, pure = both([setup, *batches])
    assert fast == pure


def test_a_hub_resume_and_a_wait_become_ready_running_and_blocked_spans_in_c():
    d = Deriver()
    setup = [(protocol.TASK_SPAWNED, 0.0, 1, "Hub", "loop", None, None, None),
             (protocol.TASK_SPAWNED, 0.0, 2, "g1", "greenlet", None, "a.py", 5)]
    d.feed(setup)
    got = d.feed([("H", 1.0, 1, 2), ("Y", 2.0, 2, 1, ("gevent.sleep(0)", "blocked", 0, "a.py", 7, None))])
    assert got == [("state", 1.0, 1, "ready", "switched to g1", None, None, False),
                   ("state", 1.0, 2, "running", None, "a.py", 5, False),
                   ("state", 2.0, 2, "blocked", "gevent.sleep(0)", "a.py", 7, False)]
    assert d.end_time == 2.0
    assert d.close(3.0)[0] == ("state", 2.0, 1, "running", None, None, None, False)  # the hub's held span


def test_tasks_are_keyed_by_the_very_id_objects_their_packed_switches_carry():
    """A task id past the ints Python keeps one object of (here 3000 and 4000) arrives in its spawn event as an int
    object of its own: the deriver keys its task, and the model its lane, by the object the C deriver makes for
    that id in packed switches, so their lookups match by identity instead of comparing equal ints."""
    import marshal

    from viz.trace.model import Trace

    hub, tid = 3000, 4000
    batch = marshal.loads(marshal.dumps([
        (protocol.TASK_SPAWNED, 0.0, hub, "hub", "loop", None, None, None),
        (protocol.TASK_SPAWNED, 0.0, tid, "g", "greenlet", None, "a.py", 3),
        protocol.pack_run([("H", 0.1, hub, tid), ("Y", 0.2, tid, hub, ("gevent.sleep(0)", "ready", 0.0, "a.py", 4,
                                                                           None))])]))
    d = Deriver()
    out = d.feed(batch)
    states = [r for r in out if type(r) is StateRecord]
    assert [(r.t, r.state) for r in states if r.task == tid] == [(0.1, "running"), (0.2, "ready")]
    key = next(k for k in d.tasks if k == tid)
    assert all(r.task is key for r in states if r.task == tid)
    trace = Trace()
    trace.add_many(out)
    lane_key = next(k for k in trace._lane_of if k == tid)
    assert lane_key is key
