"""The C switch hook records what the pure-Python hook (VIZ_PURE_PYTHON=1, the reference) records."""

from __future__ import annotations

import re

import pytest

from conftest import record_with, run_session

pytest.importorskip("viz.recorder._fasthook")

SERVER = """\
import gevent
from gevent import socket
from gevent.server import StreamServer


def echo(conn, address):
    while True:
        data = conn.recv(1024)
        if not data:
            break
        conn.sendall(data)
    conn.close()

"""

ECHO = SERVER + """

def client(sock, n):
    for i in range(n):
        sock.sendall(b"x" * 10)
        got = 0
        while got < 10:
            got += len(sock.recv(1024))
    sock.close()
    print("done", n)


server = StreamServer(("127.0.0.1", 0), echo)
server.start()
socks = [socket.create_connection(("127.0.0.1", server.server_port)) for _ in range(2)]
gevent.joinall([gevent.spawn(client, sock, n) for sock, n in zip(socks, (3, 5))])
gevent.sleep(0.01)
server.stop()
"""

def _use_hook(monkeypatch, pure: bool) -> None:
    """Record with the pure-Python hook (the reference) or the C one."""
    if pure:
        monkeypatch.setenv("VIZ_PURE_PYTHON", "1")
    else:
        monkeypatch.delenv("VIZ_PURE_PYTHON", raising=False)





RECONNECT = SERVER + """

def client(port):
    for _ in range(4):  # the same waits, on new sockets that get the same fds (and maybe addresses)
        sock = socket.create_connection(("127.0.0.1", port))
        for i in range(3):
            sock.sendall(b"ping")
            sock.recv(1024)
        sock.close()
        gevent.sleep(0.01)


server = StreamServer(("127.0.0.1", 0), echo)
server.start()
gevent.spawn(client, server.server_port).join()
server.stop()
"""


@pytest.mark.parametrize("pure", [False, True], ids=["c-hook", "python-hook"])
def test_a_new_socket_on_a_reused_fd_is_described_by_its_own_peer(script, monkeypatch, pure):
    _use_hook(monkeypatch, pure)
    _, trace = run_session(script(RECONNECT), timeout=30)
    handlers = [ln for ln in trace.lanes if ln.name.startswith("127.0.0.1:") and "(client(" in ln.name]
    assert len(handlers) == 4, [ln.name for ln in trace.lanes]
    peers = []
    for ln in handlers:  # one connection each: its recv() waits all name that connection's peer
        recvs = {s.reason for s in trace.spans(ln) if (s.reason or "").startswith("recv()")}
        assert len(recvs) == 1, recvs
        peers.append(recvs.pop().rsplit("(", 1)[1])
    assert len(set(peers)) == 4, peers


@pytest.mark.parametrize("program", ["ECHO", "RECONNECT"])
def test_socket_waits_record_the_same_with_the_c_hook_as_with_the_python_hook(script, monkeypatch, program):
    path = script(globals()[program])
    c, pure = record_with(path, monkeypatch, False)[0], record_with(path, monkeypatch, True)[0]
    assert c == pure
    reasons = [r[1] for task in c.values() for r in task if len(r) == 5 and r[0] == "blocked"]
    assert len([r for r in reasons if re.fullmatch(r"recv\(\) on fd \d+ \(127\.0\.0\.1:PORT\)", r)]) >= 12


def _reference_signature(frame) -> int:
    """The frame signature as documented: code objects and instruction offsets of up to 12 frames, FNV-1a mixed."""
    h, mask = 1469598103934665603, (1 << 64) - 1
    for _ in range(12):
        if frame is None:
            break
        h = ((h ^ id(frame.f_code)) * 1099511628211) & mask
        h = ((h ^ (frame.f_lasti & 0xFFFFFFFF)) * 1099511628211) & mask
        frame = frame.f_back
    return h


def test_the_c_frame_signature_hashes_each_frames_code_and_instruction_as_documented():
    """On the frames of suspended greenlets and generators (whose frames stand still, as a waiting task's do)."""
    import greenlet

    from viz.recorder import _fasthook

    def suspended(n):
        if n:
            return suspended(n - 1)
        greenlet.getcurrent().parent.switch()

    def gen():
        yield 1

    def outer():
        yield from gen()

    deep, shallow = greenlet.greenlet(suspended), greenlet.greenlet(suspended)
    deep.switch(15)  # 16 frames: more than the signature reads
    shallow.switch(2)
    it, chained = gen(), outer()
    next(it)
    next(chained)
    for frame in (deep.gr_frame, shallow.gr_frame, it.gi_frame, chained.gi_frame, chained.gi_yieldfrom.gi_frame):
        assert _fasthook.signature(frame) == _reference_signature(frame)
    for g in (deep, shallow):
        g.throw(greenlet.GreenletExit)
