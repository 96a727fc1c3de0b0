"""Lane names are short and telling: no addresses, no float noise, library internals named for the user function."""

from __future__ import annotations

from conftest import lane, record, spans


def test_lanes_name_calls_as_a_reader_writes_them_without_addresses_or_float_noise(script):
    path = script(
        "import gevent\nfrom gevent.queue import Queue\n"
        "def job(n, delay):\n    gevent.sleep(delay)\n"
        "def producer(q):\n    q.put(1)\n"
        "def consume(q):\n    yield q.get()\n"
        "q = Queue()\n"
        "gevent.joinall([gevent.spawn(job, 2, 0.1 + 0.2), gevent.spawn(producer, q)])\n"
        "print(list(consume(q)))\n")
    trace = record(str(path))
    names = {ln.name for ln in trace.lanes}
    assert {"job(2, 0.3)", "producer(Queue)", "consume(Queue)"} <= names, names
    assert not any("0x" in name for name in names), names
    blocked = spans(trace, "job(2, 0.3)", "blocked")
    assert blocked and 0.25 <= blocked[0].duration <= 0.6, blocked


def test_a_servers_handler_is_named_for_its_peer_and_a_pool_map_for_the_user_function(script):
    path = script(
        "from gevent import monkey; monkey.patch_all()\n"
        "import gevent, socket\nfrom gevent.server import StreamServer\nfrom gevent.pool import Pool\n"
        "def handle(sock, addr):\n    sock.sendall(sock.recv(10))\n"
        "def square(x):\n    gevent.sleep(0.01)\n    return x * x\n"
        "server = StreamServer(('127.0.0.1', 0), handle)\nserver.start()\n"
        "c = socket.create_connection(server.address)\nc.sendall(b'hi')\nc.recv(10)\nc.close()\n"
        "print(Pool(2).map(square, [1, 2, 3]))\nserver.stop()\n")
    trace = record(str(path))
    names = {ln.name for ln in trace.lanes}
    assert not any("_handle_and_close" in name or "__map" in name for name in names), names
    handler = [name for name in names if name.startswith("127.0.0.1:") and name.endswith("(main)")]
    assert handler, names  # the handler of the connection main made
    assert {"map(square, [1, 2, 3])", "square(1)", "square(2)", "square(3)"} <= names, names
    assert lane(trace, "square(1)").kind == "greenlet"
