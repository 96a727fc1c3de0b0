"""Greenlet and gevent hooks: every switch becomes state changes, with the reason read off the switching frames.

`greenlet.settrace` calls us after each switch, in the target. The origin's suspended frames tell why it left:
inside gevent's `sleep` (a timer), a socket method (an fd), `select`; else the user's own call (`evt.wait()`,
`gevent.joinall(…)`), or a plain `switch()` to another greenlet. gevent is hooked lazily, when the script imports
it: a spawn callback names greenlets as they start (they are `ready` until first run, or `blocked` on their timer if
spawned with a delay), and prepare/check watchers
on the hub's loop bracket each poll, from which the parent derives the hub's `idle` spans. What woke a greenlet that
waited on gevent's events, queues, locks or another greenlet's end is gevent_sync's (installed with the gevent hooks;
the switch hook tells it when a greenlet ends).
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from _thread import _local as thread_local  # (taken before gevent's monkey patching can replace it)

from viz import protocol
from viz.recorder.callsite import call_name, call_source, flat, format_seconds, shorten_call
from viz.recorder.sockets import fds_of, remember_connects, socket_peer
from viz.recorder.core import get_ident
from viz.recorder.imports import when_imported

_SOCKET_CALLS = {"recv", "recv_into", "recvfrom", "recvfrom_into", "send", "sendall", "sendto", "accept",
                 "connect", "_internal_connect", "connect_ex", "sendfile", "read", "write"}
_GEVENT_DIR = os.sep + "gevent" + os.sep


class GreenletHooks:
    def __init__(self, rec):
        self.rec = rec
        self.hub_class = None
        self.hubs: set = set()
        self._gevent_code: dict = {}
        self._raw_unnamed: set = set()
        self._prev = None
        self.fast = None
        self._socket_places: dict = {}  # signature of a socket wait -> (depth, method name, file, line)
        self.ended = None  # ended(greenlet, task, t) when a greenlet finishes (gevent_sync: its joiners are ready)

    def install(self) -> None:
        import greenlet

        rec = self.rec
        rec.current_greenlet = greenlet.getcurrent
        rec.greenlet_task[greenlet.getcurrent()] = rec.main_task
        rec.task_of_greenlet = self.task_of_greenlet
        self._prev = greenlet.gettrace()
        fast = _fast_hook_module()
        if fast is None:
            greenlet.settrace(self.on_switch)
        else:
            self.fast = fast.Hook(rec.greenlet_task, self.hubs, self._raw_unnamed,
                                  rec.emit_fast, self.on_switch, self.socket_wait, self._prev, rec.t0,
                                  rec.flush_if_due)
            greenlet.settrace(self.fast)
        tracer = self.fast or self.on_switch

        def trace_this_thread():  # greenlet traces a thread at a time (under monkey patching, a "thread" that is a
            if greenlet.gettrace() is None:  # greenlet of this one is traced already: a tracer set since stays)
                greenlet.settrace(tracer)
        rec.thread_start_hooks.append(trace_this_thread)

    # ---- gevent, once imported ------------------------------------------------------------------------------
    def install_gevent(self, gevent) -> None:
        from gevent.hub import Hub

        self.hub_class = Hub
        try:
            gevent.Greenlet.add_spawn_callback(self.on_spawn)
        except Exception:
            self.rec.hook_error("gevent spawn callback")
        from viz.recorder import gevent_sync  # (loaded with gevent, never before)
        gevent_sync.install(self.rec, self, gevent)  # first: the modules imported below take its classes
        self._attribute_hub_reports(Hub)
        # gevent loads these two when the program first uses them (a socket, the hub's threadpool): hooked then
        when_imported(self.rec, "gevent.threadpool", self._follow_threadpool_work)
        when_imported(self.rec, "gevent._socket3", self._remember_connects)

    def _remember_connects(self, _socket3) -> None:
        for name in ("connect", "connect_ex"):
            setattr(_socket3.socket, name, remember_connects(getattr(_socket3.socket, name), self.rec))

    def _follow_threadpool_work(self, threadpool) -> None:
        """A ThreadPool worker runs while it runs a function the program gave it, and waits for work between."""
        rec = self.rec
        ThreadPool = threadpool.ThreadPool
        spawn = ThreadPool.spawn
        started = thread_local()  # in each worker thread: its start hooks have run

        def spawn_followed(pool, func, *args, **kwargs):
            name = call_name(func, args, kwargs, is_user=rec.sites.is_user)

            def work(*a, **k):
                tid = rec.current_task()
                if not getattr(started, "yes", False):  # a worker thread's first work: hooked as any thread's start
                    started.yes = True  # (a thread-local: a later worker may get a finished one's ident)
                    try:
                        rec.thread_started(tid)  # (the GIL sampler watches it from now on)
                    except Exception:
                        rec.hook_error("ThreadPool worker start")
                rec.state(tid, "running", name)
                try:
                    return func(*a, **k)
                finally:
                    rec.state(tid, "blocked", "waiting for work")
            return spawn(pool, work, *args, **kwargs)
        ThreadPool.spawn = functools.wraps(spawn)(spawn_followed)

    def _attribute_hub_reports(self, Hub) -> None:
        """A greenlet's uncaught exception is printed by the hub: record it as output of the greenlet that raised."""
        rec = self.rec
        print_exception = Hub.print_exception

        def attributed(hub, context, *args, **kwargs):
            tid = rec.greenlet_task.get(context)
            previous, rec.output_task = rec.output_task, tid
            try:
                return print_exception(hub, context, *args, **kwargs)
            finally:
                rec.output_task = previous
        try:
            Hub.print_exception = attributed
        except (AttributeError, TypeError):
            pass

    def on_spawn(self, g) -> None:
        rec = self.rec
        try:
            if g in rec.greenlet_task:
                return
            run = getattr(g, "_run", None)
            thread_task = getattr(getattr(run, "__self__", None), "_viz_task", None)
            if thread_task is not None:  # a monkey-patched thread runs as a greenlet: it keeps the thread's task
                rec.greenlet_task[g] = thread_task
                return
            code = getattr(run, "__code__", None)
            file = line = None
            if code is not None and rec.sites.is_user(code):
                file, line = rec.sites.file_name(code), code.co_firstlineno
            name = self.greenlet_name(g, run)
            tid = rec.greenlet_task[g] = rec.new_task(name, "greenlet", rec.current_task(), file, line)
            args = getattr(g, "args", None)
            peer = socket_peer(args[0]) if args else None
            if peer:
                rec.named_by_peer(tid, peer)
            t = rec.now()
            later = self._started_later(sys._getframe(1))
            if later is None:
                rec.state(tid, "ready", "spawned", t=t)
            else:  # waits for its timer, not for the loop: it is not ready before the delay is up
                reason, seconds = later
                rec.state(tid, "blocked", reason, info=None if seconds is None else {"until": t + seconds}, t=t)
                g.rawlink(lambda _g, tid=tid: rec.end(tid))  # killed before its timer: it ends at its kill
        except Exception:
            rec.hook_error("gevent spawn callback")

    def _started_later(self, frame) -> tuple[str, float | None] | None:
        """(reason, delay in seconds or None) when the greenlet being spawned was given a delay
        (`gevent.spawn_later(2, job)`, `g.start_later(delay)`): read off the caller's call, whose delay argument is
        a number or a plain name (nothing is evaluated). None for a greenlet that starts at once."""
        text = call_source(frame) if frame is not None else None
        if not text or not text.split("(", 1)[0].endswith(("spawn_later", "start_later")):
            return None
        seconds = None
        try:
            call = ast.parse(text, mode="eval").body
            arg = call.args[0] if call.args else next(k.value for k in call.keywords if k.arg == "seconds")
            if isinstance(arg, ast.Constant):
                seconds = arg.value
            elif isinstance(arg, ast.Name):
                seconds = frame.f_locals.get(arg.id, frame.f_globals.get(arg.id))
            seconds = float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None
        except (SyntaxError, StopIteration, AttributeError, ValueError):
            seconds = None
        return shorten_call(text), seconds

    def greenlet_name(self, g, run) -> str:
        name = getattr(g, "name", None)
        if name and not name.startswith("Greenlet-"):
            return name
        if run is None:
            return name or "greenlet"
        args = getattr(g, "args", ()) or ()
        data = [a for a in flat(args) if not callable(a)]  # a server's handler gets (handle, close, (sock, addr))
        peer = socket_peer(data[0]) if data else None
        if peer:
            return self.rec.peer_name(peer)
        return call_name(run, args, getattr(g, "kwargs", None), is_user=self.rec.sites.is_user)

    def _watch_hub(self, hub, tid: int) -> None:
        rec = self.rec
        emit, now = rec.emit, rec.now

        def prepare():
            emit((protocol.LOOP_BEFORE_POLL, now(), tid))

        def check():
            emit((protocol.LOOP_AFTER_POLL, now(), tid))
        try:
            # libev runs watchers of a higher priority first: the prepare watcher goes last, after gevent's own
            # (which runs the loop's callbacks, switching to greenlets), so it marks the poll's start and not the
            # callbacks before it; the check watcher goes first, before the callbacks of what the poll returned
            p, c = hub.loop.prepare(ref=False, priority=-2), hub.loop.check(ref=False, priority=2)
            p.start(prepare)
            c.start(check)
            hub._viz_watchers = (p, c)
        except Exception:
            rec.hook_error("hub watchers")

    # ---- tasks ----------------------------------------------------------------------------------------------
    def task_of_greenlet(self, g) -> int:
        rec = self.rec
        tid = rec.greenlet_task.get(g)
        if tid is not None:
            return tid
        if g.parent is None:  # a thread's main greenlet: the thread's task
            tid = rec.thread_task.get(get_ident(), None)
            if tid is None:
                tid = rec.current_task()
        elif self.hub_class is not None and isinstance(g, self.hub_class):
            tid = rec.new_task("hub", "loop")
            self.hubs.add(g)  # never removed: the C hook relies on it (its one-hub shortcut)
            rec.loop_in_this_thread(True)  # (met in its own thread) this thread's sleeps are the hub's polls
            self._watch_hub(g, tid)
        elif type(g).__name__ == "_WorkerGreenlet":  # the root of a gevent ThreadPool's worker thread
            tid = rec.new_task("ThreadPool worker", "thread")
        else:
            run = getattr(g, "_run", None) or getattr(g, "run", None)
            if run is not None and getattr(g, "args", None) is not None:
                name = self.greenlet_name(g, run)
            elif run is not None and not isinstance(run, type(self.task_of_greenlet)):
                name = call_name(run, is_user=self.rec.sites.is_user)
            else:
                name = None
            tid = rec.new_task(name or "greenlet", "greenlet", None)
            if name is None:
                self._raw_unnamed.add(g)
        rec.greenlet_task[g] = tid
        return tid

    def _name_from_frames(self, g, tid: int) -> None:
        f = g.gr_frame
        while f is not None and f.f_back is not None:
            f = f.f_back
        if f is not None:
            self._raw_unnamed.discard(g)
            self.rec.rename(tid, f.f_code.co_name)

    # ---- the switch hook ------------------------------------------------------------------------------------
    def on_switch(self, event, args, signature=None):
        """The reference hook: every switch the C hook does not handle comes here (all of them without it)."""
        rec = self.rec
        try:
            origin, target = args
            t = rec.now()
            task_of = rec.greenlet_task.get
            ttid = task_of(target)
            if ttid is None:
                ttid = self.task_of_greenlet(target)
            otid = task_of(origin)
            if otid is None:
                otid = self.task_of_greenlet(origin)
            if origin.dead:
                rec.emit((protocol.TASK_EXITED, t, otid))
                rec.greenlet_task.pop(origin, None)
                if self.ended is not None:
                    self.ended(origin, otid, t)
            elif origin in self.hubs:
                rec.emit((protocol.TASK_STATE, t, otid, "ready", "switched to " + rec.names.get(ttid, "?"), None, None, None))
            else:
                if origin in self._raw_unnamed:
                    self._name_from_frames(origin, otid)
                self._suspended(t, origin, otid, target, signature)
            rec.emit((protocol.TASK_STATE, t, ttid, "running", None, None, None, None))
        except Exception:
            rec.hook_error("greenlet switch hook")
        if self._prev is not None:
            try:
                return self._prev(event, args)
            except Exception:
                rec.hook_error("chained greenlet tracer")

    def _suspended(self, t: float, origin, otid: int, target, signature=None) -> None:
        """Why `origin` left the CPU, from its suspended frames."""
        rec = self.rec
        frame = origin.gr_frame
        sites = rec.sites
        user = sites.user_frame(frame)
        file, line = (sites.file_name(user.f_code), user.f_lineno) if user is not None else (None, None)
        state, info = "blocked", None
        if target in self.hubs:
            reason, state, info, constant, sock_at = self._why_waiting(frame, user, signature is not None)
            if signature is not None and _depth(frame, user) < _MAX_DEPTH:
                if constant is not None:
                    self.fast.remember(signature, (reason, state, constant or None, file, line, None))
                elif sock_at is not None:
                    self._cache_socket_wait(signature, sock_at, (reason, state, None, file, line, info))
        else:
            ttid = rec.greenlet_task.get(target) or self.task_of_greenlet(target)
            self._switched_by(t, otid, ttid, user, line)
            if target in self._raw_unnamed:  # named by its first call, then this state is sent
                self._name_on_first_call(target, ttid, (protocol.TASK_STATE, t, otid, state, None, file, line, info))
                return
            reason = "switched to " + rec.names.get(ttid, "?")
        rec.emit((protocol.TASK_STATE, t, otid, state, reason, file, line, info))

    def _switched_by(self, t: float, otid: int, ttid: int, user, line) -> None:
        """A direct switch (no hub): the target runs because the origin switched to it, `switched to by test1
        (gr2.switch() at line 14)`."""
        rec = self.rec
        call = rec.sites.call_text(user) if user is not None else None
        where = f" ({call} at line {line})" if call and line else f" (line {line})" if line else ""
        rec.emit((protocol.TASK_CAUSE, t, ttid, otid, f"switched to by {rec.names.get(otid, '?')}{where}"))

    def _name_on_first_call(self, g, tid: int, pending: tuple) -> None:
        """A raw greenlet's `run` is gone by its first switch: learn its name from the first frame it calls."""
        rec = self.rec
        previous = sys.getprofile()

        def first_call(frame, event, arg):
            if hasattr(previous, "install"):
                previous.install()  # the generator hook's C filter
            else:
                sys.setprofile(previous)
            try:
                if event == "call":
                    self._raw_unnamed.discard(g)
                    rec.rename(tid, frame.f_code.co_name)
                rec.emit(pending[:4] + ("switched to " + rec.names.get(tid, "?"),) + pending[5:])
            except Exception:
                rec.hook_error("greenlet naming")
            if previous is not None:
                return previous(frame, event, arg)
        sys.setprofile(first_call)

    def _cache_socket_wait(self, signature: int, sock_at: tuple, item: tuple) -> bool:
        """Let the C hook explain this wait itself next time, for the same frames and the same socket."""
        depth, sock, name = sock_at
        if not self.fast.remember_socket(signature, sock, item):
            return False
        self.fast.remember(signature, depth)
        self._socket_places[signature] = (depth, name, item[3], item[4])
        return True

    def socket_wait(self, signature: int, sock):
        """For the C hook: the item of another socket's wait at a place already explained (what _suspended would
        say: the place gives the call, file and line, the socket its fd and peer), or None."""
        try:
            depth, name, file, line = self._socket_places[signature]
            reason, state, info, stable = _socket_reason(name, sock, None)
            if not stable:
                return None
            item = (reason, state, None, file, line, info)
            return item if self._cache_socket_wait(signature, (depth, sock, name), item) else None
        except Exception:
            return None  # the Python hook explains the switch (and reports its own errors)

    def _why_waiting(self, frame, user, want_constant: bool = False):
        """(reason, state, info, constant, sock_at) for a greenlet that switched to the hub.

        `constant` is not None when the reason depends on nothing but the frames (the C hook may cache it);
        `sock_at` is (depth of the gevent socket method's frame, socket) when it depends on them and that socket."""
        outer = None
        f = frame
        is_gevent = self._is_gevent
        depth = outer_depth = 0
        while f is not None and f is not user:
            if is_gevent(f.f_code):
                outer, outer_depth = f, depth
            f = f.f_back
            depth += 1
        text = self.rec.sites.call_text(user) if user is not None else None
        if outer is not None:
            name = outer.f_code.co_name
            loc = outer.f_locals
            if name == "sleep" and "seconds" in loc:
                secs = loc["seconds"]
                patched = text is not None and not text.startswith(("gevent.", "sleep(", "gevent_sleep"))
                words = (f"{text} (patched)" if patched else f"gevent.sleep({format_seconds(secs)})")
                constant = _literal_seconds(text, secs) if want_constant else None
                if not secs:
                    return words + " — yields", "ready", None, constant, None
                try:
                    until = self.rec.now() + float(secs)
                except (TypeError, ValueError):
                    until = None
                return words, "blocked", {"until": until}, constant, None
            if name in _SOCKET_CALLS and "self" in loc:
                sock = loc["self"]
                reason, state, info, stable = _socket_reason(name, sock, loc)
                return reason, state, info, None, ((outer_depth, sock, name) if stable and want_constant else None)
            if name == "select" and "rlist" in loc:
                fds = fds_of(loc.get("rlist"), loc.get("wlist"), loc.get("xlist"))
                return f"select() on fds {fds}", "blocked", {"fds": fds}, None, None
        if text:
            return text, "blocked", None, 0, None
        return "waiting for the loop", "blocked", None, 0, None

    def _is_gevent(self, code) -> bool:
        r = self._gevent_code.get(code)
        if r is None:
            r = self._gevent_code[code] = _GEVENT_DIR in code.co_filename
        return r


_MAX_DEPTH = 12  # frames the C hook's signature covers (MAX_DEPTH in _fasthook.c)


def _fast_hook_module():
    if os.environ.get("VIZ_PURE_PYTHON"):
        return None
    try:
        from viz.recorder import _fasthook
    except ImportError:
        return None
    return _fasthook


def _depth(frame, user) -> int:
    n = 0
    while frame is not None and frame is not user:
        frame = frame.f_back
        n += 1
    return n if frame is user else _MAX_DEPTH


def _literal_seconds(text: str | None, secs):
    """`secs` if the call's argument is written as that literal (so the reason is the same every time), else None."""
    if not text or "(" not in text:
        return None
    arg = text[text.index("(") + 1: text.rindex(")")] if text.endswith(")") else ""
    try:
        value = ast.literal_eval(arg.split(",")[0].strip()) if arg.strip() else None
    except (ValueError, SyntaxError):
        return None
    try:
        return float(secs) if value is not None and float(value) == float(secs) else None
    except (TypeError, ValueError):
        return None


def _socket_reason(name: str, sock, loc) -> tuple:
    """(reason, state, info, stable): stable when the reason depends on nothing but the socket and its fd."""
    try:
        fd = sock.fileno()
    except Exception:
        fd = -1
    if name in ("connect", "_internal_connect", "connect_ex"):
        addr = loc.get("address")
        where = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) and len(addr) >= 2 else str(addr)
        return f"connect() to {where}", "blocked", {"fd": fd, "io": "write"}, False
    if name == "accept":
        return f"accept() on fd {fd}", "blocked", {"fd": fd, "io": "read"}, type(fd) is int and fd >= 0
    peer = socket_peer(sock)  # cached per socket and fd once known
    io = "write" if name.startswith("send") or name == "write" else "read"
    return (f"{name}() on fd {fd}" + (f" ({peer})" if peer else ""), "blocked", {"fd": fd, "io": io},
            peer is not None and type(fd) is int and fd >= 0)


def install(rec) -> GreenletHooks:
    hooks = GreenletHooks(rec)
    hooks.install()
    sys.modules.setdefault("viz_greenlet_hooks", hooks)  # keep a reference for the life of the run
    return hooks
