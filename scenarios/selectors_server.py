"""selectors: an echo server driven by callbacks

Watch for: the main thread is blocked in sel.select() and wakes only when a
socket is ready. It then runs a short accept or read callback and is blocked
again. Each connection has its own lane that waits until the selector reports
it readable. The "client 1/2/3" threads overlap in time, but the single server
lane handles them one event at a time, and it stops after the last client leaves.
"""
import selectors
import socket
import threading
import time

N_CLIENTS = 3
closed = 0                                                   # connections that have said goodbye

sel = selectors.DefaultSelector()


def accept(sock, mask):
    conn, addr = sock.accept()  # Should be ready
    print('accepted', conn, 'from', addr)
    conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ, read)


def read(conn, mask):
    global closed
    data = conn.recv(1000)  # Should be ready
    if data:
        print('echoing', repr(data), 'to', conn)
        conn.send(data)  # Hope it won't block
    else:
        print('closing', conn)
        sel.unregister(conn)
        conn.close()
        closed += 1


def client(n):
    time.sleep((0.1, 0.3, 0.5)[n - 1])                      # staggered start
    s = socket.create_connection(('127.0.0.1', port))
    for msg in ("hello from client %d" % n, "bye from client %d" % n):
        s.sendall(msg.encode())
        print('client %d received' % n, repr(s.recv(1000)))
        time.sleep(0.35)
    s.close()


sock = socket.socket()
sock.bind(('127.0.0.1', 0))
port = sock.getsockname()[1]                                 # the port the system picked
sock.listen(100)
sock.setblocking(False)
sel.register(sock, selectors.EVENT_READ, accept)

threads = [threading.Thread(target=client, args=(i,), name=f"client {i}") for i in range(1, N_CLIENTS + 1)]
for t in threads:
    t.start()

start_time = time.time()
while True:
    events = sel.select()
    for key, mask in events:
        callback = key.data
        callback(key.fileobj, mask)
    if closed == N_CLIENTS:                                  # everyone has come and gone
        break

for t in threads:
    t.join()
sel.unregister(sock)
sock.close()
sel.close()
print("served %d clients in %.2f s" % (closed, time.time() - start_time))

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("client *",)
