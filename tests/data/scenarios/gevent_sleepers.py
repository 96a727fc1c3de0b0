"""Three gevent sleepers take turns

Watch for: fun, inner and outer each run briefly, then go blocked in
gevent.sleep (2 / 1 / 0.5 s). All three lanes are blocked at the same time
while the hub lane sits idle, polling its timers. They wake in the order outer,
inner, fun. The run takes about 2.0 s, the longest sleep, not the 3.5 s that the
sleeps add up to.
"""
import time

import gevent


def fun():
    print("In the function fun!!!\n")                                   # (1)
    gevent.sleep(2)                                                     # blocking I/O stand-in: just wait
    print("\033[31mCome back to the function of fun again!\033[0m\n")   # (6)


def inner():
    '''A function that blocks on I/O'''
    print("Running in the function of inner!!!\n")                      # (2)
    gevent.sleep(1)                                                     # gevent.sleep() triggers a switch
    print("\033[32mRunning back to the function of inner\033[0m\n")     # (5)


def outer():
    '''Another function that blocks on I/O'''
    print("Going hiking this weekend, bringing %s\n" % "alex")           # (3)
    gevent.sleep(0.5)
    print("On second thought, %s is busy, let's bring someone else along!!!" % "alex")  # (4)


start_time = time.time()
gevent.joinall([
    gevent.spawn(fun),
    gevent.spawn(inner),
    gevent.spawn(outer),
])
end_time = time.time()
print("time spent: %s" % (end_time - start_time))
