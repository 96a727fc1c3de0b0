"""Producer and consumers with yield

Watch for: everything happens in the main thread's lane. Each con.send(n)
from producer runs consumer c1 or c2 up to its next yield, and then control
comes back to producer. Nothing ever waits on I/O, so the lane is never blocked.
The program just runs the whole time, switching by hand with no real concurrency.
"""
import time
import queue


def consumer(name):
    print("--->starting eating baozi...")
    while True:
        new_baozi = yield
        print("[%s] is eating baozi %s" % (name, new_baozi))
        # time.sleep(1)


def producer():
    r = con.__next__()
    r = con2.__next__()
    n = 0
    while n < 5:
        n += 1
        con.send(n)
        con2.send(n)
        print("\033[32;1m[producer]\033[0m is making baozi %s" % n)


if __name__ == '__main__':
    con = consumer("c1")
    con2 = consumer("c2")
    p = producer()
