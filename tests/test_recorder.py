"""Scripts that are not scenarios record as faithfully: threads, queues, gevent primitives, asyncio, generators."""

from __future__ import annotations

import pytest

from conftest import lane, record, spans, texts


def test_threads_waiting_on_a_queue_and_a_sleep_are_blocked_for_those_reasons(script):
    path = script(
        "import threading, queue, time\nq = queue.Queue()\n"
        "def producer():\n    for i in range(3):\n        time.sleep(0.05)\n        q.put(i)\n    q.put(None)\n"
        "def consumer():\n    while (item := q.get()) is not None:\n        print('got', item)\n"
        "ts = [threading.Thread(target=producer), threading.Thread(target=consumer, name='eater')]\n"
        "for t in ts: t.start()\nfor t in ts: t.join()\n")
    trace = record(str(path))
    assert {ln.name for ln in trace.lanes} == {"main", "producer", "eater"}
    assert any(s.reason == "time.sleep(0.05)" for s in spans(trace, "producer", "blocked"))
    assert any(s.reason == "Queue.get()" for s in spans(trace, "eater", "blocked"))
    assert any(s.reason == "join (producer)" for s in spans(trace, "main", "blocked"))
    assert texts(trace, "eater") == ["got 0", "got 1", "got 2"]
    assert lane(trace, "producer").kind == "thread"


def test_gevent_events_queues_and_pools_block_on_the_call_as_written(script):
    path = script(
        "import gevent\nfrom gevent.event import Event\nfrom gevent.queue import Queue\nfrom gevent.pool import Pool\n"
        "evt, q = Event(), Queue()\n"
        "def waiter():\n    evt.wait()\n    print('got', q.get())\n"
        "def setter():\n    gevent.sleep(0.05)\n    evt.set()\n    gevent.sleep(0.05)\n    q.put('item')\n"
        "pool = Pool(2)\npool.spawn(waiter)\npool.spawn(setter)\npool.join()\n")
    trace = record(str(path))
    reasons = [s.reason for s in spans(trace, "waiter", "blocked")]
    assert reasons == ["evt.wait()", "q.get()"]
    assert any(s.reason == "pool.join()" for s in spans(trace, "main", "blocked"))
    assert texts(trace, "waiter") == ["got item"]


def test_a_greenlet_spawned_later_waits_on_its_timer_and_is_ready_only_once_it_is_due(script):
    """spawn_later: blocked on its delay (not `ready`, which would say the loop keeps it waiting), then `ready` from
    the deadline while an unpatched time.sleep holds the loop, then running."""
    path = script("import time\nimport gevent\n"
                  "def job(n):\n    print('job', n)\n"
                  "def hog():\n    time.sleep(0.4)\n"
                  "delay = 0.1\n"
                  "late = gevent.spawn_later(delay, job, 1)\n"
                  "g = gevent.Greenlet(job, 2)\ng.start_later(0.05)\n"
                  "gevent.joinall([late, g, gevent.spawn(hog)])\n")
    trace = record(str(path))
    first, second = spans(trace, "job(1)"), spans(trace, "job(2)")
    assert [(s.state, s.reason) for s in first[:2]] == [("blocked", "gevent.spawn_later(delay, job, 1)"),
                                                        ("ready", "timer fired")]
    assert first[1].start - first[0].start == pytest.approx(0.1, abs=0.02)  # ready from its deadline on
    assert first[2].state == "running" and first[2].start >= spans(trace, "hog", "blocked")[0].end - 0.01
    assert [(s.state, s.reason) for s in second[:2]] == [("blocked", "g.start_later(0.05)"), ("ready", "timer fired")]
    assert not [s for s in first + second if s.state == "ready" and s.reason == "spawned"]


def test_a_greenlets_uncaught_exception_is_output_of_that_greenlet(script):
    path = script("import gevent\ndef boom():\n    gevent.sleep(0.01)\n    raise ValueError('bad greenlet')\n"
                  "gevent.joinall([gevent.spawn(boom)])\nprint('main goes on')\n")
    trace = record(str(path))
    assert any("ValueError: bad greenlet" in t for t in texts(trace, "boom"))
    assert texts(trace, "main") == ["main goes on"]


def test_asyncio_tasks_get_lanes_blocked_at_their_innermost_await(script):
    path = script("import asyncio\nasync def nap(n):\n    await asyncio.sleep(0.05 * n)\n"
                  "async def work(n):\n    await nap(n)\n    print('work', n)\n"
                  "async def main():\n    await asyncio.gather(work(1), work(2))\nasyncio.run(main())\n")
    trace = record(str(path))
    assert {"main()", "work(1)", "work(2)"} <= {ln.name for ln in trace.lanes}
    assert "nap(1)" not in {ln.name for ln in trace.lanes}, "an awaited coroutine belongs to its task"
    assert [s.reason for s in spans(trace, "work(2)", "blocked")] == ["await asyncio.sleep(0.05 * n)"]
    assert texts(trace, "work(1)") == ["work 1"]
    assert [s.reason for s in spans(trace, "main", "blocked")][0] == "asyncio.run(main())"  # the loop has a lane


def test_a_generator_closed_early_ends_its_lane_and_generator_expressions_get_no_lane(script):
    path = script("def ticker():\n    while True:\n        n = yield\n        print('tick', n)\n"
                  "t = ticker()\nnext(t)\nt.send(1)\nt.close()\nprint(sum(x for x in range(3)))\n")
    trace = record(str(path))
    ticker = lane(trace, "ticker()")
    assert ticker.ended is not None and ticker.ended < trace.duration
    assert texts(trace, "ticker()") == ["tick 1"]
    assert [ln.kind for ln in trace.lanes] == ["main", "generator"]


def test_raw_greenlets_are_named_after_their_function_before_anyone_switches_to_them(script):
    path = script("from greenlet import greenlet\ndef ping():\n    pong_g.switch()\ndef pong():\n    pass\n"
                  "ping_g, pong_g = greenlet(ping), greenlet(pong)\nping_g.switch()\n")
    trace = record(str(path))
    assert [s.reason for s in spans(trace, "main", "blocked")] == ["switched to ping"]
    assert [s.reason for s in spans(trace, "ping", "blocked")] == ["switched to pong"]


def test_a_blocking_socket_call_under_a_gevent_hub_is_marked_as_blocking_the_loop(script):
    path = script(
        "import socket, threading, time, gevent\n"
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
        "def serve():\n    conn, _ = srv.accept()\n    time.sleep(0.2)\n    conn.sendall(b'hi')\n    conn.close()\n"
        "threading.Thread(target=serve, name='server').start()\n"
        "def fetch():\n    c = socket.socket(); c.connect(srv.getsockname())\n    print(c.recv(10))\n"
        "def tick():\n    gevent.sleep(0.05)\n    print('tick')\n"
        "gevent.joinall([gevent.spawn(fetch), gevent.spawn(tick)])\n")
    trace = record(str(path))
    recv = [s for s in spans(trace, "fetch", "blocked") if s.reason.startswith("recv() on fd")]
    assert recv and recv[0].blocks_loop and "blocks the whole loop" not in recv[0].reason  # words are the views'
    assert texts(trace, "fetch") == ["b'hi'"] and texts(trace, "tick") == ["tick"]


def test_a_hub_in_a_long_poll_is_shown_idle_before_the_poll_returns():
    """Live, a hub that polls for 0.5 s shows as idle while it polls (not as what it did before), and the whole
    trace is the same as when the idle span is only known once the poll returns."""
    from viz import protocol
    from viz.ingest.derive import Deriver
    from viz.ingest.session import Session
    from viz.scenarios import resolve
    from viz.trace.record import StateRecord

    path, name = resolve("gevent_sleepers")  # the hub polls for 0.5 s, then 0.5 s, then 1 s
    session = Session(path, name=name, timeout=30).start()
    polls: list[list] = []
    try:
        while not session.done:
            polls.append(session.poll(0.05))
    finally:
        session.close()
    hub = next(r["task"] for batch in polls for r in batch if type(r) is dict and r.get("name") == "hub")

    def hub_states(batch):
        return [r for r in batch if type(r) is StateRecord and r[0] == "state" and r[2] == hub]
    early = [(i, r) for i, batch in enumerate(polls) for r in hub_states(batch)
             if r[3] == "idle" and not any(s[4] == "poll returned" for s in hub_states(batch))]
    assert early, "no idle span of the hub arrived before its poll returned"
    for i, idle in early:  # the poll's end comes later, as running "poll returned", with no second idle span
        later = [s for batch in polls[i + 1:] for s in hub_states(batch)]
        assert later and later[0][3] == "running" and later[0][4] == "poll returned" and later[0][1] > idle[1] + 0.3

    # the same raw events without the early idle: the same records in the same order
    setup = [(protocol.TASK_SPAWNED, 0.0, 1, "hub", "loop", None, None, None), (protocol.TASK_SPAWNED, 0.0, 2, "g", "greenlet", 1, "a.py", 3),
             ("H", 0.1, 1, 2), ("Y", 0.2, 2, 1, ("gevent.sleep(1)", "blocked", 1.0, "a.py", 4, {"until": 1.2}))]
    events = [(protocol.LOOP_BEFORE_POLL, 0.21, 1), (protocol.LOOP_AFTER_POLL, 1.2, 1), ("H", 1.21, 1, 2)]
    told, plain = Deriver(), Deriver()
    told.feed(setup)
    plain.feed(setup)
    before = told.feed(events[:1])
    early_idle = told.quiet()
    assert [r[1:4] for r in early_idle if r[0] == "state"][-1] == (0.21, 1, "idle")
    assert told.quiet() == []  # once per poll
    got = before + early_idle + told.feed(events[1:]) + told.close(2.0)
    assert got == plain.feed(events) + plain.close(2.0)
