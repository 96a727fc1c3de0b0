"""What woke a greenlet that waited on a gevent Event, AsyncResult, queue, Semaphore, lock or another greenlet's end:
small programs with a known timeline, recorded in real child processes. The woken greenlet is `ready` from the call
that woke it (the waker still holds the loop), with the cause naming the waker and the call, then `running`."""

from __future__ import annotations

import pytest

from conftest import derived, fed_batches, lane, record, spans
from viz.ingest import derive
from viz.trace.model import Trace

BUSY = ("import time\n"
        "def busy(s):  # holds the loop: no switch\n"
        "    t = time.perf_counter()\n"
        "    while time.perf_counter() - t < s:\n"
        "        pass\n")


def causes(trace: Trace, name: str, what: str | None = None):
    """(span, cause) for each span of task `name` with a cause (whose words are `what`, when given)."""
    ln = lane(trace, name)
    found = []
    for s in spans(trace, name):
        c = trace.cause_of(ln, s.index)
        if c is not None and (what is None or c.what == what):
            found.append((s, c))
    return found


def task(trace: Trace, name: str) -> int:
    return lane(trace, name).task


def after(trace: Trace, name: str, span):
    """The span of task `name` that follows `span`."""
    return spans(trace, name)[span.index + 1]


def waited(trace: Trace, name: str, woken, call: str | None = None):
    """The blocked span of task `name` that the wake-up `woken` ended (and, given `call`, that it was blocked in
    that call: the switch hook names a `with` statement's wait differently across Python versions)."""
    s = spans(trace, name)[woken.index - 1]
    assert s.state == "blocked" and (call is None or s.reason == call), s
    return s


def test_event_set_makes_the_waiter_ready_while_the_setter_holds_the_loop_then_it_runs(script):
    path = script("import gevent\nfrom gevent.event import Event\n" + BUSY +
                  "ev = Event()\n"
                  "def waiter():\n    ev.wait()\n    print('woke')\n"
                  "def setter():\n    gevent.sleep(0.3)\n    ev.set()\n    busy(0.15)\n"
                  "gevent.joinall([gevent.spawn(waiter), gevent.spawn(setter)])\n")
    trace = record(str(path))
    (ready, cause), = causes(trace, "waiter", "Event.set() by setter")
    assert ready.state == "ready" and ready.reason == "Event.set() by setter" and cause.by == task(trace, "setter")
    assert 0.25 <= ready.start - waited(trace, "waiter", ready, "ev.wait()").start <= 0.6
    assert 0.12 <= ready.end - ready.start <= 0.4  # ready while the setter was busy for 0.15 s without switching
    assert after(trace, "waiter", ready).state == "running" and (ready.file, ready.line) == ("script.py", 10)


def test_async_result_get_and_wait_are_woken_by_set_and_set_exception(script):
    path = script("import gevent\nfrom gevent.event import AsyncResult\n"
                  "r1, r2 = AsyncResult(), AsyncResult()\n"
                  "def getter():\n    print('got', r1.get())\n"
                  "def waiter():\n    r2.wait()\n"
                  "def setter():\n    gevent.sleep(0.2)\n    r1.set(7)\n    gevent.sleep(0.2)\n"
                  "    r2.set_exception(ValueError('no'))\n"
                  "gevent.joinall([gevent.spawn(getter), gevent.spawn(waiter), gevent.spawn(setter)])\n")
    trace = record(str(path))
    setter = task(trace, "setter")
    (got, c1), = causes(trace, "getter", "AsyncResult.set() by setter")
    (failed, c2), = causes(trace, "waiter", "AsyncResult.set_exception() by setter")
    assert c1.by == c2.by == setter and got.state == failed.state == "ready"
    assert 0.15 <= got.start - waited(trace, "getter", got, "r1.get()").start <= 0.5
    assert 0.15 <= failed.start - got.start <= 0.5  # the exception came 0.2 s after the value


def test_queue_put_wakes_the_getter_and_get_wakes_the_putter_of_a_full_queue(script):
    path = script("import gevent\nfrom gevent.queue import Queue\n"
                  "q, full = Queue(), Queue(1)\nfull.put('first')\n"
                  "def consumer():\n    print('got', q.get())\n"
                  "def producer():\n    gevent.sleep(0.2)\n    q.put(42)\n"
                  "def putter():\n    full.put('second')\n"
                  "def taker():\n    gevent.sleep(0.3)\n    full.get()\n"
                  "gevent.joinall([gevent.spawn(f) for f in (consumer, producer, putter, taker)])\n")
    trace = record(str(path))
    (got, c), = causes(trace, "consumer", "Queue.put() by producer")
    assert c.by == task(trace, "producer") and got.state == "ready"
    assert 0.15 <= got.start - waited(trace, "consumer", got, "q.get()").start <= 0.5
    (put, c2), = causes(trace, "putter", "Queue.get() by taker")
    assert c2.by == task(trace, "taker") and after(trace, "putter", put).state == "running"
    assert 0.25 <= put.start - waited(trace, "putter", put, "full.put('second')").start <= 0.6


def test_queue_variants_record_and_stay_queues_and_join_is_woken_by_the_last_task_done(script):
    path = script("import gevent\nfrom gevent import queue\n"
                  "pq, lq, jq = queue.PriorityQueue(), queue.LifoQueue(), queue.JoinableQueue()\n"
                  "assert isinstance(pq, queue.Queue) and isinstance(jq, queue.Queue) and "
                  "isinstance(pq, queue.SimpleQueue)\n"
                  "def first():\n    print('pq', pq.get())\n"
                  "def last():\n    print('lq', lq.get())\n"
                  "def worker():\n    jq.get()\n    gevent.sleep(0.2)\n    jq.task_done()\n"
                  "def feeder():\n    gevent.sleep(0.1)\n    pq.put(3)\n    lq.put(4)\n"
                  "jq.put('job')\n"
                  "gs = [gevent.spawn(f) for f in (first, last, worker, feeder)]\n"
                  "jq.join()\nprint('joined')\ngevent.joinall(gs)\n")
    trace = record(str(path))
    assert [o.text for o in trace.outputs] == ["pq 3", "lq 4", "joined"]
    assert causes(trace, "first", "PriorityQueue.put() by feeder")
    assert causes(trace, "last", "LifoQueue.put() by feeder")
    (joined, c), = causes(trace, "main", "Queue.task_done() by worker")
    assert c.by == task(trace, "worker")
    assert 0.15 <= joined.start - waited(trace, "main", joined, "jq.join()").start <= 0.5


def test_semaphore_release_wakes_the_first_waiter_and_bounded_semaphore_says_its_class(script):
    path = script("import gevent\nfrom gevent.lock import Semaphore, BoundedSemaphore\n"
                  "sem, two = Semaphore(), BoundedSemaphore(2)\n"
                  "def holder():\n    with sem:\n        gevent.sleep(0.3)\n"
                  "def contender():\n    gevent.sleep(0.05)\n    with sem:\n        print('sem acquired')\n"
                  "def short():\n    with two:\n        gevent.sleep(0.1)\n"
                  "def long():\n    with two:\n        gevent.sleep(0.4)\n"
                  "def third():\n    gevent.sleep(0.05)\n    two.acquire()\n    two.release()\n"
                  "gevent.joinall([gevent.spawn(f) for f in (holder, contender, short, long, third)])\n")
    trace = record(str(path))
    (got, c), = causes(trace, "contender", "Semaphore.release() by holder")
    assert c.by == task(trace, "holder") and got.state == "ready" and after(trace, "contender", got).state == "running"
    assert 0.2 <= got.start - waited(trace, "contender", got).start <= 0.5  # held 0.3 s from 0.0
    (third, c3), = causes(trace, "third", "BoundedSemaphore.release() by short")
    assert 0.03 <= third.start - waited(trace, "third", third, "two.acquire()").start <= 0.3  # 0.1 s hold from 0.0


def test_a_waiter_woken_for_a_permit_its_releaser_takes_back_at_once_is_blocked_again_until_the_next_release(script):
    path = script("import gevent\nfrom gevent.lock import Semaphore\nsem = Semaphore()\n"
                  "def holder():\n    with sem:\n        gevent.sleep(0.2)\n    with sem:  # no switch between\n"
                  "        gevent.sleep(0.2)\n"
                  "def contender():\n    gevent.sleep(0.05)\n    with sem:\n        print('got it')\n"
                  "gevent.joinall([gevent.spawn(holder), gevent.spawn(contender)])\n")
    trace = record(str(path))
    woke = causes(trace, "contender", "Semaphore.release() by holder")
    assert len(woke) == 2  # ready at each release; the first time the holder took the permit back
    (first, _), (second, _) = woke
    back = after(trace, "contender", first)
    assert back.state == "blocked" and back.reason == waited(trace, "contender", first).reason
    assert back.end == second.start
    assert 0.15 <= second.start - first.start <= 0.5
    assert after(trace, "contender", second).state == "running"
    assert trace.outputs[0].t >= second.start


def test_rlock_and_monkey_patched_threading_lock_and_event_name_the_call_and_the_holder(script):
    path = script("from gevent import monkey\nmonkey.patch_all()\n"
                  "import gevent, threading\nfrom gevent.lock import RLock\n"
                  "rlock, lock, ev = RLock(), threading.Lock(), threading.Event()\n"
                  "def holder():\n    with rlock:\n        with rlock:\n            gevent.sleep(0.2)\n"
                  "    with lock:\n        gevent.sleep(0.2)\n    gevent.sleep(0.1)\n    ev.set()\n"
                  "def contender():\n    gevent.sleep(0.05)\n    with rlock:\n        pass\n"
                  "    with lock:\n        pass\n    ev.wait()\n"
                  "gevent.joinall([gevent.spawn(holder), gevent.spawn(contender)])\n")
    trace = record(str(path))
    holder = task(trace, "holder")
    (r, rc), = causes(trace, "contender", "RLock.release() by holder")
    (k, kc), = causes(trace, "contender", "Lock.release() by holder")
    (e, ec), = causes(trace, "contender", "Event.set() by holder")  # threading's, on a Condition's waiter lock
    assert rc.by == kc.by == ec.by == holder and r.state == k.state == e.state == "ready"
    assert 0.1 <= r.start - waited(trace, "contender", r).start <= 0.4  # 0.2 s hold from 0.0
    assert 0.15 <= k.start - r.start <= 0.5  # then 0.2 s with the lock
    assert 0.07 <= e.start - waited(trace, "contender", e, "ev.wait()").start <= 0.4  # set 0.1 s after


def test_join_get_joinall_and_wait_are_woken_by_the_end_of_the_greenlet_they_waited_for(script):
    path = script("import gevent\nfrom gevent.event import Event\nev = Event()\n"
                  "def fun():\n    gevent.sleep(0.1)\n    return 5\n"
                  "def slow():\n    gevent.sleep(0.2)\n"
                  "def setter():\n    gevent.sleep(0.3)\n    ev.set()\n"
                  "g = gevent.spawn(fun)\ng.join()\n"
                  "h = gevent.spawn(fun)\nprint('got', h.get())\n"
                  "gevent.joinall([gevent.spawn(slow), gevent.spawn(fun)])\n"
                  "gevent.spawn(setter)\ngevent.wait([ev, gevent.spawn(slow)])\n")
    trace = record(str(path))
    (joined, c), = causes(trace, "main", "fun ended")
    assert c.by == task(trace, "fun") and joined.state == "ready"
    assert 0.07 <= joined.start - waited(trace, "main", joined, "g.join()").start <= 0.4
    (got, c2), = causes(trace, "main", "fun #2 ended")
    assert c2.by == task(trace, "fun #2")
    assert 0.07 <= got.start - waited(trace, "main", got, "h.get()").start <= 0.4
    # joinall: woken once per greenlet's end, fun #3 (0.1 s) before slow (0.2 s)
    (a, ca), = causes(trace, "main", "fun #3 ended")
    (b, cb), = causes(trace, "main", "slow ended")
    assert 0.07 <= b.start - a.start <= 0.3 and cb.by == task(trace, "slow")
    # wait([ev, g]): the greenlet's end (0.2 s), then the event (0.3 s)
    (e, ce), = causes(trace, "main", "Event.set() by setter")
    (s, cs), = causes(trace, "main", "slow #2 ended")
    assert 0.05 <= e.start - s.start <= 0.3 and ce.by == task(trace, "setter")
    assert [o.text for o in trace.outputs] == ["got 5"]


def test_a_full_pool_and_its_join_are_woken_by_the_end_of_a_job_the_pool_saw_in_the_hub(script):
    path = script("import gevent\nfrom gevent.pool import Pool\npool = Pool(2)\n"
                  "def job(n):\n    gevent.sleep(0.1 * n)\n"
                  "for n in (1, 2, 3):\n    pool.spawn(job, n)\npool.join()\n")
    trace = record(str(path))
    (room, c1), = causes(trace, "main", "job(1) ended")  # the pool's semaphore, released in the hub's callback
    (done, c3), = causes(trace, "main", "job(3) ended")  # the pool's empty event, set there too
    assert c1.by == task(trace, "job(1)") and c3.by == task(trace, "job(3)") and room.state == done.state == "ready"
    assert 0.07 <= room.start - waited(trace, "main", room, "pool.spawn(job, n)").start <= 0.4
    assert 0.25 <= done.start - room.start <= 0.6  # job(3) started then, and slept 0.3 s


def test_a_program_subclassing_gevent_classes_still_works_and_its_class_names_the_wake_up(script):
    """isinstance, repr and pickling the program's class by name behave as without the recorder; its own set() runs."""
    path = script("import gevent, pickle\nfrom gevent.event import Event\n"
                  "class Flag(Event):\n    def __init__(self):\n        super().__init__()\n        self.sets = 0\n"
                  "    def set(self):\n        self.sets += 1\n        super().set()\n"
                  "class Job(gevent.Greenlet):\n    def _run(self):\n        gevent.sleep(0.1)\n        flag.set()\n"
                  "flag = Flag()\n"
                  "assert isinstance(flag, Event) and type(Event()).__name__ == 'Event'\n"
                  "assert repr(Event()).startswith('<gevent._gevent_cevent.Event object at')\n"
                  "assert isinstance(gevent.spawn(lambda: 1), gevent.Greenlet)\n"
                  "assert pickle.loads(pickle.dumps(Flag)) is Flag\n"
                  "from gevent.lock import Semaphore\n"
                  "class Counted(Semaphore):\n    n = 0\n"
                  "    def acquire(self, *args):\n        Counted.n += 1\n        return super().acquire(*args)\n"
                  "with Counted():\n    pass\n"
                  "job = Job()\njob.start()\nflag.wait()\njob.join()\n"
                  "print('sets', flag.sets, flag.is_set(), 'acquires', Counted.n)\n")
    trace = record(str(path))
    assert [o.text for o in trace.outputs] == ["sets 1 True acquires 1"]  # `with` calls the subclass's acquire()
    (woke, c), = causes(trace, "main", "Flag.set() by _run")  # (a Greenlet subclass's task is named by its _run)
    assert c.by == task(trace, "_run") and 0.07 <= woke.start - waited(trace, "main", woke, "flag.wait()").start <= 0.4


def test_a_wait_that_times_out_gets_no_wake_up_cause_and_is_not_left_ready(script):
    path = script("import gevent\nfrom gevent.event import Event\nfrom gevent.queue import Queue, Empty\n"
                  "ev, q = Event(), Queue()\n"
                  "print(ev.wait(timeout=0.1))\n"
                  "try:\n    q.get(timeout=0.1)\nexcept Empty:\n    print('empty')\n"
                  "ev.set()\nq.put(1)\n")
    trace = record(str(path))
    assert [o.text for o in trace.outputs] == ["False", "empty"]
    assert not [c for _, c in causes(trace, "main") if c.what.startswith(("Event", "Queue"))]
    assert not spans(trace, "main", "ready") or all(s.reason != "Event.set() by main" for s in spans(trace, "main"))


def test_the_c_deriver_and_the_python_one_and_the_pure_python_hooks_give_the_same_wake_ups(script, monkeypatch):
    if derive._switches is None:
        pytest.skip("the C deriver is not built or turned off (VIZ_PURE_PYTHON)")
    path = script("import gevent\nfrom gevent.event import Event\nfrom gevent.queue import Queue\n"
                  "from gevent.lock import Semaphore\nev, q, sem = Event(), Queue(), Semaphore()\n"
                  "def waiter():\n    ev.wait()\n"
                  "def setter():\n    gevent.sleep(0.05)\n    ev.set()\n"
                  "def consumer():\n    q.get()\n"
                  "def producer():\n    gevent.sleep(0.1)\n    q.put(42)\n"
                  "def holder():\n    with sem:\n        gevent.sleep(0.15)\n"
                  "def contender():\n    gevent.sleep(0.02)\n    with sem:\n        pass\n"
                  "fs = (waiter, setter, consumer, producer, holder, contender)\n"
                  "gevent.joinall([gevent.spawn(f) for f in fs])\n")
    batches = fed_batches(path)
    fast = derived(batches)
    assert derived(batches, pure_python=True) == fast

    def wake_ups(records) -> list:
        names = {r["task"]: r["name"] for r in records if type(r) is dict and r["k"] == "task"}
        return sorted((names[r["task"]], names.get(r["by"]), r["what"]) for r in records
                      if type(r) is dict and r["k"] == "cause" and "timer" not in r["what"]
                      and not r["what"].startswith("spawned"))
    monkeypatch.setenv("VIZ_PURE_PYTHON", "1")
    pure = derived(fed_batches(path))
    assert wake_ups(pure) == wake_ups(fast) == sorted([
        ("waiter", "setter", "Event.set() by setter"), ("consumer", "producer", "Queue.put() by producer"),
        ("contender", "holder", "Semaphore.release() by holder"),
        *[("main", name, f"{name} ended") for name in ("waiter", "setter", "consumer", "producer", "holder",
                                                         "contender")]])


def test_a_waiter_killed_while_waiting_is_not_made_ready_by_a_later_set(script):
    path = script("import gevent\nfrom gevent.event import Event\nev = Event()\n"
                  "def waiter():\n    ev.wait()\n"
                  "def other():\n    gevent.sleep(0.2)\n    ev.wait()\n"
                  "w, o = gevent.spawn(waiter), gevent.spawn(other)\n"
                  "gevent.sleep(0.1)\nw.kill()\ngevent.sleep(0.2)\nev.set()\no.join()\n")
    trace = record(str(path))
    assert not causes(trace, "waiter", "Event.set() by main") and not spans(trace, "waiter", "ready")[1:]
    (woke, c), = causes(trace, "other", "Event.set() by main")
    assert spans(trace, "waiter")[-1].end < woke.start - 0.1  # it ended at its kill, 0.2 s before the set
    assert 0.05 <= woke.start - waited(trace, "other", woke, "ev.wait()").start <= 0.3
