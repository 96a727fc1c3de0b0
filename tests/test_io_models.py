"""The course notes' I/O models, recorded in real child processes: each scenario (io_blocking, io_nonblocking,
io_multiplexing, io_signal, io_async) shows the wait for data and the copy into the program where the recorder can see them,
at the times its client sends."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT, lane, record, spans, texts

COPIED = re.compile(r"recv\(\) on fd (\d+) → (\d+) bytes")
NO_DATA = re.compile(r"recv\(\) on fd (\d+) → no data yet \(BlockingIOError\)")


def _line_of(scenario: str, text: str) -> int:
    """The line of a scenario's source that holds `text`."""
    lines = (ROOT / "scenarios" / f"{scenario}.py").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def _copies(trace, name):
    return [s for s in spans(trace, name, "running") if s.reason and COPIED.fullmatch(s.reason)]


def test_blocking_recv_is_one_blocked_span_as_long_as_the_clients_delay_then_a_copy_with_its_byte_count():
    trace = record("io_blocking")
    main = spans(trace, "main")
    waits = [s for s in main if s.state == "blocked" and s.reason.startswith("recv() on fd ")]
    assert len(waits) == 2  # the message, then the client closing
    first = waits[0]
    assert 0.5 <= first.end - first.start <= 0.9  # the client sleeps 0.6 s before it sends
    sent = next(s for s in spans(trace, "client", "blocked") if s.reason.startswith("sendall()"))
    assert first.end == pytest.approx(sent.start, abs=0.05)  # the wait ends when the data comes
    after = main[main.index(first) + 1]  # the copy: running from the moment recv() returned, with its byte count
    assert after.state == "running" and after.start == pytest.approx(first.end, abs=0.002)
    assert COPIED.fullmatch(after.reason).group(2) == "34"
    assert "recv() returned 34 bytes" in texts(trace, "main")[1]
    closed = main[main.index(waits[1]) + 1]
    assert closed.state == "running" and closed.reason.endswith("→ 0 bytes (the peer closed)")
    assert 0.15 <= waits[1].end - waits[1].start <= 0.45  # the client closes 0.2 s after it sent


def test_nonblocking_reader_shows_every_attempt_that_found_no_data_as_a_short_span_of_its_own_never_blocked():
    trace = record("io_nonblocking")
    main = spans(trace, "main")
    attempts = [s for s in main if s.state == "running" and s.reason and NO_DATA.fullmatch(s.reason)]
    printed = [t for t in texts(trace, "main") if t.endswith("no data yet")]
    assert len(attempts) == len(printed) >= 5  # one span per attempt the program made (0.5 s / 0.05 s pauses)
    assert all(s.end - s.start < 0.03 for s in attempts)
    for a, b in zip(attempts, attempts[1:]):  # a pause between two attempts, blocked in the sleep and nothing else
        between = [s for s in main if a.end <= s.start < b.start and s.state == "blocked"]
        assert [s.reason for s in between] == ["time.sleep(0.05)"]
        assert 0.04 <= b.start - a.start <= 0.2
    assert not [s for s in main if s.state == "blocked" and s.reason.startswith("recv()")]
    copies = _copies(trace, "main")
    assert len(copies) == 1 and COPIED.fullmatch(copies[0].reason).group(2) == "30"
    assert copies[0].start > attempts[-1].end
    sent = next(s for s in spans(trace, "client", "blocked") if s.reason.startswith("sendall()"))
    assert 0 <= copies[0].start - sent.start <= 0.12  # the first attempt after the client sent finds the data
    assert {NO_DATA.fullmatch(s.reason).group(1) for s in attempts} == {COPIED.fullmatch(copies[0].reason).group(1)}


def test_multiplexing_waits_in_one_select_over_several_fds_and_each_connection_only_copies_when_it_is_readable():
    trace = record("io_multiplexing")
    selects = [s for s in spans(trace, "main", "blocked") if s.reason.startswith("select() on fds [")]
    fds_of = {s: [int(fd) for fd in re.findall(r"\d+", s.reason)] for s in selects}
    wide = [s for s in selects if len(fds_of[s]) == 4]  # the listening socket and three connections
    assert len(wide) >= 3
    assert 0.2 <= wide[0].end - wide[0].start <= 0.6  # the client sends every 0.3 s
    connections = [ln for ln in trace.lanes if ln.kind == "connection"]
    assert len(connections) == 3
    sends = [s.start for s in spans(trace, "client", "blocked") if s.reason.startswith("sendall()")]
    assert len(sends) == 3
    firsts = []
    for ln in connections:
        copy = _copies(trace, ln.name)[0]
        fd = int(COPIED.fullmatch(copy.reason).group(1))
        assert fd in fds_of[wide[0]]  # one select() watched every connection
        assert COPIED.fullmatch(copy.reason).group(2) == "21"
        own = spans(trace, ln.name)
        before = own[own.index(copy) - 1]  # readable, then served: ready from select()'s return, not blocked in recv
        assert (before.state, before.reason) == ("ready", f"fd {fd} readable")
        assert own[own.index(copy) - 2].state == "blocked"
        firsts.append(copy.start)
    # the client sends on connection 2, then 1, then 3: each copy follows its send within a moment
    order = sorted(range(3), key=lambda i: firsts[i])
    assert order == [1, 0, 2]
    for send, i in zip(sends, order):
        assert 0 <= firsts[i] - send <= 0.1


def test_signal_driven_reader_runs_its_own_work_until_sigio_then_its_handler_only_copies_the_data():
    trace = record("io_signal")
    main = spans(trace, "main")
    copy = _copies(trace, "main")[0]
    fd, n = COPIED.fullmatch(copy.reason).groups()
    assert n == "34"
    accepted = next(s for s in main if s.state == "blocked" and s.reason.startswith("accept()"))
    waiting = [s for s in main if accepted.end <= s.start < copy.start]
    assert {s.state for s in waiting} == {"running"}  # never blocked on the socket: the kernel waits for it
    assert copy.start - accepted.end >= 0.5  # the client sends after 0.6 s
    sent = next(s for s in spans(trace, "client", "blocked") if s.reason.startswith("sendall()"))
    assert 0 <= copy.start - sent.start <= 0.05  # SIGIO comes as the data arrives, mid-work
    signalled = next(o for o in trace.outputs if o.text.startswith("SIGIO"))
    assert signalled.text == f"SIGIO: fd {fd} is readable"
    assert sent.start <= signalled.t <= copy.start


def test_async_read_tries_recv_once_waits_on_its_fd_while_main_works_and_the_loop_copies_the_bytes_in_its_lane():
    trace = record("io_async")
    read = spans(trace, "read")
    attempt = next(s for s in read if s.state == "running" and s.reason and NO_DATA.fullmatch(s.reason))
    fd = NO_DATA.fullmatch(attempt.reason).group(1)  # the first phase, tried once: asyncio's sock_recv tries recv()
    made = _line_of("io_async", 'name="read"')
    assert (attempt.file, attempt.line) == ("io_async.py", made)  # where the program made the read
    wait = read[read.index(attempt) + 1]
    assert wait.state == "blocked" and wait.line == made
    assert re.fullmatch(rf"loop\.sock_recv\(conn, 1024\) on fd {fd} \(127\.0\.0\.1:\d+\)", wait.reason)
    assert wait.start - attempt.start < 0.01 and 0.45 <= wait.end - wait.start <= 0.9  # the client sends after 0.6 s
    woken = read[read.index(wait) + 1]
    assert (woken.state, woken.reason) == ("ready", f"fd {fd} readable")  # the loop's poll saw it readable
    sent = next(s for s in spans(trace, "client", "blocked") if s.reason.startswith("sendall()"))
    assert 0 <= woken.start - sent.start <= 0.1
    # the second phase: the loop's recv() for the read, a short run in the loop's lane, before read runs again
    copies = _copies(trace, "asyncio loop")
    assert [COPIED.fullmatch(s.reason).groups() for s in copies] == [(fd, "34")]
    ran = read[read.index(woken) + 1]
    assert woken.start <= copies[0].start <= ran.start and copies[0].end - copies[0].start < 0.03
    assert not [s for s in spans(trace, "main()") if s.reason and "recv()" in s.reason]  # main() never reads itself
    # meanwhile the task that asked for the data never waits for it: running or ready, never blocked
    during = [s for s in spans(trace, "main()") if s.end > wait.start + 0.01 and s.start < wait.end - 0.01]
    assert {s.state for s in during} == {"running", "ready"}
    running = sum(min(s.end, wait.end) - max(s.start, wait.start) for s in during if s.state == "running")
    assert running > 0.3 * (wait.end - wait.start)  # most of the wait went to its own work
    assert lane(trace, "asyncio loop").kind == "loop"
    assert any(t.startswith("then got 34 bytes") for t in texts(trace, "main()"))


def test_each_kind_of_read_says_what_it_copied_and_a_nonblocking_accept_or_send_that_finds_nothing_is_an_attempt(
        script):
    path = script(
        "import socket\n"
        "a, b = socket.socketpair()\n"
        "a.setblocking(False)\n"
        "try:\n    a.recv_into(bytearray(8))\nexcept BlockingIOError:\n    print('nothing')\n"
        "b.send(b'12345')\n"
        "print(a.recv_into(bytearray(8)))\n"
        "b.send(b'123')\n"
        "print(len(a.recvfrom(8)[0]))\n"
        "listener = socket.socket()\nlistener.bind(('127.0.0.1', 0))\nlistener.listen()\n"
        "listener.setblocking(False)\n"
        "try:\n    listener.accept()\nexcept BlockingIOError:\n    print('no one')\n"
        "b.setblocking(False)\n"
        "try:\n    while True:\n        b.send(b'x' * 65536)\nexcept BlockingIOError:\n    print('full')\n")
    trace = record(str(path))
    assert texts(trace, "main") == ["nothing", "5", "3", "no one", "full"]
    reasons = [s.reason for s in spans(trace, "main", "running") if s.reason]
    fd_a = re.search(r"fd (\d+)", reasons[0]).group(1)
    assert reasons[:3] == [f"recv_into() on fd {fd_a} → no data yet (BlockingIOError)",
                           f"recv_into() on fd {fd_a} → 5 bytes", f"recvfrom() on fd {fd_a} → 3 bytes"]
    assert re.fullmatch(r"accept\(\) on fd \d+ → no connection yet \(BlockingIOError\)", reasons[3])
    assert re.fullmatch(r"send\(\) on fd \d+ → no room to send yet \(BlockingIOError\)", reasons[-1])
    # only the two sends on the still blocking end are blocked (briefly); no non-blocking call waited
    assert [s.line for s in spans(trace, "main", "blocked")] == [8, 10]


def test_a_loop_that_keeps_asking_without_a_pause_sends_its_attempt_once_until_something_else_is_recorded():
    """The recorder's cost in a busy-polling loop: the same attempt from the same line, with nothing recorded in
    between, is the same span, so the traced child does not send it again (the pipe carries one event, not one per
    attempt); anything recorded in between, or a different outcome, is sent."""
    import os
    import socket

    from viz.protocol import TASK_STATE
    from viz.recorder.blocking import BlockingHooks
    from viz.recorder.core import Recorder

    r, w = os.pipe()
    a, b = socket.socketpair()
    try:
        rec = Recorder(w, __file__)
        recv = BlockingHooks(rec).socket_call(socket.socket.recv, "recv")  # the wrapper, not installed on the class
        a.setblocking(False)

        def ask(times):
            start = len(rec._q)
            for _ in range(times):
                try:
                    recv(a, 64)
                except BlockingIOError:
                    pass
            return [ev[4] for ev in list(rec._q)[start:] if ev[0] == TASK_STATE]

        fd = a.fileno()
        assert ask(1000) == [f"recv() on fd {fd} → no data yet (BlockingIOError)"]
        assert ask(1000) == []  # still the same span
        rec.state(rec.main_task, "blocked", "time.sleep(0.01)")  # a pause: the next attempt is a span of its own
        assert ask(10) == [f"recv() on fd {fd} → no data yet (BlockingIOError)"]
        b.send(b"abc")
        assert ask(1) == [f"recv() on fd {fd} → 3 bytes"]
        assert ask(1) == [f"recv() on fd {fd} → no data yet (BlockingIOError)"]
    finally:
        for closing in (a.close, b.close, lambda: os.close(r), lambda: os.close(w)):
            closing()
