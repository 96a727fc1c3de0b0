"""Threading primitives in the program's words: a contended Lock or RLock, Semaphore, Barrier, Condition, Event,
Thread.start/join and queues each make the waiting task `blocked`, e.g. `Lock.acquire() held by worker(1)`.

`_thread.lock` and `_thread.RLock` are C types whose methods cannot be replaced, so `threading.Lock` and
`threading.RLock` become thin wrappers before the script runs. An acquire first tries without waiting and records
nothing when that succeeds (an RLock re-entered by its owner is not a wait); only a contended acquire is a blocked
span, naming the task that took the lock last. Locks the standard library made before (threading's own) stay C locks.
The other primitives are Python classes: their outer call is wrapped, so the span says `Semaphore.acquire()`, not the
`Condition.wait()` inside it (BlockingHooks' busy set keeps the inner call from recording again).
"""

from __future__ import annotations

import _thread
import functools
import queue
import sys
import threading

from viz import protocol
from viz.recorder.callsite import call_name, format_seconds
from viz.recorder.core import get_ident
from viz.recorder.imports import when_imported

_DEFAULT_THREAD_NAME = "Thread-"
_allocate_lock = _thread.allocate_lock
_CRLock = _thread.RLock
_CSimpleQueue = queue.SimpleQueue
_who = get_ident  # who takes a lock: its thread; once gevent is imported, its task (as -task id: greenlets share threads)


class _Wrapped:
    """A C lock and the thread that took it last (so a task waiting for it can name the holder)."""
    __slots__ = ("_lock", "_holder", "__weakref__")
    _contended = None  # set by install(): the recorded blocking acquire, `(lock, timeout) -> bool`

    def acquire(self, blocking=True, timeout=-1):
        if self._lock.acquire(False):
            self._holder = _who()
            return True
        contended = self._contended
        if not blocking or contended is None or timeout == 0:
            got = self._lock.acquire(blocking, timeout)
        else:
            got = contended(self, timeout)
        if got:
            self._holder = _who()
        return got

    __enter__ = acquire

    def release(self):
        self._lock.release()

    def __exit__(self, t, v, tb):
        self._lock.release()

    def locked(self):
        return self._lock.locked()

    def _at_fork_reinit(self):
        self._lock._at_fork_reinit()
        self._holder = None

    def __repr__(self):
        return repr(self._lock)


class Lock(_Wrapped):
    """threading.Lock, recorded when contended."""
    __slots__ = ()
    _kind = "Lock"

    def __init__(self):
        self._lock = _allocate_lock()
        self._holder = None


class RLock(_Wrapped):
    """threading.RLock, recorded when another thread holds it. threading.Condition calls the three private methods
    below on the lock it is given (they save and restore the recursion level across a wait)."""
    __slots__ = ()
    _kind = "RLock"
    _owner = None  # gevent's monkey.patch_all() looks at every RLock's `_owner` (the C lock underneath has none)

    def __init__(self, *args, **kwargs):
        self._lock = _CRLock(*args, **kwargs)
        self._holder = None

    def _is_owned(self):
        return self._lock._is_owned()

    def _release_save(self):
        return self._lock._release_save()

    def _acquire_restore(self, state):
        self._lock._acquire_restore(state)
        self._holder = _who()


def install(hooks) -> None:
    _install_locks(hooks)
    _install_threads(hooks)
    _install_waits(hooks)
    _install_queues(hooks)


def _install_locks(hooks) -> None:
    rec = hooks.rec

    def holder_task(lock) -> int | None:
        who = lock._holder
        return None if who is None else -who if who < 0 else rec.thread_task.get(who)

    def holder(lock) -> str:
        tid = holder_task(lock)
        return rec.names.get(tid, "another thread") if tid is not None else "another thread"

    def released(a, k, got):  # (before acquire() records the new holder) the task that held it last released it
        tid = holder_task(a[0])
        return (tid, f"lock released by {rec.names.get(tid, '?')}") if got and tid is not None else None

    def by_task(gevent) -> None:
        global _who
        current_task = rec.current_task
        _who = lambda: -current_task()  # noqa: E731
    when_imported(rec, "gevent", by_task)

    def contended(lock, timeout):
        return lock._lock.acquire(True, timeout)

    _Wrapped._contended = staticmethod(hooks.blocking(
        contended, lambda a, k: f"{a[0]._kind}.acquire() held by {holder(a[0])}", released))
    threading.Lock = Lock
    threading.RLock = RLock


def threads_patched() -> bool:
    """gevent's monkey patching made threading cooperative: its waits switch to the hub, where the greenlet hooks
    see them (with the call as written); they neither need a span of ours nor hold the loop."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def unless_patched(describe):
    """`describe` for a threading wait, saying nothing once threading is cooperative (see threads_patched)."""
    def words(a, k):
        return None if threads_patched() else describe(a, k)
    return words


def try_first(hooks, real, describe, woken=None):
    """Wrap an `acquire(blocking=True, timeout=None)`: try it without waiting first (nothing recorded when that
    succeeds), then wait recorded as blocked for `describe(args, kwargs)` (and its end caused as `woken` says)."""
    slow = hooks.blocking(real, unless_patched(describe), woken)

    @functools.wraps(real)
    def acquire(self, blocking=True, timeout=None):
        if real(self, False):
            return True
        if not blocking:
            return real(self, blocking, timeout)
        if timeout is not None and timeout <= 0:
            return False  # what a timeout of 0 does after the try above failed: no wait
        return slow(self, True, timeout)
    return acquire


def _install_threads(hooks) -> None:
    rec = hooks.rec
    Thread = threading.Thread
    start, bootstrap = Thread.start, Thread._bootstrap_inner

    def thread_name(th) -> str:
        name = th.name
        if name.startswith(_DEFAULT_THREAD_NAME) and getattr(th, "_target", None) is not None:
            return call_name(th._target, getattr(th, "_args", ()), getattr(th, "_kwargs", None),
                             is_user=rec.sites.is_user)
        return name

    def task_name(th) -> str:
        return rec.names.get(getattr(th, "_viz_task", 0), th.name)

    # start() waits until the new thread runs: `start (worker(1))`, not the Event.wait() inside it
    def running(a, k, result):  # start() returns once the new thread runs: the thread woke its starter
        tid = getattr(a[0], "_viz_task", None)
        return None if tid is None else (tid, f"{task_name(a[0])} started")
    started = hooks.blocking(start, unless_patched(lambda a, k: f"start ({task_name(a[0])})"), running)

    @functools.wraps(start)
    def start_wrapper(th):
        try:
            if not hasattr(th, "_viz_task"):
                th._viz_task = rec.new_task(thread_name(th), "thread", rec.current_task())
                rec.state(th._viz_task, "ready", "start()")
        except Exception:
            rec.hook_error("Thread.start hook")
        return started(th)

    @functools.wraps(bootstrap)
    def bootstrap_wrapper(th):
        tid = getattr(th, "_viz_task", None)
        try:
            if tid is None:
                tid = th._viz_task = rec.new_task(thread_name(th), "thread", None)
            rec.thread_started(tid)
            getcurrent = rec.current_greenlet
            if getcurrent is not None:
                g = getcurrent()
                old = rec.greenlet_task.get(g)
                if old is not None and old != tid and g.parent is not None:
                    rec.end(old)  # under monkey patching a thread is a greenlet: one task, the thread's
                rec.greenlet_task[g] = tid
            target = getattr(th, "_target", None)
            code = getattr(target, "__code__", None)
            where = (rec.sites.file_name(code), code.co_firstlineno) if code and rec.sites.is_user(code) else (None, None)
            rec.emit((protocol.TASK_STATE, rec.now(), tid, "running", None, where[0], where[1], None))
        except Exception:
            rec.hook_error("thread start hook")
        try:
            return bootstrap(th)
        finally:
            rec.end(tid)
    Thread.start = start_wrapper
    Thread._bootstrap_inner = bootstrap_wrapper

    def ended(a, k, result):
        th = a[0]
        tid = getattr(th, "_viz_task", None)
        return None if tid is None or th.is_alive() else (tid, f"join: {task_name(th)} ended")
    Thread.join = hooks.blocking(Thread.join, unless_patched(
        lambda a, k: f"join ({task_name(a[0])})" if a[0].is_alive() else None), ended)


def _no_wait(a, k) -> bool:
    """A `wait(timeout)` given a timeout of 0 (or less) only looks: it is not a wait."""
    timeout = a[1] if len(a) > 1 else k.get("timeout")
    return timeout is not None and timeout <= 0


def _called_from(code, depth: int = 5) -> bool:
    """A frame running `code` is among the few just above this describe function (our wrappers in between)."""
    f = sys._getframe(2)
    for _ in range(depth):
        if f is None:
            return False
        if f.f_code is code:
            return True
        f = f.f_back
    return False


def setter(rec, real):
    """Wrap a method that wakes waiters (Event.set, Queue.put): it records its task on the object, so the waiter it
    wakes can name it (`by_setter` reads it)."""
    @functools.wraps(real)
    def wrapper(self, *args, **kwargs):
        try:
            self._viz_by = rec.current_task()  # (looked up each time: generator and asyncio hooks replace it)
        except Exception:
            pass
        return real(self, *args, **kwargs)
    return wrapper


def by_setter(rec, what: str, flag: bool = False):
    """The wake-up cause of a wait that returned (`woken` for BlockingHooks.blocking): the task that last called the
    setter on the object, `Event.set() by worker-2`. With `flag`, the wait returns False when it timed out. A `what`
    starting with a dot follows the object's class name (`.release()`: `BoundedSemaphore.release()`)."""
    def woken(a, k, result):
        by = getattr(a[0], "_viz_by", None)
        if by is None or flag and result is False:
            return None
        return by, f"{type(a[0]).__name__ if what[0] == '.' else ''}{what} by {rec.names.get(by, '?')}"
    return woken


def _install_waits(hooks) -> None:
    Event, Condition = threading.Event, threading.Condition
    rec = hooks.rec
    timer_run = threading.Timer.run.__code__

    def event_words(a, k):
        if a[0].is_set() or _no_wait(a, k):
            return None
        if _called_from(timer_run):  # a Timer's thread waits out its interval (or a cancel())
            return f"Timer({format_seconds(a[1] if len(a) > 1 else k.get('timeout'))})"
        return "Event.wait()"
    Event.wait = hooks.blocking(Event.wait, unless_patched(event_words), by_setter(rec, "Event.set()", True))
    Event.set = setter(rec, Event.set)
    wait_for = Condition.wait_for

    def condition_words(a, k):
        if _no_wait(a, k):
            return None
        # wait_for() calls wait(): the span names the call the program made
        return "Condition.wait_for()" if _called_from(wait_for.__code__) else "Condition.wait()"
    Condition.wait = hooks.blocking(Condition.wait, unless_patched(condition_words),
                                    by_setter(rec, "Condition.notify()", True))
    Condition.notify = setter(rec, Condition.notify)  # (notify_all() calls it)
    threading.Semaphore.acquire = try_first(hooks, threading.Semaphore.acquire,
                                            lambda a, k: f"{type(a[0]).__name__}.acquire()",
                                            by_setter(rec, ".release()", True))
    threading.Semaphore.release = setter(rec, threading.Semaphore.release)
    threading.BoundedSemaphore.release = setter(rec, threading.BoundedSemaphore.release)
    threading.Semaphore.__enter__ = threading.Semaphore.acquire

    def barrier_words(a, k):
        b = a[0]
        arrived = b.n_waiting + 1
        return None if arrived >= b.parties else f"Barrier.wait() ({arrived} of {b.parties} arrived)"
    threading.Barrier.wait = hooks.blocking(threading.Barrier.wait, unless_patched(barrier_words))


class _SimpleQueue(_CSimpleQueue):
    """queue.SimpleQueue (a C type) with a get() that is recorded when it waits."""
    __slots__ = ()
    _wait = None  # set by install()

    def get(self, block=True, timeout=None):
        if not block or self._wait is None or (timeout is not None and timeout <= 0):
            return super().get(block, timeout)
        try:
            return super().get(False)
        except queue.Empty:
            return self._wait(self, timeout)


def _install_queues(hooks) -> None:
    Queue = queue.Queue
    rec = hooks.rec
    Queue.get = hooks.blocking(Queue.get, unless_patched(
        lambda a, k: "Queue.get()" if (a[1] if len(a) > 1 else k.get("block", True)) and a[0].empty() else None),
        by_setter(rec, "Queue.put()"))
    Queue.put = setter(rec, hooks.blocking(Queue.put, unless_patched(
        lambda a, k: "Queue.put()" if a[0].maxsize > 0 and a[0].full() else None)))
    Queue.join = hooks.blocking(Queue.join, unless_patched(lambda a, k: "Queue.join()" if a[0].unfinished_tasks else None))
    _SimpleQueue.__name__ = _SimpleQueue.__qualname__ = "SimpleQueue"
    _SimpleQueue.__module__ = "queue"
    def simple_get_words(a, k):
        pool = sys.modules.get("concurrent.futures.thread")  # (a ThreadPoolExecutor's idle worker waits here)
        if pool is not None and _called_from(pool._worker.__code__):
            return "waiting for work"
        return "SimpleQueue.get()"
    _SimpleQueue._wait = staticmethod(hooks.blocking(
        lambda q, timeout: _CSimpleQueue.get(q, True, timeout), simple_get_words))
    queue.SimpleQueue = _SimpleQueue
