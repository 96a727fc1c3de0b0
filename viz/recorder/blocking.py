"""Hooks on the standard library's blocking calls: time.sleep, sockets, select, selectors, poll objects; the one wrapper.

Each wrapper marks the calling task `blocked` with a reason a person can read (`time.sleep(2)`, `recv() on fd 7
(127.0.0.1:51234)`, `select() on fds [3, 5]`, `join (task 1)`) and `running` again when the call returns. A socket
read shows both phases of a read as far as they can be seen from here: the wait for data (blocked, on a blocking
socket) and the copy into the program (`recv() on fd 7 → 1024 bytes`); a non-blocking call that finds nothing to do
is one short attempt of its own (`recv() on fd 7 → no data yet (BlockingIOError)`). Under a
gevent hub the same calls hold the whole loop, and the span says so (`blocks_loop`). For select/selectors servers
each accepted non-blocking connection becomes a task of its own: blocked while the loop waits for it, ready when
select() returns its fd, running while the loop serves it. `gevent.monkey.patch_all()` replaces these functions
with gevent's, which the greenlet hooks then see instead. `BlockingHooks.blocking()` is the wrapper every other hook
module uses too: locks.py (threading's locks and primitives, queues), processes.py (child processes, pipes,
multiprocessing), futures.py (concurrent.futures).
"""

from __future__ import annotations

import functools
import select
import selectors  # before select.poll / epoll are wrapped: its selectors keep the real ones
import sys
import time

from viz.protocol import TASK_STATE
from viz.recorder import futures, locks, processes, stdin
from viz.recorder.callsite import caller, format_seconds
from viz.recorder.core import get_ident
from viz.recorder.imports import when_imported
from viz.recorder.socket_pairs import SocketPairs
from viz.recorder.sockets import fds_of, remember_connects, socket_peer


class BlockingHooks:
    def __init__(self, rec):
        self.rec = rec
        self._busy: set[int] = set()
        self.conn_task: dict[int, int] = {}  # fd -> task of an accepted connection served by a select loop
        self._serving: dict[int, int] = {}   # loop thread -> fd of the connection it is serving
        self._waiting: set[int] = set()      # connection fds currently shown blocked in select()
        self.loop_checks: list = [self.gevent_loop_held]  # each says whether the calling task holds an event loop
        self._last_attempt = None  # ((task, words, code, line), event) of the last non-blocking attempt sent
        self.loop_io = None  # asyncio_loop.py's: puts a non-blocking call in its loop's thread in the right lane
        self.pairs = SocketPairs(rec)  # connections with both ends in the program: who wrote to a socket

    # ---- the generic wrapper --------------------------------------------------------------------------------
    def blocking(self, fn, describe, woken=None):
        """Wrap `fn` so the calling task is blocked, for the reason `describe(args, kwargs)` gives, while it runs.

        `woken(args, kwargs, result)`, when given, says what ended the wait, `(by, what)` (by: a task id or None), or
        None when it cannot tell: the running span after a wait that returned gets that cause."""
        rec, busy = self.rec, self._busy

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            ident = get_ident()
            if ident in busy or rec._closed:
                return fn(*args, **kwargs)
            try:
                reason = describe(args, kwargs)
            except Exception:
                rec.hook_error(f"{fn.__name__} hook")
                reason = None
            if reason is None:
                return fn(*args, **kwargs)
            tid = rec.current_task()
            frame = caller(1)
            loop = self.loop_blocked()
            rec.state(tid, "blocked", reason, frame,
                      {"blocks_loop": True} if loop else None)
            busy.add(ident)
            result = returned = None
            try:
                result = fn(*args, **kwargs)
                returned = True
                return result
            finally:
                busy.discard(ident)
                t = rec.now()
                rec.state(tid, "running", None, frame, t=t)
                if woken is not None and returned:  # (a wait that raised, a queue's timeout, has no cause)
                    try:
                        cause = woken(args, kwargs, result)
                        if cause is not None:
                            rec.cause(tid, cause[0], cause[1], t)
                    except Exception:
                        rec.hook_error(f"{fn.__name__} wake-up hook")
        wrapper.__viz_wrapped__ = fn
        return wrapper

    def loop_blocked(self) -> bool:
        """True when the calling task holds an event loop: it waits, and every task of that loop waits with it."""
        return any(held() for held in self.loop_checks)

    def gevent_loop_held(self) -> bool:
        """True when a gevent hub exists in this thread and the current greenlet is not it: the loop is held."""
        hub_local = sys.modules.get("gevent._hub_local")
        if hub_local is None:
            return False
        try:
            hub = hub_local.get_hub_if_exists()
        except Exception:
            return False
        if hub is None:
            return False
        getcurrent = self.rec.current_greenlet
        return getcurrent is not None and getcurrent() is not hub

    # ---- install --------------------------------------------------------------------------------------------
    def install(self) -> None:
        time.sleep = self.blocking(time.sleep, lambda a, k: f"time.sleep({format_seconds(a[0] if a else k.get('secs'))})")
        # socket is hooked as the program imports it (before any of its code can use it), so a program that does
        # not, a one-line script, does not wait for its import at start
        when_imported(self.rec, "socket", self._install_socket)
        self._install_select()
        locks.install(self)
        processes.install(self)
        futures.install(self)
        stdin.install(self)

    def _install_socket(self, socket) -> None:
        cls = socket.socket
        for name in ("recv", "recv_into", "recvfrom", "recvfrom_into", "send", "sendall", "sendto", "connect"):
            if hasattr(cls, name):
                setattr(cls, name, self.socket_call(getattr(cls, name), name))
        accept = self.socket_call(cls.accept, "accept")
        close = cls.close
        pairs = self.pairs
        cls.connect = remember_connects(cls.connect, self.rec, pairs.connected)
        cls.connect_ex = remember_connects(cls.connect_ex, self.rec, pairs.connected)

        def accept_wrapper(sock, *a, **k):
            conn, addr = accept(sock, *a, **k)
            try:
                pairs.accepted(conn, addr)
            except Exception:
                self.rec.hook_error("accept hook")
            if sock.gettimeout() == 0.0:
                self.new_connection(conn, addr)
            return conn, addr

        def close_wrapper(sock):
            try:
                fd = sock.fileno()
                if fd >= 0:
                    pairs.closed(fd)
                if fd in self.conn_task:
                    self.end_connection(fd)
            except Exception:
                self.rec.hook_error("socket.close hook")
            return close(sock)
        cls.accept = functools.wraps(cls.accept)(accept_wrapper)
        cls.close = functools.wraps(close)(close_wrapper)

    def socket_call(self, fn, name: str):
        """Wrap the socket method `fn` (`recv`, `send`, `accept`, ...) so a read's two phases show in the lane.

        A blocking socket: the task is blocked in the call (the wait for data, `recv() on fd 7 (127.0.0.1:5000)`);
        when a read returns, the task runs again with what was copied (`recv() on fd 7 → 1024 bytes`). A
        non-blocking socket (`setblocking(False)`): the call does not wait, so nothing is blocked; a read that finds
        data is the copy alone (`recv() on fd 7 → 12 bytes`), and a call that finds nothing to do (BlockingIOError)
        is one short running span of its own, an attempt (`recv() on fd 7 → no data yet (BlockingIOError)`), so a
        loop that keeps asking shows every time it asked. A connection of a select loop (accepted from a
        non-blocking listening socket) gets the same words in its own lane (`nonblocking_op`). A non-blocking call
        made in a thread that runs an asyncio loop goes to `loop_io` (asyncio_loop.py): a task's own try in its lane,
        the copy the loop makes for it (a transport's or sock_recv's recv()) in the loop's; one made under a gevent
        hub records nothing."""
        rec, busy, conn_task, pairs = self.rec, self._busy, self.conn_task, self.pairs
        count = _BYTES.get(name)
        nothing = f"{_NOTHING.get(name, 'not done yet')} (BlockingIOError)"
        describe = _blocking_words(name)
        wrote = pairs.wrote if name.startswith("send") else None
        what = f"{name}()"

        @functools.wraps(fn)
        def wrapper(sock, *args, **kwargs):
            ident = get_ident()
            if ident in busy or rec._closed:
                return fn(sock, *args, **kwargs)
            fd = sock.fileno()
            if wrote is not None:  # before the bytes go: the reader's thread may run the moment they arrive
                try:
                    wrote(fd, what)
                except Exception:
                    rec.hook_error(f"{name} hook")
            if fd not in conn_task and sock.gettimeout() != 0.0:
                return self._blocking_socket_call(fn, name, sock, fd, args, kwargs, describe, count)
            try:
                result = fn(sock, *args, **kwargs)
            except BlockingIOError:
                self._attempt(sock, fd, name, None, nothing, sys._getframe(1))
                raise
            if count is not None:
                n = count(result)
                self._attempt(sock, fd, name, n, nothing, sys._getframe(1))
                pairs.writer(fd, n)  # the read takes the writes it got (a select() after it looks at the next)
            elif fd in conn_task:
                self.nonblocking_op(sock, name, None, sys._getframe(1))
            return result
        wrapper.__viz_wrapped__ = fn
        return wrapper

    def _blocking_socket_call(self, fn, name, sock, fd, args, kwargs, describe, count):
        """A call on a blocking socket: blocked while it waits; a read then runs with its byte count."""
        rec = self.rec
        try:
            reason = describe(sock, fd, args, kwargs)
        except Exception:
            rec.hook_error(f"{name} hook")
            return fn(sock, *args, **kwargs)
        tid = rec.current_task()
        frame = sys._getframe(2)
        rec.state(tid, "blocked", reason, frame, {"blocks_loop": True} if self.loop_blocked() else None)
        ident = get_ident()
        self._busy.add(ident)
        copied = None
        try:
            result = fn(sock, *args, **kwargs)
            if count is not None:
                n = count(result)
                copied = _copied(name, fd, n)
            return result
        finally:
            self._busy.discard(ident)
            t = rec.now()
            rec.state(tid, "running", copied, frame, t=t)
            if copied is not None:
                writer = self.pairs.writer(fd, n)  # another task of the program sent what it got
                if writer is not None:
                    rec.cause(tid, writer[0], writer[1], t)

    def _attempt(self, sock, fd, name, n, nothing, frame) -> None:
        """A non-blocking call that returned at once: a running span from its return that says what it copied
        (`n` bytes) or that it found `nothing` to do, in the calling task's lane (or in its connection's lane, for a
        select loop serving it). The same attempt again from the same line, with nothing recorded in between (a loop
        that keeps asking without a pause), would be the same span: it is not sent again."""
        rec = self.rec
        try:
            served = fd in self.conn_task
            words = f"{name}() on fd {fd} → {nothing}" if n is None else _copied(name, fd, n)
            if not served:
                loop_io = self.loop_io
                if loop_io is not None and loop_io(sock, fd, name, n, words, frame):
                    return  # a thread running an asyncio loop: its hooks put the call in the task's or the loop's lane
                for held in self.loop_checks:  # (loop_blocked() without its generator: this runs on every attempt)
                    if held():
                        return  # a gevent hub's thread: its waits show in its greenlets' lanes already
            if served:
                self.nonblocking_op(sock, name, words, frame)
                return
            tid = rec.current_task()
            key = (tid, words, frame.f_code, frame.f_lineno)
            last = self._last_attempt
            if last is not None and last[0] == key:
                q = rec._q
                if q and q[-1] is last[1]:
                    return
            file, line = rec.sites.where(frame)
            ev = (TASK_STATE, rec.now(), tid, "running", words, file, line, None)
            rec.emit(ev)
            self._last_attempt = (key, ev)
        except Exception:
            rec.hook_error(f"{name} hook")

    def _install_select(self) -> None:
        real_select = select.select

        @functools.wraps(real_select)
        def select_wrapper(rlist, wlist, xlist, *timeout):
            rec = self.rec
            if rec._closed or get_ident() in self._busy:
                return real_select(rlist, wlist, xlist, *timeout)
            fds = fds_of(rlist, wlist, xlist)
            if timeout and self._only_looks(timeout[0], fds):
                return real_select(rlist, wlist, xlist, *timeout)
            write = fds_of(wlist)
            words = f"select() on fds {fds}" + (f" (write: {write})" if write else "")
            ready = self._around_wait(fds, lambda: real_select(rlist, wlist, xlist, *timeout),
                                      lambda res: (fds_of(res[0]), fds_of(res[1])), words)
            return ready
        select.select = select_wrapper

        for cls_name in ("SelectSelector", "PollSelector", "EpollSelector", "DevpollSelector", "KqueueSelector"):
            cls = getattr(selectors, cls_name, None)
            if cls is not None:
                cls.select = self._selector_select(cls.select)
        for name in ("poll", "epoll"):
            real = getattr(select, name, None)
            if real is not None:
                setattr(select, name, polled(self, real, name))

    def _selector_select(self, real):
        @functools.wraps(real)
        def wrapper(sel, timeout=None):
            if self.rec._closed or get_ident() in self._busy:
                return real(sel, timeout)
            keys = sorted(sel.get_map().values(), key=lambda key: key.fd)
            fds = [key.fd for key in keys]
            if self._only_looks(timeout, fds):
                return real(sel, timeout)
            write = [key.fd for key in keys if key.events & selectors.EVENT_WRITE]

            def returned(events):
                r = sorted(k.fd for k, m in events if m & selectors.EVENT_READ)
                w = sorted(k.fd for k, m in events if m & selectors.EVENT_WRITE)
                return r, w
            return self._around_wait(fds, lambda: real(sel, timeout), returned,
                                     f"select() on fds {fds}" + (f" (write: {write})" if write else ""))
        return wrapper

    def _only_looks(self, timeout, fds) -> bool:
        """A select with a timeout of 0 only looks (multiprocessing polls its pipes so): not a wait, nothing to
        record, unless it watches connections of a select loop, whose lanes it makes ready."""
        return timeout is not None and timeout <= 0 and not any(fd in self.conn_task for fd in fds)

    def _around_wait(self, fds, call, returned, words=None, name="select()", info=None):
        """A select-style wait: the loop is blocked on `fds` (the span says `words`, by default `select() on fds
        [...]`); its connections wait; those returned become ready."""
        rec = self.rec
        ident = get_ident()
        tid = rec.current_task()
        frame = caller(2)
        self._serving.pop(ident, None)
        for fd in fds:
            ctid = self.conn_task.get(fd)
            if ctid is not None and fd not in self._waiting:
                self._waiting.add(fd)
                rec.state(ctid, "blocked", f"waiting in {name} for fd {fd}")
        rec.state(tid, "blocked", words or f"{name} on fds {fds}", frame, {"fds": fds, **(info or {})})
        self._busy.add(ident)
        try:
            result = call()
        finally:
            self._busy.discard(ident)
        try:
            readable, writable = returned(result)
        except Exception:
            readable = writable = []
        parts = []
        if readable:
            parts.append(f"readable {readable}")
        if writable:
            parts.append(f"writable {writable}")
        t = rec.now()
        rec.state(tid, "running", f"{name} returned " + (", ".join(parts) if parts else "nothing (timeout)"), frame,
                  t=t)
        for fd in readable:  # the first fd another task of the program made readable: its write woke the loop
            writer = self.pairs.writer(fd)
            if writer is not None:
                rec.cause(tid, writer[0], f"fd {fd} readable: {writer[1]}", t)
                break
        for fd in readable + writable:
            ctid = self.conn_task.get(fd)
            if ctid is not None and fd in self._waiting:
                self._waiting.discard(fd)
                rec.state(ctid, "ready", f"fd {fd} {'readable' if fd in readable else 'writable'}", t=t)
                rec.cause(ctid, tid, f"{name} returned fd {fd}", t)  # the loop's select made it ready
        return result

    # ---- connections of select/selectors loops ---------------------------------------------------------------
    def new_connection(self, conn, addr) -> None:
        rec = self.rec
        try:
            fd = conn.fileno()
            peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
            tid = rec.new_task(rec.peer_name(peer), "connection", rec.current_task())
            rec.named_by_peer(tid, peer)
            self.conn_task[fd] = tid
            self._waiting.add(fd)
            rec.state(tid, "blocked", f"waiting in select() for fd {fd}")
        except Exception:
            rec.hook_error("accept hook")

    def nonblocking_op(self, sock, name: str, words: str | None = None, frame=None) -> None:
        """The loop touches a connection's socket: that connection is now being served (running), for the reason
        `words` (by default `recv() on fd 7`; a read says what it copied)."""
        try:
            fd = sock.fileno()
        except Exception:
            return
        ctid = self.conn_task.get(fd)
        if ctid is None:
            return
        ident = get_ident()
        serving = self._serving.get(ident)
        rec = self.rec
        if serving == fd:
            if words is not None:
                rec.state(ctid, "running", words, frame or caller(3))
            return
        if serving is not None and serving in self.conn_task:
            self._waiting.add(serving)
            rec.state(self.conn_task[serving], "blocked", f"waiting in select() for fd {serving}")
        self._serving[ident] = fd
        self._waiting.discard(fd)
        rec.state(ctid, "running", words or f"{name}() on fd {fd}", frame or caller(3))

    def end_connection(self, fd: int) -> None:
        tid = self.conn_task.pop(fd)
        self._waiting.discard(fd)
        for ident, serving in list(self._serving.items()):
            if serving == fd:
                del self._serving[ident]
        self.rec.end(tid)


# ---- the words of socket calls -----------------------------------------------------------------------------
# bytes a read copied, from what it returned
_BYTES = {"recv": len, "recv_into": int, "recvfrom": lambda r: len(r[0]), "recvfrom_into": lambda r: r[0]}
# what a non-blocking call found when it raised BlockingIOError
_NOTHING = {"recv": "no data yet", "recv_into": "no data yet", "recvfrom": "no data yet",
            "recvfrom_into": "no data yet", "accept": "no connection yet", "send": "no room to send yet",
            "sendall": "no room to send yet", "sendto": "no room to send yet", "connect": "connecting, not done yet"}


def _copied(name: str, fd: int, n: int) -> str:
    """A read's second phase: what it copied from the kernel into the program (`recv() on fd 7 → 1024 bytes`)."""
    return f"{name}() on fd {fd} → {n} bytes" + (" (the peer closed)" if n == 0 else "")


def _blocking_words(name: str):
    """The reason a task is blocked in socket call `name` on a blocking socket."""
    if name == "accept":
        return lambda sock, fd, args, kwargs: f"accept() on fd {fd}"
    if name == "connect":
        def connect(sock, fd, args, kwargs):
            addr = args[0] if args else kwargs.get("address")
            return f"connect() to {addr[0]}:{addr[1]}" if isinstance(addr, tuple) else f"connect() to {addr}"
        return connect

    def call(sock, fd, args, kwargs):
        peer = socket_peer(sock)
        return f"{name}() on fd {fd}" + (f" ({peer})" if peer else "")
    return call


def polled(hooks: BlockingHooks, real, name: str):
    """`select.poll` / `select.epoll` made into objects that remember their fds, so a wait names them:
    `poll() on fds [3 (read), 5 (write)]`. A poll with a timeout of 0 is not a wait and records nothing."""
    read, write = (select.POLLIN | select.POLLPRI, select.POLLOUT) if name == "poll" else \
        (select.EPOLLIN | select.EPOLLPRI, select.EPOLLOUT)
    default = read | write

    class Polled:
        __slots__ = ("_real", "_masks", "__weakref__")

        def __init__(self, *args, **kwargs):
            self._real = real(*args, **kwargs)
            self._masks: dict[int, int] = {}

        def register(self, fd, *mask):
            self._real.register(fd, *mask)
            self._masks[fd if isinstance(fd, int) else fd.fileno()] = mask[0] if mask else default

        def modify(self, fd, mask):
            self._real.modify(fd, mask)
            self._masks[fd if isinstance(fd, int) else fd.fileno()] = mask

        def unregister(self, fd):
            self._real.unregister(fd)
            self._masks.pop(fd if isinstance(fd, int) else fd.fileno(), None)

        def poll(self, *args, **kwargs):
            timeout = args[0] if args else kwargs.get("timeout")
            if hooks.rec._closed or timeout == 0 or get_ident() in hooks._busy:
                return self._real.poll(*args, **kwargs)
            fds = sorted(self._masks)
            words = ", ".join(f"{fd} ({'/'.join(w for w, bit in (('read', read), ('write', write)) if m & bit)})"
                              for fd, m in sorted(self._masks.items()))

            def returned(events):
                return sorted(fd for fd, m in events if m & read), sorted(fd for fd, m in events if m & write)
            # (event loops poll through selectors, whose poll objects are made before this wrapper: a poll object
            # of the program's own that waits under a gevent hub holds that loop)
            return hooks._around_wait(fds, lambda: self._real.poll(*args, **kwargs), returned,
                                      f"{name}() on fds [{words}]", f"{name}()",
                                      {"blocks_loop": True} if hooks.loop_blocked() else None)

        def __getattr__(self, attr):
            return getattr(self._real, attr)

        def __enter__(self):
            self._real.__enter__()
            return self

        def __exit__(self, *exc):
            return self._real.__exit__(*exc)
    Polled.__name__ = Polled.__qualname__ = name
    return Polled


def install(rec) -> BlockingHooks:
    hooks = BlockingHooks(rec)
    hooks.install()
    return hooks
