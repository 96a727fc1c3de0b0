"""Two greenlets switch by hand

Watch for: test1 and test2 each get a lane, and exactly one of them is running
at any moment. Every gr.switch() moves control to the other lane while the
switching lane waits its turn. There is no I/O and no hub, so the order is
fixed and the output is always 12, 56, 34, 78.
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
