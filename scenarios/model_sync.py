"""Programming model 1: single-threaded, synchronous

Watch for: the main lane does task 1, then task 2, then task 3. Each task runs
briefly, then the lane is blocked in recv() for 0.5 / 0.3 / 0.4 s while the
"io server" lane (a stand-in for the network) answers, so nothing else gets done
during the wait. The run takes about 1.5 s, the sum of every wait and every bit
of work. Compare with model_threads and model_events.
"""
import heapq
import selectors
import socket
import threading
import time

# ---------------------------------------------------------------------------
# The slow outside world: one "io server" thread. Each request names a delay;
# the server answers after that delay. It can hold many requests at once.
# (This is scaffolding, not part of the lesson.)
def io_server(listener, stop):
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sel.register(stop, selectors.EVENT_READ)
    due = []                                         # heap of (when, seq, conn, reply)
    seq = 0
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        for key, mask in sel.select(timeout):
            if key.fileobj is stop:                  # main has closed the other end: shut down
                sel.close()
                return
            if key.fileobj is listener:
                conn, addr = listener.accept()
                sel.register(conn, selectors.EVENT_READ)
            else:
                conn = key.fileobj
                sel.unregister(conn)
                request = conn.recv(100)             # e.g. b"0.5"
                seq += 1
                heapq.heappush(due, (time.monotonic() + float(request), seq, conn,
                                     b"reply after " + request + b" s"))
        while due and due[0][0] <= time.monotonic():
            when, _, conn, reply = heapq.heappop(due)
            conn.sendall(reply)
            conn.close()


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
ADDR = listener.getsockname()                        # ("127.0.0.1", <port the system picked>)
stop_r, stop_w = socket.socketpair()
server_thread = threading.Thread(target=io_server, args=(listener, stop_r), name="io server")
server_thread.start()


def stop_io_server():
    stop_w.close()
    server_thread.join()
    stop_r.close()
    listener.close()
# ---------------------------------------------------------------------------


def work(seconds):
    """Stand-in for CPU work: keep the processor busy."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


TASKS = [(1, 0.5), (2, 0.3), (3, 0.4)]              # (task number, seconds of I/O wait)


def task(n, delay):
    print("task %d: working" % n)
    work(0.05)
    print("task %d: waiting %.1f s for I/O" % (n, delay))
    sock = socket.socket()
    sock.connect(ADDR)
    sock.sendall(b"%.1f" % delay)
    reply = sock.recv(100)                           # blocked until the io server answers
    sock.close()
    work(0.05)
    print("task %d: done, got %r" % (n, reply))


start_time = time.time()
for n, delay in TASKS:                               # one after another
    task(n, delay)
print("cost time: %s" % (time.time() - start_time))
stop_io_server()

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("io server",)
