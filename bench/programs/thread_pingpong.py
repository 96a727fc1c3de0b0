"""Threads handing a token back and forth through two queues, N round trips. Prints `work_s=<seconds>`."""
import os
import queue
import sys
import threading
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
ping, pong = queue.Queue(), queue.Queue()


def player():
    for _ in range(N):
        pong.put(ping.get())


t0 = time.perf_counter()
other = threading.Thread(target=player)
other.start()
for i in range(N):
    ping.put(i)
    pong.get()
other.join()
os.write(2, f"work_s={time.perf_counter() - t0:.6f}\n".encode())  # fd 2: not captured as output
