"""Non-blocking I/O: the reader keeps asking for the data

Watch for: the main thread puts its socket in non-blocking mode, so recv() never
waits: while no data has arrived it fails at once with BlockingIOError. The main
lane shows every attempt as a short running span of its own ("recv() on fd N →
no data yet (BlockingIOError)"), with a short pause (blocked in time.sleep)
between attempts: the process asks again and again. The client sends after about
0.5 s; the next attempt finds the data and recv() only copies it ("→ 30 bytes").
"""
import socket, threading, time

DELAY = 0.5   # how long the client takes before it sends
PAUSE = 0.05  # how long the reader waits between two attempts


def client():
    c = socket.create_connection((IP, PORT))
    time.sleep(DELAY)                                   # the data is not there yet
    c.sendall(b"hello from the client, at last")
    time.sleep(0.1)
    c.close()


server = socket.socket()
IP, PORT = "127.0.0.1", 0
server.bind((IP, PORT))
PORT = server.getsockname()[1]                          # the port the system picked
server.listen()
helper = threading.Thread(target=client, name="client")
helper.start()

conn, addr = server.accept()
conn.setblocking(False)                                 # from now on recv() never waits
attempts = 0
while True:
    attempts += 1
    try:
        data = conn.recv(1024)                          # is the data there yet?
    except BlockingIOError:
        print("attempt %d: no data yet" % attempts)
        time.sleep(PAUSE)                               # do something else, then ask again
        continue
    break
print("attempt %d: recv() copied %d bytes: %r" % (attempts, len(data), data))
conn.close()
helper.join()
server.close()

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("client",)
