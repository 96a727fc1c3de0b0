"""Blocking I/O: recv() waits until the data is there

Watch for: the main thread calls recv() and is blocked for the whole wait, about
0.6 s, until the client thread sends its message. That is the first phase of a
read, waiting for the data. Then recv() returns and the main lane runs again with
what it copied from the kernel into the program ("recv() on fd N → 34 bytes"),
the second phase. While it waits the main thread can do nothing else. A last
recv() returns 0 bytes: the client closed the connection.
"""
import socket, threading, time

DELAY = 0.6  # how long the client takes before it sends


def client():
    c = socket.create_connection((IP, PORT))
    time.sleep(DELAY)                                   # the data is not there yet
    c.sendall(b"hello from the client, after 0.6 s")
    time.sleep(0.2)
    c.close()


server = socket.socket()
IP, PORT = "127.0.0.1", 0
server.bind((IP, PORT))
PORT = server.getsockname()[1]                          # the port the system picked
server.listen()
helper = threading.Thread(target=client, name="client")
helper.start()

conn, addr = server.accept()
print("connected:", addr)
start = time.time()
data = conn.recv(1024)                                  # blocking: waits for the data, then copies it
print("recv() returned %d bytes after %.2f s: %r" % (len(data), time.time() - start, data))
data = conn.recv(1024)                                  # waits again, until the client closes
print("recv() returned %d bytes: the client closed the connection" % len(data))
conn.close()
helper.join()
server.close()

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("client",)
