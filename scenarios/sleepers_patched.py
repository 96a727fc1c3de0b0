"""time.sleep after monkey.patch_all(): switching again

Watch for: after monkey.patch_all(), time.sleep behaves like gevent.sleep.
fun, inner and outer all start, then all three lanes are blocked at the same
time, and they wake in the order outer, inner, fun. The run takes about 2.0 s
again, not 3.5 s. Compare it with sleepers_unpatched, which has the same code
without the patch.
"""
import gevent, time
from gevent import monkey

monkey.patch_all()                                                     # mark every I/O operation in this program for gevent


def fun():
    print("In the function fun!!!\n")
    time.sleep(2)                                                      # blocking I/O stand-in: just wait
    print("\033[31mCome back to the function of fun again!\033[0m\n")


def inner():
    '''A function that blocks on I/O'''
    print("Running in the function of inner!!!\n")
    time.sleep(1)
    print("\033[32mRunning back to the function of inner\033[0m\n")


def outer(name, arg):
    '''Another function that blocks on I/O'''
    print("Going hiking this weekend, bringing %s\n" % name)
    time.sleep(0.5)
    print("On second thought, %s is busy, let's bring %s instead!!!" % (name, arg))


start_time = time.time()
gevent.joinall([
    gevent.spawn(fun),
    gevent.spawn(inner),
    gevent.spawn(outer, "alex", "wupeiqi"),
])
end_time = time.time()
print("time spent: %s" % (end_time - start_time))
