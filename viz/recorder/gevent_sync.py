"""What woke a greenlet that waited for a gevent Event, AsyncResult, Queue, Semaphore, lock or another greenlet's end.

gevent's Event, AsyncResult, queues, Semaphore, BoundedSemaphore and Greenlet are Cython classes whose methods cannot
be replaced, but they can be subclassed: when the script imports gevent (gevent.event, gevent.queue, gevent.lock),
their names in gevent's modules become recording subclasses with the same __name__, __qualname__ and __module__, so
reprs and isinstance behave (objects gevent made before keep the original class, and record nothing). A call that is
about to wait (`ev.wait()`, `q.get()`, `sem.acquire()`, `g.join()`, `gevent.joinall(...)`) puts the waiting task on
the object's waits; the call that wakes it (`ev.set()`, `q.put(42)`, `sem.release()`, the joined greenlet's end)
makes it `ready` at that moment, with the cause `Event.set() by setter`: gevent resumes it from the hub, once the
waker lets the loop run. The switch hooks record the block and the resume, as for any wait. A waiter made ready for
a permit or an item that another greenlet then takes without waiting goes back to `blocked` (gevent does not wake
it). Not followed: Channel, peek(), Semaphore.wait(), gevent.iwait(), and objects gevent made for itself.
"""

from __future__ import annotations

import functools
import queue
import sys
import threading

from viz import protocol
from viz.recorder.imports import when_imported

_W = None  # the run's Waits, once install() ran
_ON: dict = {}  # its waits by key (Waits.on): while it is empty, no call needs to look further
_NESTED: set = set()  # code that waits, recorded, and whose Event.wait() inside is the same wait (Queue.join)


class Wait:
    """One task waiting: where it waits (file, line, the call as written), and whether it is ready (woken, not yet
    resumed). A wait for several objects (`gevent.joinall`) is on each object's list, and is `multi`: its `woken`
    holds the cause of each object that got ready, told when gevent resumes the task for that object."""
    __slots__ = ("task", "file", "line", "reason", "ready", "multi", "woken")

    def __init__(self, task, file, line, reason, multi=False):
        self.task, self.file, self.line, self.reason = task, file, line, reason
        self.ready, self.multi = False, multi
        self.woken = {} if multi else None  # multi: {key: (by, words)}


class Waits:
    """The tasks waiting on each object (by `id`, in the order they began), made ready by the call that wakes them."""

    def __init__(self, rec):
        self.rec = rec
        self.on = _ON  # key (id of the object; ~id for a queue's putters) -> [Wait, ...]
        self.ended: dict = {}  # id of a greenlet that ended lately -> its task (a hub callback may wake for it)

    def make(self, frame, multi=False) -> Wait:
        """The calling task's wait, at the user's frame at or above `frame`."""
        rec = self.rec
        sites = rec.sites
        f = sites.user_frame(frame)
        if f is None:
            return Wait(rec.current_task(), None, None, None, multi)
        return Wait(rec.current_task(), sites.file_name(f.f_code), f.f_lineno, sites.call_text(f), multi)

    def begin(self, key, frame) -> Wait | None:
        """The calling task begins to wait on `key` (None if the hook failed: the wait goes on unrecorded)."""
        try:
            w = self.make(frame)
        except Exception:
            self.rec.hook_error("gevent wait hook")
            return None
        self.on.setdefault(key, []).append(w)
        return w

    def waiting(self, key, frame, call, *args):
        """`call(*args)`: a wait on `key` the calling task makes from `frame`, recorded while it lasts."""
        w = self.begin(key, frame)
        try:
            return call(*args)
        finally:
            self.end(key, w)

    def add(self, key, w: Wait) -> None:
        self.on.setdefault(key, []).append(w)

    def end(self, key, w: Wait | None) -> None:
        waits = self.on.get(key)
        if waits is not None and w is not None:
            try:
                waits.remove(w)
            except ValueError:
                pass
            if not waits:
                del self.on[key]

    def settle(self, key, n, what=None, by=None, t=None, named=True) -> None:
        """After a change to the object: its first `n` waits (all when None) are ready, the rest blocked. Those made
        ready now get the cause `<what> by <the calling task>` (`by`: another task; `named=False`: `what` alone);
        without `what` (a call that only took a permit or an item), none is made ready, and those past `n` go back
        to blocked."""
        waits = self.on.get(key)
        if not waits:
            return
        try:
            self._settle(waits, key, n, what, by, t, named)
        except Exception:
            self.rec.hook_error("gevent wake-up hook")

    def _settle(self, waits, key, n, what, by, t, named) -> None:
        rec = self.rec
        emit = rec.emit
        words = None
        for i, w in enumerate(waits):
            if n is None or i < n:
                if what is None:
                    continue
                if words is None:
                    if by is None:
                        by = rec.current_task()
                        if rec.kinds.get(by) == "loop":  # the hub, in a callback: for a greenlet that ended?
                            by, what, named = self._ended_in_hub(by, what, named)
                    words = f"{what} by {rec.names.get(by, '?')}" if named else what
                    t = rec.now() if t is None else t
                if w.multi:
                    # joinall's task is resumed for each object, but only the last lets the call return: it is not
                    # ready (able to go on with the program) before; the cause is told when gevent resumes it
                    w.woken.setdefault(key, (by, words))
                    continue
                if w.ready:
                    continue
                w.ready = True
                emit((protocol.TASK_STATE, t, w.task, "ready", words, w.file, w.line, None))
                emit((protocol.TASK_CAUSE, t, w.task, by, words))
            elif w.ready and not w.multi:  # another task took what it was woken for: gevent will not resume it
                w.ready = False
                emit((protocol.TASK_STATE, rec.now() if t is None else t, w.task, "blocked",
                      w.reason or "waiting for the loop", w.file, w.line, None))

    def resumed(self, w: Wait, obj) -> None:
        """A rawlink of a multi wait: gevent is about to resume its task for `obj` (an object's callbacks run in the
        order they were linked, ours first). The cause of `obj` getting ready, if we saw it, starts its ready span."""
        try:
            cause = w.woken.pop(id(obj), None)
            if cause is not None:
                rec = self.rec
                t = rec.now()
                rec.emit((protocol.TASK_STATE, t, w.task, "ready", cause[1], w.file, w.line, None))
                rec.emit((protocol.TASK_CAUSE, t, w.task, cause[0], cause[1]))
        except Exception:
            self.rec.hook_error("gevent wait hook")

    def greenlet_ended(self, g, tid: int, t: float) -> None:
        """For the switch hook: greenlet `g` (task `tid`) finished at t; the tasks joining it are ready."""
        ended = self.ended
        ended[id(g)] = tid
        if len(ended) > _ENDED_KEPT:
            del ended[next(iter(ended))]
        if id(g) in self.on:
            self.settle(id(g), None, f"{self.rec.names.get(tid, '?')} ended", tid, t, named=False)

    def _ended_in_hub(self, hub: int, what: str, named: bool):
        """(by, what, named) of a wake-up made by the hub: in a callback it runs for a greenlet's end (a link, as
        gevent.pool's, which releases the pool's semaphore), the greenlet that ended woke the waiter, `job(1)
        ended`; else the hub itself."""
        f = sys._getframe(3)
        for _ in range(_CALLBACK_DEPTH):
            if f is None:
                break
            for value in f.f_locals.values():
                tid = self.ended.get(id(value))
                if tid is not None and getattr(value, "dead", False):
                    return tid, f"{self.rec.names.get(tid, '?')} ended", False
            f = f.f_back
        return hub, what, named


_ENDED_KEPT = 256  # greenlets that ended lately, remembered for the hub's callbacks on their ends
_CALLBACK_DEPTH = 6  # frames looked at above a wake-up made in the hub


def _will_wait(timeout) -> bool:
    return timeout is None or timeout > 0


# ---- the recording subclasses' methods ---------------------------------------------------------------------------
class _EventWaits:
    """gevent.event.Event: wait() until set()."""
    __slots__ = ()

    def wait(self, timeout=None):
        if self.is_set() or not _will_wait(timeout) or _W is None or sys._getframe(1).f_code in _NESTED:
            return super().wait(timeout)
        return _W.waiting(id(self), sys._getframe(1), super().wait, timeout)

    def set(self):
        super().set()
        if _ON and id(self) in _ON:
            _W.settle(id(self), None, f"{type(self).__name__}.set()")


class _AsyncResultWaits:
    """gevent.event.AsyncResult: wait() or get() until set() or set_exception()."""
    __slots__ = ()

    def wait(self, timeout=None):
        if self.ready() or not _will_wait(timeout) or _W is None:
            return super().wait(timeout)
        return _W.waiting(id(self), sys._getframe(1), super().wait, timeout)

    def get(self, block=True, timeout=None):
        if not block or self.ready() or not _will_wait(timeout) or _W is None:
            return super().get(block, timeout)
        return _W.waiting(id(self), sys._getframe(1), super().get, block, timeout)

    def set(self, value=None):
        super().set(value)
        if _ON and id(self) in _ON:
            _W.settle(id(self), None, f"{type(self).__name__}.set()")

    def set_exception(self, exception, exc_info=None):
        super().set_exception(exception, exc_info)
        if _ON and id(self) in _ON:
            _W.settle(id(self), None, f"{type(self).__name__}.set_exception()")


_KIND = {"LockType": "Lock"}  # the name a monkey-patched threading.Lock goes by
_LIBRARY_FILES = {threading.__file__, queue.__file__}  # (and gevent's lock.py): code built on semaphores


def _called_as(frame, default: str) -> str:
    """The library call a release() was made in, `Event.set()` (threading's, monkey-patched: a Condition's waiter
    lock is released), `RLock.release()` (gevent's, around a semaphore), else `default`: the outermost public
    method among the library frames just above."""
    name = None
    while frame is not None and frame.f_code.co_filename in _LIBRARY_FILES:
        code = frame.f_code
        if not code.co_name.startswith("_"):
            name = getattr(code, "co_qualname", code.co_name)
        frame = frame.f_back
    return f"{name}()" if name else default


class _SemaphoreWaits:
    """gevent.lock.Semaphore, BoundedSemaphore (and gevent.lock.RLock, threading.Lock under monkey patching, which
    use them): acquire() until a release() leaves a permit. The first waiters, as many as there are permits, are
    woken, in the order they began to wait (gevent's)."""
    __slots__ = ()

    def acquire(self, blocking=True, timeout=None):
        if self.counter > 0 or not blocking or not _will_wait(timeout) or _W is None:
            got = super().acquire(blocking, timeout)
            if got and _ON and id(self) in _ON:
                _W.settle(id(self), self.counter)  # took a permit a waiter was woken for
            return got
        return _W.waiting(id(self), sys._getframe(1), super().acquire, blocking, timeout)

    def __enter__(self):
        self.acquire()  # (a subclass's own acquire(), as gevent's __enter__ calls it: threading.Lock's when patched)

    def release(self):
        result = super().release()
        if _ON and id(self) in _ON:
            kind = _KIND.get(type(self).__name__, type(self).__name__)
            _W.settle(id(self), self.counter, _called_as(sys._getframe(1), f"{kind}.release()"))
        return result

    def __exit__(self, t, v, tb):
        self.release()


class _QueueWaits:
    """gevent.queue's queues: get() until a put(), put() on a full queue until a get(). gevent wakes its waiters in
    the order they began, as many as there are items (free slots)."""
    __slots__ = ()

    def _viz_free(self):
        size = self.maxsize
        return None if size is None or size <= 0 else max(size - self.qsize(), 0)

    def get(self, block=True, timeout=None):
        if block and not self.qsize() and _will_wait(timeout) and _W is not None:
            item = _W.waiting(id(self), sys._getframe(1), super().get, block, timeout)
        else:
            item = super().get(block, timeout)
        if _ON:
            if ~id(self) in _ON:
                _W.settle(~id(self), self._viz_free(), f"{type(self).__name__}.get()")
            if id(self) in _ON:
                _W.settle(id(self), self.qsize())  # took an item a waiter was woken for
        return item

    def put(self, item, block=True, timeout=None):
        if block and self.full() and _will_wait(timeout) and _W is not None:
            _W.waiting(~id(self), sys._getframe(1), super().put, item, block, timeout)
        else:
            super().put(item, block, timeout)
        if _ON:
            if id(self) in _ON:
                _W.settle(id(self), self.qsize(), f"{type(self).__name__}.put()")
            if ~id(self) in _ON:
                _W.settle(~id(self), self._viz_free())  # took a free slot a waiter was woken for


class _JoinableWaits:
    """gevent.queue.Queue (JoinableQueue): join() until task_done() leaves no unfinished task."""
    __slots__ = ()

    def join(self, timeout=None):
        if not self.unfinished_tasks or not _will_wait(timeout) or _W is None:
            return super().join(timeout)
        key = ("join", id(self))
        return _W.waiting(key, sys._getframe(1), super().join, timeout)

    def task_done(self):
        super().task_done()
        if _ON and not self.unfinished_tasks and ("join", id(self)) in _ON:
            _W.settle(("join", id(self)), None, f"{type(self).__name__}.task_done()")


class _GreenletWaits:
    """gevent.Greenlet: join() and get() until it ends (the switch hook sees the end: Waits.greenlet_ended)."""
    __slots__ = ()

    def join(self, timeout=None):
        if self.ready() or not _will_wait(timeout) or _W is None:
            return super().join(timeout)
        return _W.waiting(id(self), sys._getframe(1), super().join, timeout)

    def get(self, block=True, timeout=None):
        if not block or self.ready() or not _will_wait(timeout) or _W is None:
            return super().get(block, timeout)
        return _W.waiting(id(self), sys._getframe(1), super().get, block, timeout)


def _waiting_for_all(real):
    """gevent.joinall / gevent.wait(objects): one wait on every object not ready yet. gevent resumes the task once
    per object that gets ready (its loop then waits again), so each resume has its own cause; the task is `ready`
    only from the moment gevent resumes it (a greenlet's end does not let joinall return while others run on)."""
    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        objects = args[0] if args else kwargs.get("greenlets", kwargs.get("objects"))
        waits = _W
        if waits is None or objects is None or not hasattr(objects, "__len__"):
            return real(*args, **kwargs)
        try:
            pending = [o for o in objects if hasattr(o, "rawlink") and not o.ready()]
        except Exception:
            pending = []
        if not pending:
            return real(*args, **kwargs)
        linked = []
        try:
            w = waits.make(sys._getframe(1), multi=True)
            link = functools.partial(waits.resumed, w)
            for o in pending:
                o.rawlink(link)  # before the wait's own link: gevent calls them in order
                linked.append(o)
                waits.add(id(o), w)
        except Exception:
            waits.rec.hook_error("gevent wait hook")
        try:
            return real(*args, **kwargs)
        finally:
            for o in linked:
                waits.end(id(o), w)
                try:
                    o.unlink(link)
                except Exception:
                    pass
    return wrapper


_NESTED.add(Waits.waiting.__code__)  # a recorded wait (Queue.join) that waits on gevent's Event inside: that one is
# the same wait, and records nothing


# ---- install ----------------------------------------------------------------------------------------------------
def _recording(module, names, mixins: dict) -> dict:
    """Recording subclasses of `module`'s classes `names` (parents before children), put in the module in their
    place. A subclass of another one replaced here derives from its replacement, so isinstance between them holds.
    `mixins`: name -> the mixin of the methods that record (inherited by the replaced subclasses)."""
    made: dict = {}
    for name in names:
        orig = getattr(module, name, None)
        if not isinstance(orig, type) or orig in made:
            continue
        parent = next((made[c] for c in orig.__mro__[1:] if c in made), None)
        mixin = mixins.get(name)
        bases = tuple(b for b in (mixin, parent) if b is not None) + (orig,)
        cls = type(orig.__name__, bases, {"__slots__": (), "__doc__": orig.__doc__,
                                          "__module__": orig.__module__})
        cls.__qualname__ = orig.__qualname__
        made[orig] = cls
        setattr(module, name, cls)
    for name in dir(module):  # aliases (JoinableQueue is Queue)
        value = getattr(module, name, None)
        if isinstance(value, type) and value in made:
            setattr(module, name, made[value])
    return made


def _install_event(module) -> None:
    _recording(module, ["Event", "AsyncResult"], {"Event": _EventWaits, "AsyncResult": _AsyncResultWaits})


def _install_lock(module) -> None:
    _recording(module, ["Semaphore", "BoundedSemaphore"], {"Semaphore": _SemaphoreWaits})
    _LIBRARY_FILES.add(module.__file__)  # gevent.lock.RLock releases a semaphore


def _install_queue(module) -> None:
    _recording(module, ["SimpleQueue", "Queue", "PriorityQueue", "LifoQueue", "UnboundQueue"],
               {"SimpleQueue": _QueueWaits, "Queue": _JoinableWaits})


def _install_greenlet(gevent) -> None:
    import gevent.greenlet as greenlet_module
    import gevent.hub as hub

    for cls in _recording(greenlet_module, ["Greenlet"], {"Greenlet": _GreenletWaits}).values():
        gevent.Greenlet, gevent.spawn, gevent.spawn_later = cls, cls.spawn, cls.spawn_later
    for mod, names in ((gevent, ("joinall", "wait")), (greenlet_module, ("joinall",)), (hub, ("wait",))):
        for name in names:
            real = getattr(mod, name, None)
            if real is not None and not hasattr(real, "__wrapped__"):
                setattr(mod, name, _waiting_for_all(real))


def install(rec, ghooks, gevent) -> None:
    """Once gevent is imported: its classes that wait become recording subclasses (now, or when the script imports
    gevent.queue and gevent.lock), and the switch hook tells the Waits when a greenlet ends."""
    global _W
    _W = Waits(rec)
    ghooks.ended = _W.greenlet_ended
    try:
        _install_greenlet(gevent)
    except Exception:
        rec.hook_error("gevent greenlet hook")
    when_imported(rec, "gevent.event", _install_event)
    when_imported(rec, "gevent.lock", _install_lock)
    when_imported(rec, "gevent.queue", _install_queue)
