"""asyncio's socket I/O as the recorder sees it (viz/recorder/asyncio_sockets.py), in real child processes: a task's
own non-blocking try in its lane, its wait named by the fd the loop watches for it, as long as the other end takes,
and the copy the loop makes for it (sock_recv's retry, a stream transport's read) as a short run of the loop's lane
with its byte count."""

from __future__ import annotations

import re

from conftest import record, record_with, spans, texts

COPY = re.compile(r"(recv|recv_into)\(\) on fd (\d+) → (\d+) bytes( \(the peer closed\))?")


def _copies(trace, name="asyncio loop"):
    return [s for s in spans(trace, name, "running") if s.reason and COPY.fullmatch(s.reason)]


def _after(lane_spans, span):
    return lane_spans[lane_spans.index(span) + 1]


def _thread_sends(trace):
    """Start times of the blocking send() calls the program's threads made (the other end's data leaving)."""
    return sorted(s.start for ln in trace.lanes if ln.kind == "thread" for s in trace.spans(ln)
                  if s.state == "blocked" and s.reason.startswith("send() on fd"))


def test_sock_recv_tries_once_waits_on_its_fd_until_the_data_is_sent_and_the_loop_copies_it_in_its_own_lane(script):
    path = script("import asyncio, socket, threading\n"
                  "async def main():\n"
                  "    loop = asyncio.get_running_loop()\n"
                  "    a, b = socket.socketpair()\n"
                  "    a.setblocking(False)\n"
                  "    threading.Timer(0.3, b.send, (b'x' * 21,)).start()\n"
                  "    data = await loop.sock_recv(a, 1024)\n"                    # line 7: waits 0.3 s
                  "    b.send(b'y' * 5)\n"
                  "    n = await loop.sock_recv_into(a, bytearray(64))\n"         # line 9: the data is there
                  "    threading.Timer(0.2, b.send, (b'z' * 8,)).start()\n"
                  "    m = await loop.sock_recv_into(a, bytearray(64))\n"         # line 11: waits 0.2 s
                  "    print(len(data), n, m)\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    assert texts(trace, "main()") == ["21 5 8"]
    main = spans(trace, "main()")
    tries = [s for s in main if s.state == "running" and s.reason and "→" in s.reason]
    fd = re.search(r"fd (\d+)", tries[0].reason).group(1)
    assert [(s.reason, s.line) for s in tries] == [
        (f"recv() on fd {fd} → no data yet (BlockingIOError)", 7),
        (f"recv_into() on fd {fd} → 5 bytes", 9),  # the data was there: the task's own try copied it, no wait
        (f"recv_into() on fd {fd} → no data yet (BlockingIOError)", 11)]
    waits = [_after(main, tries[0]), _after(main, tries[2])]
    assert [(s.state, s.reason, s.line) for s in waits] == [
        ("blocked", f"await loop.sock_recv(a, 1024) on fd {fd}", 7),
        ("blocked", f"await loop.sock_recv_into(a, bytearray(64)) on fd {fd}", 11)]
    assert 0.25 <= waits[0].end - waits[0].start <= 0.6 and 0.15 <= waits[1].end - waits[1].start <= 0.45
    sends = _thread_sends(trace)
    copies = _copies(trace)
    assert [COPY.fullmatch(s.reason).group(1, 2, 3) for s in copies] == [("recv", fd, "21"), ("recv_into", fd, "8")]
    for wait, sent, copy in zip(waits, sends, copies):
        woken = _after(main, wait)
        assert (woken.state, woken.reason) == ("ready", f"fd {fd} readable")
        assert 0 <= woken.start - sent <= 0.05  # readable as the timer's thread sent
        assert woken.start <= copy.start <= _after(main, woken).start  # copied by the loop before main() runs
        assert copy.end - copy.start < 0.02


def test_a_stream_handler_waits_on_its_fd_and_each_read_the_transport_makes_is_a_copy_in_the_loops_lane(script):
    path = script("import asyncio\n"
                  "async def handle(reader, writer):\n"
                  "    while data := await reader.read(100):\n"
                  "        writer.write(data)\n"
                  "    writer.close()\n"
                  "async def client(port):\n"
                  "    reader, writer = await asyncio.open_connection('127.0.0.1', port)\n"
                  "    await asyncio.sleep(0.2)\n"
                  "    writer.write(b'hello')\n"
                  "    print(await reader.read(100))\n"
                  "    writer.close()\n"
                  "    await writer.wait_closed()\n"
                  "async def main():\n"
                  "    server = await asyncio.start_server(handle, '127.0.0.1', 0)\n"
                  "    async with server:\n"
                  "        await client(server.sockets[0].getsockname()[1])\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    assert texts(trace, "main()") == ["b'hello'"]
    handler = next(ln.name for ln in trace.lanes if ln.name.startswith("127.0.0.1:"))
    own = spans(trace, handler)
    first = next(s for s in own if s.state == "blocked")
    fd = re.fullmatch(r"await reader\.read\(100\) on fd (\d+) \(127\.0\.0\.1:\d+\)", first.reason).group(1)
    assert 0.15 <= first.end - first.start <= 0.45  # the client writes 0.2 s after it connected
    woken = _after(own, first)
    assert (woken.state, woken.reason) == ("ready", f"fd {fd} readable")
    copies = _copies(trace)
    served = [s for s in copies if COPY.fullmatch(s.reason).group(2) == fd]
    # the transport's reads for the handler: the 5 bytes, then the end of the stream when the client closed
    assert [COPY.fullmatch(s.reason).group(3, 4) for s in served] == [("5", None), ("0", " (the peer closed)")]
    assert woken.start <= served[0].start <= _after(own, woken).start and served[0].end - served[0].start < 0.02
    # and the client's read of the echo, on its own fd, after the handler wrote it
    echoed = [s for s in copies if COPY.fullmatch(s.reason).group(2) != fd]
    assert [COPY.fullmatch(s.reason).group(3) for s in echoed] == ["5"]
    assert served[0].start < echoed[0].start < served[1].start
    assert not [s for s in spans(trace, "main()") if s.reason and re.match(r"recv\(\) on fd", s.reason)]


def test_sock_accept_and_sock_connect_try_once_then_wait_readable_and_writable_on_their_fds(script):
    path = script("import asyncio, socket\n"
                  "async def connect_later(loop, address):\n"
                  "    await asyncio.sleep(0.2)\n"
                  "    c = socket.socket()\n"
                  "    c.setblocking(False)\n"
                  "    await loop.sock_connect(c, address)\n"                     # line 6
                  "    return c\n"
                  "async def main():\n"
                  "    loop = asyncio.get_running_loop()\n"
                  "    server = socket.socket()\n"
                  "    server.bind(('127.0.0.1', 0))\n"
                  "    server.listen()\n"
                  "    server.setblocking(False)\n"
                  "    later = asyncio.create_task(connect_later(loop, server.getsockname()), name='connect')\n"
                  "    conn, addr = await loop.sock_accept(server)\n"              # line 15
                  "    c = await later\n"
                  "    print('accepted', addr == c.getsockname())\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    assert texts(trace, "main()") == ["accepted True"]
    main, connect = spans(trace, "main()"), spans(trace, "connect")
    accept = next(s for s in main if s.state == "running" and s.reason and s.reason.startswith("accept()"))
    fd = re.fullmatch(r"accept\(\) on fd (\d+) → no connection yet \(BlockingIOError\)", accept.reason).group(1)
    wait = _after(main, accept)
    assert (accept.line, wait.state, wait.reason, wait.line) == (15, "blocked", f"await loop.sock_accept(server) on fd "
                                                                  f"{fd}", 15)
    assert 0.15 <= wait.end - wait.start <= 0.45  # until the other task connects, 0.2 s in
    tried = next(s for s in connect if s.state == "running" and s.reason and s.reason.startswith("connect()"))
    cfd = re.fullmatch(r"connect\(\) on fd (\d+) → connecting, not done yet \(BlockingIOError\)",
                       tried.reason).group(1)
    connecting = _after(connect, tried)
    assert tried.line == 6 and connecting.state == "blocked"
    assert re.fullmatch(rf"await loop\.sock_connect\(c, address\) on fd {cfd} \(127\.0\.0\.1:\d+\)", connecting.reason)
    assert (_after(connect, connecting).state, _after(connect, connecting).reason) == ("ready", f"fd {cfd} writable")
    woken = _after(main, wait)
    assert (woken.state, woken.reason) == ("ready", f"fd {fd} readable")
    assert 0 <= woken.start - tried.start <= 0.05  # the listening socket was readable once the connect was sent
    # the loop's own accept() after its poll, and its tries until nothing is left, add nothing to its lane
    assert not [s for s in spans(trace, "asyncio loop") if s.reason and "accept()" in s.reason]


def test_a_library_coroutine_run_as_a_task_is_named_in_the_programs_words_at_the_line_that_made_it(script):
    path = script("import asyncio\n"
                  "async def main():\n"
                  "    nap = asyncio.create_task(asyncio.sleep(0.2), name='nap')\n"
                  "    await asyncio.sleep(0.05)\n"
                  "    await nap\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    blocked = spans(trace, "nap", "blocked")
    assert [(s.reason, s.file, s.line) for s in blocked] == [("asyncio.sleep(0.2)", "script.py", 3)]
    assert 0.15 <= blocked[0].end - blocked[0].start <= 0.4
    assert spans(trace, "nap", "ready")[-1].reason == "timer fired"


def test_a_writer_ahead_of_its_reader_waits_in_drain_until_its_fd_is_writable_and_every_read_is_a_copy(script):
    path = script("import asyncio\n"
                  "async def handle(reader, writer):\n"
                  "    await asyncio.sleep(0.2)\n"                                 # a slow reader: the writes pile up
                  "    n = 0\n"
                  "    while data := await reader.read(1 << 20):\n"
                  "        n += len(data)\n"
                  "    print('server got', n)\n"
                  "    writer.close()\n"
                  "async def main():\n"
                  "    server = await asyncio.start_server(handle, '127.0.0.1', 0)\n"
                  "    async with server:\n"
                  "        port = server.sockets[0].getsockname()[1]\n"
                  "        reader, writer = await asyncio.open_connection('127.0.0.1', port)\n"
                  "        writer.write(b'x' * 32_000_000)\n"
                  "        await writer.drain()\n"                                 # line 15
                  "        writer.close()\n"
                  "        await writer.wait_closed()\n"
                  "        await asyncio.sleep(0.05)\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    handler = next(ln.name for ln in trace.lanes if ln.name.startswith("127.0.0.1:"))
    assert texts(trace, handler) == ["server got 32000000"]
    main = spans(trace, "main()")
    drain = next(s for s in main if s.state == "blocked" and s.line == 15)
    fd = re.fullmatch(r"await writer\.drain\(\) on fd (\d+) \(127\.0\.0\.1:\d+\)", drain.reason).group(1)
    nap = next(s for s in spans(trace, handler, "blocked") if s.reason == "await asyncio.sleep(0.2)")
    assert nap.end <= drain.end  # the loop buffers 32 MB: only the slow reader, once awake, lets the drain end
    assert (_after(main, drain).state, _after(main, drain).reason) == ("ready", f"fd {fd} writable")
    # the handler's side: every byte it got went through a copy the loop made, each with its byte count
    hfd = re.search(r"on fd (\d+)", next(s for s in spans(trace, handler, "blocked")
                                         if s.reason.startswith("await reader.read")).reason).group(1)
    got = [COPY.fullmatch(s.reason) for s in _copies(trace)]
    assert sum(int(m.group(3)) for m in got if m.group(2) == hfd) == 32_000_000
    assert [m.group(3) for m in got if m.group(2) == hfd][-1] == "0"  # then the client closed


def test_a_busy_task_beside_socket_tries_records_the_same_with_the_c_step_hook_as_with_the_python_one(
        script, monkeypatch):
    path = script("import asyncio, socket, threading\n"
                  "async def busy():\n"
                  "    for _ in range(300):\n"
                  "        await asyncio.sleep(0)\n"                              # steps the C hook packs
                  "async def main():\n"
                  "    loop = asyncio.get_running_loop()\n"
                  "    a, b = socket.socketpair()\n"
                  "    a.setblocking(False)\n"
                  "    t = asyncio.create_task(busy())\n"
                  "    threading.Timer(0.1, b.send, (b'x' * 3,)).start()\n"
                  "    print(len(await loop.sock_recv(a, 10)))\n"                 # a try among the packed steps
                  "    b.send(b'y')\n"
                  "    print(len(await loop.sock_recv(a, 10)))\n"                 # the data is there: the task's copy
                  "    await t\n"
                  "asyncio.run(main())\n")
    c, c_trace = record_with(path, monkeypatch, False)
    pure, _ = record_with(path, monkeypatch, True)
    assert c == pure
    assert texts(c_trace, "main()") == ["3", "1"]
    tries = [(s.reason, s.line) for s in spans(c_trace, "main()", "running") if s.reason]
    fd = re.search(r"fd (\d+)", tries[0][0]).group(1)
    assert tries == [(f"recv() on fd {fd} → no data yet (BlockingIOError)", 11),
                     (f"recv() on fd {fd} → 1 bytes", 13)]
    assert [s.reason for s in _copies(c_trace)] == [f"recv() on fd {fd} → 3 bytes"]  # the loop's, for the first
