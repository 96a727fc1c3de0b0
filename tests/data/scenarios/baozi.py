"""Producer and consumers with yield

Watch for: it all happens in one thread. Each con.send(n) from producer (the
main lane) hands control to consumer('c1') or consumer('c2'), which runs until
its next yield. The consumer lane is then blocked "waiting at yield" until the
next baozi. Exactly one lane runs at a time and nothing waits on I/O: the
switching is done by hand, with no real concurrency.
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
