"""I/O-bound gevent workload: an echo server on 127.0.0.1 (port 0) and C clients x M round trips each.

    python echo_io.py [CLIENTS] [MESSAGES] [SIZE]

A gevent StreamServer with a greenlet per connection echoes what it reads; each client greenlet connects, then
sends SIZE bytes and reads them back, MESSAGES times. No monkey-patching: gevent's own sockets. Prints
`work_s=<seconds>` (connect to last reply) and `roundtrips=<n>` to fd 2 with os.write, so under the recorder they are
raw stderr output of the main task.
"""
import os
import sys
import time

import gevent
from gevent import socket
from gevent.server import StreamServer

CLIENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
MESSAGES = int(sys.argv[2]) if len(sys.argv) > 2 else 100
SIZE = int(sys.argv[3]) if len(sys.argv) > 3 else 64


def echo(conn, address):
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
    finally:
        conn.close()


def client(port, payload):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = 0
    try:
        for _ in range(MESSAGES):
            sock.sendall(payload)
            got = 0
            while got < len(payload):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                got += len(chunk)
            done += 1
    finally:
        sock.close()
    return done


server = StreamServer(("127.0.0.1", 0), echo, backlog=1024)
server.start()
port = server.server_port
payload = b"x" * SIZE
t0 = time.perf_counter()
clients = [gevent.spawn(client, port, payload) for _ in range(CLIENTS)]
gevent.joinall(clients, raise_error=True)
work = time.perf_counter() - t0
server.stop()
os.write(2, f"work_s={work:.6f}\nroundtrips={sum([g.value for g in clients])}\n".encode())
