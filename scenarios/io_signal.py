"""Signal-driven I/O: SIGIO says the data is there

Watch for: the main thread asks the kernel to signal it (O_ASYNC and F_SETOWN on
the socket, a SIGIO handler) and goes on with its own work: the main lane runs
the whole time the client thread takes to send, about 0.6 s, never blocked on
the socket. The first phase, waiting for the data, is the kernel's. When the
data arrives SIGIO interrupts that work ("SIGIO: fd N is readable") and the
handler's recv() does the second phase, the copy ("recv() on fd N → 34 bytes").
"""
import fcntl, os, signal, socket, threading, time

DELAY = 0.6  # how long the client takes before it sends
received = []


def client():
    c = socket.create_connection((IP, PORT))
    time.sleep(DELAY)                                   # the data is not there yet
    c.sendall(b"hello from the client, after 0.6 s")
    time.sleep(0.1)
    c.close()


def on_sigio(signum, frame):                            # runs in the main thread, between two of its steps
    print("SIGIO: fd %d is readable" % conn.fileno())
    try:
        received.append(conn.recv(1024))                # the data is there: this only copies it
    except BlockingIOError:
        print("  (nothing to read: SIGIO is also sent for other events)")


def some_work():
    end = time.perf_counter() + 0.01                    # 10 ms of the program's own work
    while time.perf_counter() < end:
        pass


server = socket.socket()
IP, PORT = "127.0.0.1", 0
server.bind((IP, PORT))
PORT = server.getsockname()[1]                          # the port the system picked
server.listen()
helper = threading.Thread(target=client, name="client")
helper.start()

conn, addr = server.accept()
conn.setblocking(False)                                 # the handler must never wait
signal.signal(signal.SIGIO, on_sigio)
fcntl.fcntl(conn, fcntl.F_SETOWN, os.getpid())          # send this process the signal ...
fcntl.fcntl(conn, fcntl.F_SETFL, fcntl.fcntl(conn, fcntl.F_GETFL) | os.O_ASYNC)  # ... when the socket is ready
start = time.time()
steps = 0
while not received:                                     # meanwhile: other work, never waiting on the socket
    some_work()
    steps += 1
print("did %d steps of other work in %.2f s, then got %d bytes: %r"
      % (steps, time.time() - start, len(received[0]), received[0]))
conn.close()
helper.join()
server.close()

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("client",)
