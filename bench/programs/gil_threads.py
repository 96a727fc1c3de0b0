"""CPU-bound threads: T threads each doing N iterations of pure-Python arithmetic, started together; they take turns
at the GIL. Prints `work_s=<seconds>` (from the start to the last join) to fd 2."""
import os
import sys
import threading
import time

T = int(sys.argv[1]) if len(sys.argv) > 1 else 2
N = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000


def spin(go):
    go.wait()
    x = 0
    for i in range(N):
        x += i * i


go = threading.Event()
threads = [threading.Thread(target=spin, args=(go,), name=f"spin {k}") for k in range(T)]
for t in threads:
    t.start()
t0 = time.perf_counter()
go.set()
for t in threads:
    t.join()
os.write(2, f"work_s={time.perf_counter() - t0:.6f}\n".encode())  # fd 2: not captured as output
