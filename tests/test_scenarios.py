"""Each seed scenario, recorded for real in a child process, shows what the course notes claim."""

from __future__ import annotations

import re

import pytest

from conftest import lane, record, spans, texts
from viz.views.verdict import verdict


def test_greenlet_switch_prints_12_56_34_78_from_test1_test2_test1_test2():
    trace = record("greenlet_switch")
    names = {ln.task: ln.name for ln in trace.lanes}
    printed = [(names[o.task], o.text) for o in trace.outputs]
    assert printed == [("test1", "12"), ("test2", "56"), ("test1", "34"), ("test2", "78")]
    assert any(s.reason == "switched to test2" for s in spans(trace, "test1", "blocked"))
    assert any(s.reason == "switched to test1" for s in spans(trace, "test2", "blocked"))
    assert trace.exit["outcome"] == "finished"


def test_baozi_each_consumer_prints_on_its_own_lane_and_waits_at_yield_between_sends():
    trace = record("baozi")
    for name in ("c1", "c2"):
        mine = texts(trace, f"consumer('{name}')")
        assert [t for t in mine if "eating baozi" in t and name in t] == [
            f"[{name}] is eating baozi {n}" for n in range(1, 6)]
        waits = spans(trace, f"consumer('{name}')", "blocked")
        assert len(waits) >= 5 and all(s.reason == "waiting at yield" for s in waits)
    producer_lines = [t for t in texts(trace, "main") if "[producer]" in t]
    assert len(producer_lines) == 5 and "\x1b[32;1m" in producer_lines[0]  # ANSI colour kept
    sends = [s.reason for s in spans(trace, "main", "blocked")]
    assert "con.send(n)" in sends and "con2.send(n)" in sends


def _sleep_seconds(trace, name):
    return sum(s.duration for s in spans(trace, name, "blocked") if "sleep" in (s.reason or ""))


@pytest.mark.parametrize("scenario, words", [("gevent_sleepers", "gevent.sleep"),
                                             ("sleepers_patched", "time.sleep")])
def test_gevent_sleepers_overlap_so_the_run_takes_the_longest_sleep_not_the_sum(scenario, words):
    trace = record(scenario)
    outer = next(ln.name for ln in trace.lanes if ln.name.startswith("outer"))
    for name, secs in (("fun", 2.0), ("inner", 1.0), (outer, 0.5)):
        assert _sleep_seconds(trace, name) == pytest.approx(secs, abs=0.25)
        assert any(words in (s.reason or "") for s in spans(trace, name, "blocked"))
    main_wait = sum(s.duration for s in spans(trace, "main", "blocked"))
    assert 1.9 < main_wait < 3.0, "the joinall lasts about 2.0 s, not 3.5 s"
    assert verdict(trace).work > 3.3
    assert not any(s.blocks_loop for ln in trace.lanes for s in trace.spans(ln))
    hub = lane(trace, "hub")
    assert trace.totals(hub)["idle"] > 1.5, "the hub polls while everyone sleeps"


def test_sleepers_unpatched_run_one_after_another_while_the_others_sit_ready():
    trace = record("sleepers_unpatched")
    fun_sleep = [s for s in spans(trace, "fun", "blocked") if s.blocks_loop]
    assert len(fun_sleep) == 1 and fun_sleep[0].reason == "time.sleep(2)"  # the flag says it blocks the loop
    sleep = fun_sleep[0]
    inner_ready = [s for s in spans(trace, "inner", "ready") if s.start <= sleep.start + 0.01]
    assert inner_ready and inner_ready[0].end >= sleep.end - 0.01, "inner is ready all through fun's sleep"
    main_wait = sum(s.duration for s in spans(trace, "main", "blocked"))
    assert main_wait > 3.3, "serial: about 3.5 s"
    # the hub is not polling meanwhile: it handed the loop to fun and waits for it back, like every other task
    hub_during = [s for s in spans(trace, "hub") if s.start < sleep.end - 0.01 and s.end > sleep.start + 0.01]
    assert [(s.state, s.reason) for s in hub_during] == [("ready", "switched to fun")]


def test_crawler_gevent_fetches_overlap_and_finish_well_before_crawler_serial():
    serial = record("crawler_serial")
    patched = record("crawler_gevent")

    def fetch_window(trace):
        lanes = [ln for ln in trace.lanes if ln.name.startswith("func(")]
        assert len(lanes) == 3
        return lanes, min(ln.starts[0] for ln in lanes), max(ln.ended for ln in lanes)
    s_lanes, s0, s1 = fetch_window(serial)
    p_lanes, p0, p1 = fetch_window(patched)
    assert (p1 - p0) < 0.75 * (s1 - s0)
    # patched: all three are blocked on the network at one moment
    blocked_at = lambda tr, ln, t: (sp := tr.span_at(ln, t)) is not None and sp.state == "blocked"
    probes = [p0 + (p1 - p0) * k / 20 for k in range(1, 20)]
    assert any(all(blocked_at(patched, ln, t) for ln in p_lanes) for t in probes)
    # serial: the network waits block the whole loop
    assert any(s.blocks_loop for ln in s_lanes for s in serial.spans(ln))


def test_select_server_loop_alternates_between_select_and_running_and_serves_each_connection_on_its_lane():
    trace = record("select_server")
    main = spans(trace, "main")
    selects = [s for s in main if s.state == "blocked" and (s.reason or "").startswith("select() on fds [")]
    assert len(selects) >= 6
    assert re.fullmatch(r"select\(\) on fds \[\d+(, \d+)*\]", selects[0].reason)
    returned = [s for s in main if s.state == "running" and (s.reason or "").startswith("select() returned readable")]
    assert len(returned) >= 6
    for n in (1, 2, 3):
        replies = texts(trace, f"client {n}")
        assert any(t.endswith(f"HELLO FROM CLIENT {n}") for t in replies), replies
    conns = [ln for ln in trace.lanes if ln.kind == "connection"]
    assert sorted(ln.name.split(" ", 1)[1] for ln in conns) == ["(client 1)", "(client 2)", "(client 3)"]
    for ln in conns:
        states = {s.state for s in trace.spans(ln)}
        assert {"blocked", "ready", "running"} <= states
        assert any((s.reason or "").endswith("readable") for s in trace.spans(ln) if s.state == "ready")


def test_selectors_server_serves_every_client_on_a_connection_lane():
    trace = record("selectors_server")
    assert len([ln for ln in trace.lanes if ln.kind == "connection"]) >= 3
    assert any((s.reason or "").startswith("select() on fds") for s in spans(trace, "main", "blocked"))
    assert trace.exit["outcome"] == "finished"


def test_gevent_echo_server_gives_each_connection_a_greenlet_that_waits_in_recv():
    trace = record("gevent_echo_server")
    handlers = [ln for ln in trace.lanes if ln.kind == "greenlet" and re.fullmatch(r"127\.0\.0\.1:\d+ \(client\(\d\)\)", ln.name)]
    assert len(handlers) >= 3
    for ln in handlers:
        assert any(re.match(r"recv\(\) on fd \d+ \(127\.0\.0\.1:\d+\)", s.reason or "") for s in trace.spans(ln))
    assert any("accept() on fd" in (s.reason or "") for ln in trace.lanes for s in trace.spans(ln))
    assert sum("Received" in t for t in texts(trace)) >= 3


def test_the_three_programming_models_do_the_same_tasks_serially_in_threads_and_on_one_loop():
    sync, threads, events = record("model_sync"), record("model_threads"), record("model_events")
    thread_lanes = [ln for ln in threads.lanes if ln.name.startswith("task ")]
    assert len(thread_lanes) == 3
    gen_lanes = [ln for ln in events.lanes if ln.kind == "generator"]
    assert len(gen_lanes) == 3
    assert threads.duration < 0.8 * sync.duration
    assert events.duration < 0.8 * sync.duration
    assert all(t.exit["outcome"] == "finished" for t in (sync, threads, events))
