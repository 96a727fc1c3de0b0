"""Plain time.sleep in greenlets: no switching

Watch for: fun's lane is blocked in time.sleep(2), which blocks the whole loop,
while inner and outer sit ready. Then inner blocks for 1 s, then outer for
0.5 s, one after another. The run takes about 3.5 s, the sum of the sleeps.
The only change from sleepers_patched is the missing monkey.patch_all().
"""
import gevent, time


def fun():
    print("In the function fun!!!\n")
    time.sleep(2)                                                      # not patched: the hub never gets a chance to switch
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
