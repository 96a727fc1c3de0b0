"""Two greenlets switch by hand

Watch for: main, test1 and test2 share one thread, and exactly one of them is
running at any moment. Every gr.switch() hands control to the other greenlet,
and the lane that switched away is blocked ("switched to test2") until someone
switches back. There is no I/O and no hub, so the order is fixed and the output
is always 12, 56, 34, 78.
"""
from greenlet import greenlet


def test1():
    print(12)
    gr2.switch()
    print(34)
    gr2.switch()


def test2():
    print(56)
    gr1.switch()
    print(78)


gr1 = greenlet(test1)                 # start a coroutine
gr2 = greenlet(test2)
gr1.switch()                          # switch by hand
