"""Every wake-up has a cause: small programs with a known timeline, recorded in real child processes, whose tasks'
ready and running spans name the task that woke them (`by`) and the event (`what`), at the right moment; and the
cause records survive saving and loading, while traces saved before causes existed still load."""

from __future__ import annotations

import textwrap

import pytest

from conftest import ROOT, derived, fed_batches, lane, record, spans
from viz.trace.format import read_records
from viz.trace.model import Trace


def woken(trace: Trace, name: str, state: str | None = "running"):
    """(span, cause) for each span of task `name` in `state` (None: any) that has a cause."""
    ln = lane(trace, name)
    found = []
    for s in spans(trace, name, state):
        c = trace.cause_of(ln, s.index)
        if c is not None:
            found.append((s, c))
    return found


def task_id(trace: Trace, name: str) -> int:
    return lane(trace, name).task


def test_a_direct_greenlet_switch_is_caused_by_the_greenlet_that_switched_and_names_its_call(script):
    path = script("from greenlet import greenlet\nimport time\n"
                  "def test1():\n    time.sleep(0.1)\n    gr2.switch()\n    print('back')\n"
                  "def test2():\n    time.sleep(0.2)\n    gr1.switch()\n"
                  "gr1 = greenlet(test1)\ngr2 = greenlet(test2)\ngr1.switch()\n")
    trace = record(str(path))
    (first, c2), = woken(trace, "test2")
    assert c2.by == task_id(trace, "test1") and c2.what == "switched to by test1 (gr2.switch() at line 5)"
    assert 0.08 <= first.start - spans(trace, "test1")[0].start <= 0.3
    back = [(s, c) for s, c in woken(trace, "test1") if c.by == task_id(trace, "test2")]
    assert len(back) == 1 and back[0][1].what == "switched to by test2 (gr1.switch() at line 9)"
    assert 0.15 <= back[0][0].start - first.start <= 0.5  # test2 slept 0.2 s before switching back


def test_a_generator_resumed_by_send_is_caused_by_the_task_that_sent(script):
    path = script("import threading, time\n"
                  "def consumer():\n    while True:\n        n = yield\n"
                  "def producer(con):\n    for i in range(3):\n        time.sleep(0.1)\n        con.send(i)\n"
                  "con = consumer()\nnext(con)\n"
                  "th = threading.Thread(target=producer, args=(con,), name='producer')\nth.start()\nth.join()\n")
    trace = record(str(path))
    sends = [(s, c) for s, c in woken(trace, "consumer()") if c.by == task_id(trace, "producer")]
    assert [c.what for _, c in sends] == ["con.send(i) from producer"] * 3
    gaps = [b.start - a.start for (a, _), (b, _) in zip(sends, sends[1:])]
    assert all(0.08 <= g <= 0.3 for g in gaps)  # one send every 0.1 s
    (_, first), = [(s, c) for s, c in woken(trace, "consumer()") if c.by == task_id(trace, "main")]
    assert first.what == "next(con) from main"


def test_gevent_timer_and_fd_wake_ups_are_caused_by_the_hub_and_say_which_timer_and_fd(script):
    path = script("import gevent\nfrom gevent import socket\n"
                  "def sleeper():\n    gevent.sleep(0.3)\n"
                  "def reader(s):\n    s.recv(10)\n"
                  "def writer(s):\n    gevent.sleep(0.1)\n    s.send(b'hi')\n"
                  "a, b = socket.socketpair()\n"
                  "gevent.joinall([gevent.spawn(sleeper), gevent.spawn(reader, a), gevent.spawn(writer, b)])\n")
    trace = record(str(path))
    hub = task_id(trace, "hub")
    # (a wake-up the loop kept waiting more than 5 ms has its cause on the ready span before the running one)
    (slept, timer), = [(s, c) for s, c in woken(trace, "sleeper", None) if c.by == hub]
    assert timer.by == hub and timer.what == "the timer gevent.sleep(0.3) set at line 4 fired"
    assert 0.28 <= slept.start - spans(trace, "sleeper", "blocked")[0].start <= 0.5
    reader = next(ln.name for ln in trace.lanes if ln.name.startswith("reader"))
    (read, fd), = [(s, c) for s, c in woken(trace, reader, None) if c.by == hub]
    fdno = spans(trace, reader, "blocked")[0].reason.split()[3]  # "recv() on fd N"
    assert fd.what == f"fd {fdno} readable, returned by the hub's poll"
    assert 0.08 <= read.start - spans(trace, reader, "blocked")[0].start <= 0.3  # the writer sent after 0.1 s


def test_a_gevent_timer_due_while_the_loop_was_held_explains_the_ready_span_from_its_deadline(script):
    path = script("import time\nimport gevent\n"
                  "def sleeper():\n    gevent.sleep(0.1)\n"
                  "def hog():\n    time.sleep(0.4)\n"
                  "gevent.joinall([gevent.spawn(sleeper), gevent.spawn(hog)])\n")
    trace = record(str(path))
    ready = woken(trace, "sleeper", "ready")
    timed = [(s, c) for s, c in ready if c.by == task_id(trace, "hub")]
    assert len(timed) == 1
    span, cause = timed[0]
    assert span.reason == "timer fired" and cause.what == "the timer gevent.sleep(0.1) set at line 4 fired"
    assert 0.08 <= span.start - spans(trace, "sleeper", "blocked")[0].start <= 0.2  # from the deadline on
    assert span.duration >= 0.2  # until the hog let the loop go


def test_the_c_deriver_and_the_python_one_give_a_gevent_programs_wake_ups_the_same_causes(script):
    """The hub's timer and fd causes are derived in viz/ingest/_derive.c on the fast path, as derive.py does."""
    import viz.ingest.derive as derive
    if derive._switches is None:
        pytest.skip("the C deriver is not built or turned off (VIZ_PURE_PYTHON)")
    path = script("import time\nimport gevent\nfrom gevent import socket\n"
                  "def sleeper():\n    gevent.sleep(0.05)\n"
                  "def reader(s):\n    s.recv(10)\n"
                  "def writer(s):\n    gevent.sleep(0.02)\n    s.send(b'hi')\n    time.sleep(0.1)\n"
                  "a, b = socket.socketpair()\n"
                  "gevent.joinall([gevent.spawn(sleeper), gevent.spawn(reader, a), gevent.spawn(writer, b)])\n")
    batches = fed_batches(path)

    def causes(pure_python: bool) -> list:
        return [r for r in derived(batches, pure_python) if type(r) is dict and r["k"] == "cause"]
    fast, pure = causes(False), causes(True)
    assert fast == pure
    whats = [c["what"] for c in fast]
    assert "the timer gevent.sleep(0.05) set at line 5 fired" in whats  # woke late: the writer's time.sleep held it
    assert any(w.endswith("readable, returned by the hub's poll") for w in whats)


def test_a_connection_of_a_select_loop_is_made_ready_by_the_loops_select(script):
    path = script(
        "import selectors, socket, threading, time\n"
        "sel = selectors.DefaultSelector()\nsrv = socket.socket()\nsrv.bind(('127.0.0.1', 0))\nsrv.listen()\n"
        "srv.setblocking(False)\nport = srv.getsockname()[1]\n"
        "def client():\n    c = socket.create_connection(('127.0.0.1', port))\n    time.sleep(0.2)\n"
        "    c.sendall(b'hello')\n    c.recv(10)\n    c.close()\n"
        "th = threading.Thread(target=client, name='client 1')\nth.start()\n"
        "sel.register(srv, selectors.EVENT_READ)\ndone = False\n"
        "while not done:\n    for key, _ in sel.select():\n        if key.fileobj is srv:\n"
        "            conn, _ = srv.accept()\n            conn.setblocking(False)\n"
        "            sel.register(conn, selectors.EVENT_READ)\n        else:\n"
        "            data = key.fileobj.recv(10)\n            key.fileobj.send(data)\n"
        "            sel.unregister(key.fileobj)\n            key.fileobj.close()\n            done = True\n"
        "th.join()\n")
    trace = record(str(path))
    conn = next(ln for ln in trace.lanes if ln.kind == "connection")
    (ready, cause), = woken(trace, conn.name, "ready")
    fd = ready.reason.split()[1]  # "fd 7 readable"
    assert cause.by == task_id(trace, "main") and cause.what == f"select() returned fd {fd}"
    assert 0.15 <= ready.start - spans(trace, conn.name)[0].start <= 0.5  # the client sent after 0.2 s
    # and main's select() returned because the client wrote: the chain goes on to the client's sendall()
    (loop_run, by_client), = [(s, c) for s, c in woken(trace, "main") if "readable" in c.what]
    assert by_client.by == task_id(trace, "client 1") and by_client.what == f"fd {fd} readable: sendall() by client 1"
    assert abs(loop_run.start - ready.start) < 0.01
    # the client's recv() returned the echo main sent
    (_, echoed), = [(s, c) for s, c in woken(trace, "client 1") if "send" in c.what]
    assert echoed.by == task_id(trace, "main") and echoed.what == "send() by main"


def test_a_threads_blocking_read_names_the_thread_that_sent_and_end_of_file_the_one_that_closed(script):
    path = script(textwrap.dedent("""\
        import socket, threading, time
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        def server():
            conn, _ = srv.accept()
            time.sleep(0.2)
            conn.sendall(b"reply")
            conn.close()  # at once: the reply is read first, then end of file
        th = threading.Thread(target=server, name="server")
        th.start()
        c = socket.create_connection(("127.0.0.1", port))
        print(c.recv(100))
        print(c.recv(100))
        th.join()
        a, b = socket.socketpair()  # no connect/accept: its ends are not paired, no cause is made up
        threading.Timer(0.1, b.send, (b"x",)).start()
        print(a.recv(1))
        """))
    trace = record(str(path))
    server = task_id(trace, "server")
    by_server = [(s, c) for s, c in woken(trace, "main")
                 if c.by == server and c.what not in ("server started", "join: server ended")]
    assert [c.what for _, c in by_server] == ["sendall() by server", "close() by server"], by_server
    (reply, _), (eof, _) = by_server
    assert reply.reason.endswith("→ 5 bytes") and eof.reason.endswith("→ 0 bytes (the peer closed)")
    wait = next(s for s in spans(trace, "main", "blocked") if s.end == reply.start)
    assert 0.15 <= wait.end - wait.start <= 0.6  # the server sent after 0.2 s
    assert not [c for _, c in woken(trace, "main") if c.what.startswith("send() by")]  # the socketpair's read


def test_threads_woken_by_event_queue_lock_and_join_name_the_thread_that_released_them(script):
    path = script("import threading, queue, time\n"
                  "evt, q, lock = threading.Event(), queue.Queue(), threading.Lock()\n"
                  "def setter():\n    time.sleep(0.2)\n    evt.set()\n    time.sleep(0.2)\n    q.put(1)\n"
                  "def holder():\n    with lock:\n        time.sleep(0.7)\n"
                  "def waiter():\n    evt.wait()\n    q.get()\n    with lock:\n        pass\n"
                  "ts = [threading.Thread(target=holder, name='A'), threading.Thread(target=setter, name='worker-2'),\n"
                  "      threading.Thread(target=waiter, name='waiter')]\n"
                  "for t in ts: t.start()\nfor t in ts: t.join()\n")
    trace = record(str(path))
    causes = woken(trace, "waiter")
    assert [(c.by, c.what) for _, c in causes] == [
        (task_id(trace, "worker-2"), "Event.set() by worker-2"), (task_id(trace, "worker-2"), "Queue.put() by worker-2"),
        (task_id(trace, "A"), "lock released by A")]
    start = spans(trace, "waiter", "blocked")[0].start
    for (span, _), due in zip(causes, (0.2, 0.4, 0.7)):  # the setter's and the holder's timeline
        assert due - 0.05 <= span.start - start <= due + 0.25
    joined = [c for _, c in woken(trace, "main")]
    assert ("join: A ended", task_id(trace, "A")) in [(c.what, c.by) for c in joined]


def test_threads_woken_by_a_condition_a_semaphore_and_their_start_name_the_thread_behind_it(script):
    path = script("import threading, time\n"
                  "cond, sem, ready = threading.Condition(), threading.Semaphore(0), False\n"
                  "def notifier():\n    global ready\n    time.sleep(0.2)\n"
                  "    with cond:\n        ready = True\n        cond.notify_all()\n"
                  "    time.sleep(0.2)\n    sem.release()\n"
                  "def waiter():\n    with cond:\n        cond.wait_for(lambda: ready)\n    sem.acquire()\n"
                  "ts = [threading.Thread(target=notifier, name='notifier'), threading.Thread(target=waiter, name='waiter')]\n"
                  "for t in ts: t.start()\nfor t in ts: t.join()\n")
    trace = record(str(path))
    notifier = task_id(trace, "notifier")
    causes = woken(trace, "waiter")
    assert [(c.by, c.what) for _, c in causes] == [(notifier, "Condition.notify() by notifier"),
                                                   (notifier, "Semaphore.release() by notifier")]
    start = spans(trace, "waiter", "blocked")[0].start
    for (span, _), due in zip(causes, (0.2, 0.4)):
        assert due - 0.05 <= span.start - start <= due + 0.25
    started = [(c.by, c.what) for _, c in woken(trace, "main")]
    assert (notifier, "notifier started") in started and (task_id(trace, "waiter"), "waiter started") in started


def test_asyncio_wake_ups_name_the_waking_task_or_the_loop(script):
    path = script("import asyncio\n"
                  "async def consumer(q):\n    await q.get()\n"
                  "async def producer(q):\n    await asyncio.sleep(0.2)\n    await q.put(1)\n"
                  "async def main():\n    q = asyncio.Queue()\n    await asyncio.gather(consumer(q), producer(q))\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    loop = next(ln for ln in trace.lanes if ln.kind == "loop").task
    (got, by_producer), = [(s, c) for s, c in woken(trace, "consumer(Queue)", "ready") if c.what.startswith("woken")]
    assert by_producer.by == task_id(trace, "producer(Queue)") and by_producer.what == "woken by producer(Queue)"
    assert 0.15 <= got.start - spans(trace, "consumer(Queue)", "blocked")[0].start <= 0.5
    (_, timer), = [(s, c) for s, c in woken(trace, "producer(Queue)", "ready") if c.what == "timer fired"]
    assert timer.by == loop


def test_a_spawned_task_is_caused_by_its_parent(script):
    path = script("import gevent\n"
                  "def job():\n    gevent.sleep(0.05)\n"
                  "gevent.spawn(job).join()\n")
    trace = record(str(path))
    first = spans(trace, "job")[0]
    cause = trace.cause_of(lane(trace, "job"), first.index)
    assert (first.state, cause.by, cause.what) == ("ready", task_id(trace, "main"),
                                                   "spawned by main (its code starts at line 2)")


def test_a_saved_and_reloaded_trace_keeps_its_causes(script, tmp_path):
    path = script("import threading, time\nevt = threading.Event()\n"
                  "def setter():\n    time.sleep(0.1)\n    evt.set()\n"
                  "th = threading.Thread(target=setter, name='setter')\nth.start()\nevt.wait()\nth.join()\n")
    out = tmp_path / "run.jsonl"
    trace = record(str(path), out=out)
    written = [r for r in read_records(out) if r["k"] == "cause"]
    assert {"k", "t", "task", "by", "what"} == set(written[0])
    loaded = Trace.load(out)
    assert loaded.causes == trace.causes and loaded.causes
    again = tmp_path / "again.jsonl"
    loaded.save(again)
    reloaded = Trace.load(again)
    assert reloaded.causes == trace.causes
    main = lane(reloaded, "main")
    woke = [reloaded.cause_of(main, s.index) for s in spans(reloaded, "main", "running")]
    assert ("Event.set() by setter", lane(reloaded, "setter").task) in [(c.what, c.by) for c in woke if c]


OLD_TRACES = ("baozi.jsonl", "gevent_sleepers.jsonl", "select_server.jsonl", "sleepers_unpatched.jsonl")  # pre-causes


@pytest.mark.parametrize("old", OLD_TRACES)
def test_a_trace_saved_before_causes_existed_loads_with_none(old):
    trace = Trace.load(ROOT / "tests" / "data" / old)
    assert trace.lanes and trace.causes == {}
    ln = trace.lanes[0]
    assert trace.cause_of(ln, 0) is None
