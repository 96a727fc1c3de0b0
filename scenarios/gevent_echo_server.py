"""One gevent server, one greenlet per connection

Watch for: the server lane is blocked in accept(). Each new connection gets a
handle_request greenlet (its lane is named after the client's address) that is
blocked in recv() until its client speaks. The clients send at staggered times,
so the lanes take short running turns between long blocked stretches, all in
one OS thread, while the hub idles. The main lane kills the server once the
clients are done.
"""
import sys
import socket
import time
import gevent
from gevent.event import AsyncResult

from gevent import socket, monkey
monkey.patch_all()

handlers = []                                                # every handle_request greenlet, so main can wait for them
ready = AsyncResult()                                        # the port the server got, once it is listening


def server(port):
    s = socket.socket()
    s.bind(('127.0.0.1', port))
    s.listen(500)
    ready.set(s.getsockname()[1])                            # tell the clients which port we got
    try:
        while True:
            cli, addr = s.accept()
            handlers.append(gevent.spawn(handle_request, cli))   # a greenlet per connection, where socketserver would start a thread
    finally:
        s.close()


def handle_request(conn):
    try:
        while True:
            data = conn.recv(1024)
            print("recv:", data)
            if not data:                                     # the client closed: stop, don't spin on b''
                print("client gone, closing the connection")
                break
            conn.send(data)
    except Exception as ex:
        print(ex)
    finally:
        conn.close()


def client(n):
    HOST = '127.0.0.1'    # The remote host
    PORT = port           # The port the server got (set by main)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect((HOST, PORT))
    for msg in ("hello from client %d" % n, "bye from client %d" % n):
        gevent.sleep(0.1 * n)                                # instead of input(">>:"): staggered sends
        s.sendall(bytes(msg, encoding="utf8"))
        data = s.recv(1024)
        print('Received', repr(data))
    s.close()


if __name__ == '__main__':
    start_time = time.time()
    srv = gevent.spawn(server, 0)
    port = ready.get()
    clients = [gevent.spawn(client, n) for n in (1, 2, 3)]
    gevent.joinall(clients)
    gevent.joinall(handlers)                                 # let every handler see its client close
    srv.kill()
    print("all clients served in %.2f s" % (time.time() - start_time))

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("client(*)",)
