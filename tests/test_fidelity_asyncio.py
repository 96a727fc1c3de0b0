"""asyncio recorded as a runtime of its own (viz/recorder/asyncio_loop.py): small programs with a known timeline, run
in a real child process, whose lanes, states and times are checked within a tolerance.

The event loop is a lane (`asyncio loop`, idle while it polls), each asyncio task is one, blocked at its innermost
await, ready from its wake-up until its step runs; a blocking call in a coroutine holds the whole loop.
"""

from __future__ import annotations

import re

from conftest import lane, record, spans, streamed_until_signalled, texts


def _length(s) -> float:
    return s.end - s.start


def test_two_sleeping_tasks_are_blocked_for_their_sleeps_while_the_loop_is_idle_polling_its_timer(script):
    path = script("import asyncio\n"
                  "async def nap(n):\n    await asyncio.sleep(n)\n    print('woke', n)\n"
                  "async def main():\n    await asyncio.gather(nap(0.1), nap(0.2))\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    short, long_ = spans(trace, "nap(0.1)", "blocked"), spans(trace, "nap(0.2)", "blocked")
    assert [s.reason for s in short] == ["await asyncio.sleep(n)"] and 0.08 <= _length(short[0]) <= 0.16
    assert [s.reason for s in long_] == ["await asyncio.sleep(n)"] and 0.18 <= _length(long_[0]) <= 0.28
    assert not spans(trace, "nap(0.2)", "ready") or max(_length(s) for s in spans(trace, "nap(0.2)", "ready")) < 0.02
    loop = lane(trace, "asyncio loop")
    assert loop.kind == "loop"
    idle = spans(trace, "asyncio loop", "idle")
    assert 0.15 <= sum(_length(s) for s in idle) <= 0.3  # it waits for the timers, and does nothing else
    assert idle[0].reason.startswith("polling: timer in 0.1") and "fds" not in idle[0].reason  # not its self-pipe
    assert [s.reason for s in spans(trace, "main", "blocked")][0] == "asyncio.run(main())"
    assert not [s for s in spans(trace, "main", "blocked") if s.reason.startswith("select()")]
    assert texts(trace, "nap(0.1)") == ["woke 0.1"] and texts(trace, "nap(0.2)") == ["woke 0.2"]


def test_time_sleep_in_a_coroutine_blocks_the_loop_and_a_task_whose_timer_came_due_is_ready_not_blocked(script):
    path = script("import asyncio, time\n"
                  "async def tick():\n    await asyncio.sleep(0.05)\n    print('tick')\n"
                  "async def hog():\n    time.sleep(0.3)\n"
                  "async def main():\n    t = asyncio.create_task(tick())\n    await asyncio.sleep(0)\n"
                  "    await asyncio.gather(hog(), t)\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    held = spans(trace, "hog()", "blocked")
    assert [s.reason for s in held] == ["time.sleep(0.3)"] and held[0].blocks_loop
    assert 0.25 <= _length(held[0]) <= 0.6
    tick = [s for s in spans(trace, "tick()") if s.state != "running"]
    assert [(s.state, s.reason) for s in tick] == [("ready", "spawned"), ("blocked", "await asyncio.sleep(0.05)"),
                                                    ("ready", "timer fired")]
    blocked, ready = tick[1], tick[2]
    assert 0.04 <= _length(blocked) <= 0.08  # blocked on its timer only until the deadline...
    assert 0.2 <= _length(ready) <= 0.4      # ...then ready, while the loop is held
    assert ready.end >= held[0].end - 0.01
    assert texts(trace, "tick()") == ["tick"]


def test_tasks_are_named_by_the_program_else_by_their_coroutine_and_arguments(script):
    path = script("import asyncio\n"
                  "async def fetch(url, n):\n    await asyncio.sleep(0.01)\n"
                  "async def main():\n"
                  "    a = asyncio.create_task(fetch('a', 1), name='fetcher')\n"
                  "    b = asyncio.create_task(fetch('b', 2))\n    b.set_name('renamed')\n"
                  "    c = asyncio.create_task(fetch('c', 3))\n"
                  "    await asyncio.gather(a, b, c)\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    names = [ln.name for ln in trace.lanes if ln.kind == "asyncio"]
    assert sorted(names) == ["fetch('c', 3)", "fetcher", "main()", "renamed"]
    assert [s.reason for s in spans(trace, "fetcher", "blocked")] == ["await asyncio.sleep(0.01)"]


def test_a_consumer_waits_on_the_queue_and_is_woken_by_the_producer(script):
    path = script("import asyncio\n"
                  "async def producer(q):\n    for i in range(3):\n        await asyncio.sleep(0.1)\n"
                  "        await q.put(i)\n"
                  "async def consumer(q):\n    for _ in range(3):\n        print('got', await q.get())\n"
                  "async def main():\n    q = asyncio.Queue()\n"
                  "    await asyncio.gather(asyncio.create_task(producer(q), name='producer'),\n"
                  "                         asyncio.create_task(consumer(q), name='consumer'))\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    waits = spans(trace, "consumer", "blocked")
    assert [s.reason for s in waits] == ["await q.get()"] * 3
    assert all(0.08 <= _length(s) <= 0.16 for s in waits)
    assert [s.reason for s in spans(trace, "consumer", "ready")][1:] == ["woken by producer"] * 3
    assert [s.reason for s in spans(trace, "producer", "blocked")] == ["await asyncio.sleep(0.1)"] * 3
    assert texts(trace, "consumer") == ["got 0", "got 1", "got 2"]


def test_a_cancelled_task_ends_when_cancelled_and_says_so(script):
    path = script("import asyncio\n"
                  "async def forever():\n    await asyncio.sleep(10)\n"
                  "async def main():\n    t = asyncio.create_task(forever())\n    await asyncio.sleep(0.1)\n"
                  "    t.cancel()\n    try:\n        await t\n    except asyncio.CancelledError:\n"
                  "        print('cancelled')\n    await asyncio.sleep(0.1)\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    task = lane(trace, "forever()")
    blocked = spans(trace, "forever()", "blocked")
    assert [s.reason for s in blocked] == ["await asyncio.sleep(10)"] and 0.08 <= _length(blocked[0]) <= 0.16
    assert "cancel() by main()" in [s.reason for s in spans(trace, "forever()", "ready")]
    assert any("cancelled" in (s.reason or "") for s in spans(trace, "forever()"))
    assert task.ended is not None and task.ended < trace.duration - 0.05  # it ended then, not at the end of the run
    assert texts(trace, "main()") == ["cancelled"]


def test_an_asyncio_echo_server_has_one_lane_per_connection_handler_blocked_on_its_socket(script):
    path = script("import asyncio\n"
                  "async def handle(reader, writer):\n    while data := await reader.read(100):\n"
                  "        writer.write(data)\n        await writer.drain()\n    writer.close()\n"
                  "async def client(n, port):\n"
                  "    reader, writer = await asyncio.open_connection('127.0.0.1', port)\n"
                  "    for i in range(2):\n        await asyncio.sleep(0.1)\n        writer.write(b'hi')\n"
                  "        print(await reader.read(100))\n"
                  "    writer.close()\n    await writer.wait_closed()\n"
                  "async def main():\n    server = await asyncio.start_server(handle, '127.0.0.1', 0)\n"
                  "    port = server.sockets[0].getsockname()[1]\n"
                  "    async with server:\n"
                  "        await asyncio.gather(client(1, port), client(2, port))\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    clients = sorted(ln.name for ln in trace.lanes if ln.name.startswith("client("))
    handlers = [ln for ln in trace.lanes if ln.name.startswith("127.0.0.1:")]
    assert len(clients) == 2 and len(handlers) == 2  # one lane per connection: no second one from accept()
    # named as gevent names a handler: by its peer, and the task of this program at the other end
    assert sorted(re.sub(r"^127\.0\.0\.1:\d+ \((.*)\)$", r"\1", h.name) for h in handlers) == clients
    assert sorted(ln.kind for ln in trace.lanes) == ["asyncio"] * 5 + ["loop", "main"]  # main(), 2 clients, 2 handlers
    for h in handlers:
        reads = spans(trace, h.name, "blocked")
        assert reads and all(s.reason.startswith("await reader.read(100) on fd ") for s in reads)
        assert 0.08 <= _length(reads[0]) <= 0.2  # waiting for the client's first message, 0.1 s after connecting
        assert any(s.reason.startswith("fd ") and s.reason.endswith(" readable")
                   for s in spans(trace, h.name, "ready"))
    idle = spans(trace, "asyncio loop", "idle")
    assert any(" read" in s.reason and s.reason.startswith("polling: fds [") for s in idle)
    assert [texts(trace, c) for c in clients] == [["b'hi'", "b'hi'"]] * 2


def test_a_blocking_socket_call_in_a_coroutine_holds_the_loop_and_the_other_tasks_are_ready_meanwhile(script):
    path = script("import asyncio, socket, threading\n"
                  "async def fetch():\n    a, b = socket.socketpair()\n"
                  "    threading.Timer(0.2, b.send, (b'x',)).start()\n    print(a.recv(1))\n"
                  "async def tick():\n    await asyncio.sleep(0.05)\n"
                  "async def main():\n    t = asyncio.create_task(tick())\n    await asyncio.sleep(0)\n"
                  "    await asyncio.gather(fetch(), t)\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    recv = [s for s in spans(trace, "fetch()", "blocked") if s.reason.startswith("recv() on fd")]
    assert len(recv) == 1 and recv[0].blocks_loop and 0.15 <= _length(recv[0]) <= 0.4
    ready = spans(trace, "tick()", "ready")[-1]
    assert ready.reason == "timer fired" and 0.1 <= _length(ready) <= 0.3 and ready.end >= recv[0].end - 0.01
    assert texts(trace, "fetch()") == ["b'x'"]


def test_a_loop_callback_that_sleeps_blocks_the_loops_own_lane(script):
    path = script("import asyncio, time\n"
                  "def slow():\n    time.sleep(0.2)\n"
                  "async def main():\n    asyncio.get_running_loop().call_later(0.05, slow)\n"
                  "    await asyncio.sleep(0.1)\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    held = spans(trace, "asyncio loop", "blocked")  # the loop's own lane: blocked, not idle (it is the loop)
    assert [s.reason for s in held] == ["time.sleep(0.2)"] and 0.15 <= _length(held[0]) <= 0.4
    assert [s.reason for s in spans(trace, "main()", "blocked")] == ["await asyncio.sleep(0.1)"]
    assert spans(trace, "main()", "ready")[-1].reason == "timer fired"  # due at 0.1, run once the loop was free


def test_a_busy_asyncio_loop_streams_its_steps_to_the_viewer_while_it_runs(script):
    """A loop with a thousand tasks stepping polls with timeout 0 between rounds: it drops the GIL and takes it back
    at once, again and again, which can keep a waiting thread (the recorder's flusher) from ever getting it. Its
    events must still reach the viewer as the program runs, as a live run shows them, not all at its end: the
    program spins (making no call that lets the GIL go) until the test, having received its steps in many pieces,
    signals it to stop, or until its own 8 s are up."""
    path = script("import asyncio, signal, time\n"
                  "told = []\n"
                  "signal.signal(signal.SIGUSR1, lambda *_: told.append(1))\n"
                  "async def spin(deadline):\n"
                  "    while not told and time.monotonic() < deadline:\n"
                  "        await asyncio.sleep(0)\n"
                  "async def main():\n"
                  "    deadline = time.monotonic() + 8\n"
                  "    await asyncio.gather(*(spin(deadline) for _ in range(1000)))\n"
                  "    print('told to stop' if told else 'ran out of time')\n"
                  "asyncio.run(main())\n")
    pieces, out = streamed_until_signalled(path, 20)
    assert out == ["told to stop"], f"the program's steps reached the viewer in {pieces} pieces while it ran"
