"""Switch-heavy gevent workload: N greenlets each calling gevent.sleep(0) M times. Prints `work_s=<seconds>`."""
import os
import sys
import time

import gevent

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
M = int(sys.argv[2]) if len(sys.argv) > 2 else 200


def worker():
    for _ in range(M):
        gevent.sleep(0)


t0 = time.perf_counter()
gevent.joinall([gevent.spawn(worker) for _ in range(N)])
os.write(2, f"work_s={time.perf_counter() - t0:.6f}\n".encode())  # fd 2: not captured as output
