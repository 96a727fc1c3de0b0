"""asyncio as a runtime of its own: its event loop is a lane, and so is each asyncio task.

Installed when the script imports asyncio (never imports it otherwise). An event loop policy hands out a subclass of
`asyncio.SelectorEventLoop` (public API only: `call_soon` / `call_at` / `run_forever` / `close` overrides and a
selector subclass), so that:
- the loop's lane (`asyncio loop`, kind `loop`, like gevent's hub) is idle while its selector polls, with what it
  waits for (`polling: fds [7 read], timer in 0.25 s`, never its own self-pipe), running while it runs callbacks
  that are not task steps, and ready (`switched to <task>`) while a task's step runs;
- each task is a lane, named by `get_name()` when the program named it, else by its coroutine and short arguments
  (`fetch('a', 1)`), or by its peer for a connection handler of `asyncio.start_server`: running while its step runs,
  blocked between steps at its innermost `await` (`await asyncio.sleep(0.05)`, `await q.get()`), ready from the
  moment its step is scheduled (`call_soon` of its step or wake-up) until it runs, with the cause (`spawned`,
  `timer fired` from the timer's deadline, `fd 7 readable`, `woken by producer()`, `cancel() by main()`);
- a blocking call inside the loop's thread (`time.sleep` in a coroutine) is marked as holding the whole loop
  (`blocks_loop`, through BlockingHooks.loop_checks);
- a non-blocking socket call in the loop's thread shows asyncio's I/O as far as it can be seen (asyncio_sockets.py):
  a task's own try in its lane, its wait on that fd, the copy the loop makes for it in the loop's lane;
- a library coroutine the program runs as a task is named in the program's words (`loop.sock_recv(conn, 1024)` in
  `create_task(loop.sock_recv(conn, 1024), name="read")`), at the line that made it.
A task's step is found by the callback asyncio schedules for it: a bound method whose `__self__` is the Task (the C
step wrapper and `task_wakeup` on Python 3.11-3.13 alike); `call_soon` runs it inside a wrapper of ours. Each step
goes out as the two switch events of gevent's hub (HUB_TO_TASK as it starts, TASK_TO_HUB with why the task waits as
it ends), packed into runs (SWITCH_RUN) that the viewer derives in C; any other event flushes the run first, so
events keep their order. Coroutines run this way need no profile function (generators.install leaves them out).
The common step of a busy loop (a task that yields again where it yielded before) and the bookkeeping of `call_soon`
run in C when `_aiohook.c` is built (`Steps`: the loop's `call_soon` and step wrapper); everything else goes to the
methods here, which are the reference (VIZ_PURE_PYTHON=1 uses them alone; tests/test_aiohook.py checks both agree).
"""

from __future__ import annotations

import os
import re
import sys
import time

from viz import protocol
from viz.recorder.asyncio_sockets import LoopSockets
from viz.recorder.callsite import call_source, short_repr, shorten_call
from viz.recorder.core import get_ident

_DEFAULT_NAME = re.compile(r"Task-\d+\Z")
_LATE = 0.005  # a wake-up later than this after its timer's deadline is ready from the deadline (derive.LATE)
_S = protocol.TASK_STATE
_TASK_MAKERS = frozenset(("create_task", "ensure_future", "_ensure_future", "gather", "shield", "wait_for", "wait",
                          "_wait", "as_completed", "call_soon", "_viz_scheduled", "new", "__init__"))
_R = protocol.SWITCH_RUN
_RUN_BYTES = 32 * 1024  # switches packed (protocol.SWITCH) before they go to the recorder's buffer at the latest


def _fast_steps():
    """The C hot path of task steps (viz/recorder/_aiohook.c), or None: not built, or VIZ_PURE_PYTHON=1."""
    if os.environ.get("VIZ_PURE_PYTHON"):
        return None
    try:
        from viz.recorder._aiohook import Steps
    except ImportError:
        return None
    return Steps


class AsyncioHooks:
    """What the loop class reports to: the tasks' lanes, why each waits, which loop each thread runs."""

    def __init__(self, rec, blocking_hooks):
        self.rec = rec
        self.blocking = blocking_hooks
        self.tid_of: dict = {}            # asyncio Task -> its lane's task id (until it is done)
        self.fresh: set[int] = set()      # tasks whose first step has not run (a later set_name renames them)
        self.waits: dict[int, tuple] = {}  # task id -> (since, until, fd, io) of the wait it is blocked in
        self.peers: dict[int, tuple] = {}  # task id of a stream handler -> (fd, peer)
        self.running: dict[int, object] = {}  # thread ident -> the VizLoop it is running
        self.base_task = rec.current_task
        self._codes: dict = {}            # id(code) -> (code, is it the program's own, {instruction: place})
        self.frame = None                 # the frame where() found last (wait() looks for a stream in it)
        self.sockets = None               # LoopSockets: the loops' socket calls (once asyncio is imported)
        self.made_as: dict[int, tuple] = {}  # task id of a library coroutine run as a task -> (the program's words
        # for it, file, line of the call that made it)
        self._made_texts: dict = {}       # (code, instruction, coroutine name) -> those words, or None

    # ---- install --------------------------------------------------------------------------------------------
    def install(self, asyncio) -> None:
        sys.modules.setdefault("viz_asyncio_hooks", self)  # keep a reference for the life of the run
        self.base_task = self.rec.current_task  # as the other hooks left it by the time asyncio is imported
        self.Task = asyncio.Task
        self.StreamWriter = asyncio.StreamWriter
        loop_class = _loop_class(asyncio, self)
        base_policy = asyncio.DefaultEventLoopPolicy

        class Policy(base_policy):
            def new_event_loop(self):
                return loop_class()
        asyncio.set_event_loop_policy(Policy())
        self.blocking.loop_checks.append(self.asyncio_loop_held)
        base = self.rec.current_task
        running = self.running

        def current_task() -> int:  # inside an asyncio loop: its task's step, else the loop itself
            loop = running.get(get_ident())
            if loop is None:
                return base()
            loop._viz_flush()  # whatever the caller emits next comes after the switches so far
            return loop._viz_current or loop._viz_tid
        self.rec.current_task = current_task
        new_connection = self.blocking.new_connection

        def new_connection_outside_loops(conn, addr):  # asyncio's server accepts: its handler task is the lane
            if get_ident() not in running:
                new_connection(conn, addr)
        self.blocking.new_connection = new_connection_outside_loops
        self.sockets = LoopSockets(self.rec, running, asyncio.current_task)
        self.blocking.loop_io = self.sockets.call

    def asyncio_loop_held(self) -> bool:
        """True when this thread runs an asyncio loop: a blocking call here (in a step or a callback) holds it."""
        return get_ident() in self.running

    # ---- the loop -------------------------------------------------------------------------------------------
    def loop_started(self, loop, frame) -> None:
        rec = self.rec
        base = self.base_task()
        if loop._viz_tid is None:
            loop._viz_tid = rec.new_task("asyncio loop", "loop", base)
        user = rec.sites.user_frame(frame)
        text = rec.sites.call_text(user) if user is not None else None
        t = rec.now()
        rec.state(base, "blocked", text or "running an asyncio loop", user, t=t)
        rec.state(loop._viz_tid, "running", None, t=t)
        loop._viz_base = base
        self.running[get_ident()] = loop
        rec.loop_in_this_thread(True)

    def loop_stopped(self, loop) -> None:
        loop._viz_flush()
        rec = self.rec
        self.running.pop(get_ident(), None)
        rec.loop_in_this_thread(False)
        t = rec.now()
        rec.state(loop._viz_tid, "idle", "not running", t=t)
        rec.state(loop._viz_base, "running", None, t=t)

    def loop_closed(self, loop) -> None:
        loop._viz_flush()
        rec = self.rec
        for task, tid in list(self.tid_of.items()):
            if task.get_loop() is loop:
                self._forget(task, tid)
                if tid:
                    rec.end(tid)
        if loop._viz_tid is not None:
            rec.end(loop._viz_tid)

    def polling(self, loop, selector, timeout) -> str:
        """The loop's idle reason: the fds it polls (not its own self-pipe) and when its next timer is due."""
        own = selector._viz_own
        fds = []
        for key in selector.get_map().values():
            if key.fd not in own:
                io = " ".join(w for bit, w in ((1, "read"), (2, "write")) if key.events & bit)
                fds.append((key.fd, f"{key.fd} {io}"))
        parts = []
        if fds:
            parts.append(f"fds [{', '.join(w for _, w in sorted(fds))}]")
        if timeout is not None:
            parts.append(f"timer in {timeout:.2g} s")
        return "polling: " + (", ".join(parts) if parts else "nothing to wait for")

    # ---- tasks ----------------------------------------------------------------------------------------------
    def new(self, loop, task) -> int:
        """A task's first step is scheduled: its lane appears, ready."""
        loop._viz_flush()
        rec = self.rec
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        user = code is not None and rec.sites.is_user(code)
        maker = None
        if not user:
            maker = self._program_maker(sys._getframe(2))
            if maker is None:
                # asyncio's own work (accepting a connection, resolving a server's address, shutting down async
                # generators): part of the loop's lane or of the task that called asyncio, not a lane of its own
                self.tid_of[task] = 0
                return 0
        file = line = made = None
        if user:
            file, line = rec.sites.file_name(code), code.co_firstlineno
        elif code is not None:
            made = self._made_text(maker, code.co_name)
            if made is not None:  # its lane starts where the program made it
                file, line = rec.sites.file_name(maker.f_code), maker.f_lineno
        parent = loop._viz_current or (loop._viz_tid if get_ident() in self.running else self.base_task())
        peer = None
        name = task.get_name()
        if _DEFAULT_NAME.match(name):
            name, peer = self._coro_name(coro)
        tid = rec.new_task(name, "asyncio", parent, file, line)
        if peer is not None:
            rec.named_by_peer(tid, peer[1])
            self.peers[tid] = peer
        self.tid_of[task] = tid
        self.fresh.add(tid)
        if made is not None:
            self.made_as[tid] = (made, file, line)
        rec.state(tid, "ready", "spawned")
        return tid

    def _program_maker(self, frame):
        """The program's frame whose call made this task (create_task, ensure_future, gather, ...), or None."""
        while frame is not None and frame.f_code.co_name in _TASK_MAKERS and not self.rec.sites.is_user(frame.f_code):
            frame = frame.f_back
        return frame if frame is not None and self.rec.sites.is_user(frame.f_code) else None

    def _made_text(self, frame, name: str) -> str | None:
        """The program's words for a library coroutine it runs as a task: in `asyncio.create_task(loop.sock_recv(
        conn, 1024), name="read")`, the one call of `name` (`loop.sock_recv(conn, 1024)`); None if there is not
        exactly one such call. Cached per instruction."""
        key = (frame.f_code, frame.f_lasti, name)
        texts = self._made_texts
        if key in texts:
            return texts[key]
        found = None
        source = call_source(frame)
        if source:
            import ast
            try:
                tree = ast.parse(source, mode="eval")
            except SyntaxError:
                tree = None
            calls = {ast.get_source_segment(source, node) for node in ast.walk(tree) if isinstance(node, ast.Call)
                     and getattr(node.func, "attr", getattr(node.func, "id", None)) == name} if tree else ()
            if len(calls) == 1:
                found = shorten_call(" ".join(calls.pop().split()))
        texts[key] = found
        return found

    def _coro_name(self, coro) -> tuple[str, tuple | None]:
        """`fetch('a', 1)`; a stream handler (given a StreamWriter) is named by its peer, as gevent's are."""
        frame = getattr(coro, "cr_frame", None)
        code = getattr(coro, "cr_code", None)
        if frame is None or code is None:
            return getattr(coro, "__qualname__", None) or type(coro).__name__, None
        values = [frame.f_locals.get(n) for n in code.co_varnames[: code.co_argcount]]
        for v in values:
            if isinstance(v, self.StreamWriter):
                peer = self._writer_peer(v)
                if peer is not None:
                    return self.rec.peer_name(peer[1]), peer
        return f"{code.co_name}({', '.join(short_repr(v, 16) for v in values)})", None

    def _stream_of(self, frame) -> tuple | None:
        """(fd, peer) of the stream a frame reads from, by the StreamWriter among its variables (the pair
        `reader, writer = await asyncio.open_connection(...)`), or None."""
        for v in frame.f_locals.values():
            if isinstance(v, self.StreamWriter):
                return self._writer_peer(v)
        return None

    def _writer_peer(self, writer) -> tuple | None:
        sock = writer.get_extra_info("socket")
        peer = writer.get_extra_info("peername")
        if sock is None or not isinstance(peer, tuple) or len(peer) < 2:
            return None
        return sock.fileno(), f"{peer[0]}:{peer[1]}"

    def first_step(self, loop, task, tid) -> None:
        """Its first step: a name the program set after creating it (set_name) renames the lane."""
        loop._viz_flush()
        self.fresh.discard(tid)
        name = task.get_name()
        if not _DEFAULT_NAME.match(name) and name != self.rec.names.get(tid):
            self.rec.rename(tid, name)

    def woken(self, loop, task, tid) -> None:
        """Another task, a timer, an fd or a callback scheduled this task's wake-up: it is ready, and says why."""
        loop._viz_flush()
        rec = self.rec
        t = rec.now()
        cur = loop._viz_current
        since, until, fd, io = self.waits.pop(tid, (None, None, None, None))
        try:
            cancelling = task.cancelling()
        except AttributeError:
            cancelling = 0
        if cancelling:
            reason = "cancel()" + (f" by {rec.names.get(cur)}" if cur else "")
        elif cur is not None:
            reason = f"woken by {rec.names.get(cur)}"
        elif until is not None and t >= until - 0.002:
            reason = "timer fired"
            if t - until > _LATE and since is not None and until > since:
                t = until  # it was due then: the loop kept it waiting (a call held the loop)
        elif fd is not None and fd in loop._viz_polled_fds:
            reason = f"fd {fd} {'writable' if io == 'write' else 'readable'}"
            polled = loop._viz_polled_at
            if since is not None and since < polled < t:
                t = polled
        elif loop._viz_polled_fds:
            fds = sorted(loop._viz_polled_fds)
            reason = f"fd {fds[0]} ready" if len(fds) == 1 else f"fds {fds} ready"
        else:
            reason = "future done"
        rec.state(tid, "ready", reason, t=t)
        rec.cause(tid, cur if cur is not None else loop._viz_tid, reason, t)  # else the loop woke it (its poll, a timer)

    def user_code(self, code) -> bool:
        """Whether a code object is the program's own (asked by the C step hook once per code object)."""
        entry = self._codes.get(id(code))
        if entry is None:  # holds the code, so its id stays its own
            entry = self._codes[id(code)] = (code, self.rec.sites.is_user(code), {})
        return entry[1]

    def where(self, task) -> tuple:
        """(reason, file, line, stream, wait if it yielded) of a suspended task: the call at its innermost await in
        the program's own coroutines (`await asyncio.sleep(0.05)`), where that is, whether it waits on a stream's
        fd to be readable or writable ("read", "write" for drain(), else False; None for a library coroutine run as
        a task: its place is not one to cache by code), and the Wait of a task that only yielded there. Cached per
        code object (by id: hashing a code object costs more than the rest) and instruction."""
        codes = self._codes
        frame = per = None
        c = task.get_coro()
        while True:  # by code first: asking a library coroutine for its frame would make it a frame object
            try:
                code = c.cr_code
            except AttributeError:
                code = getattr(c, "gi_code", None)
                if code is None:
                    break
            entry = codes.get(id(code))
            if entry is None:  # holds the code, so its id stays its own
                entry = codes[id(code)] = (code, self.rec.sites.is_user(code), {})
            if not entry[1]:
                break
            try:
                f = c.cr_frame
            except AttributeError:
                f = c.gi_frame
            if f is None:
                break
            frame, per = f, entry[2]
            try:
                c = c.cr_await
            except AttributeError:
                c = getattr(c, "gi_yieldfrom", None)
            if c is None:
                break
        if frame is None:  # a library coroutine run as a task (create_task(asyncio.sleep(5))): the program's words
            made = self.made_as.get(self.tid_of.get(task))
            if made is None:
                text, file, line = f"in {getattr(getattr(c, 'cr_code', None), 'co_name', None) or type(c).__name__}", \
                    None, None
            else:
                text, file, line = made
            return text, file, line, None, (text + " — yields", "ready", None, file, line, None)  # (None: not cached)
        self.frame = frame
        lasti = frame.f_lasti
        place = per.get(lasti)
        if place is None:
            sites = self.rec.sites
            text = sites.call_text(frame) or "waiting at await"
            code = getattr(c, "cr_code", None)
            stream = getattr(code, "co_filename", "").endswith("streams.py") and \
                ("write" if code.co_name == "drain" else "read")  # what a stream waits for: its fd to be ...able
            file, line = sites.file_name(frame.f_code), frame.f_lineno
            place = per[lasti] = (text, file, line, stream, (text + " — yields", "ready", None, file, line, None))
        return place

    def wait(self, loop, task, tid, t: float, yielded: bool) -> tuple:
        """After a step that did not finish the task, why it waits (protocol.Wait): blocked at its innermost await,
        or ready if it only yielded (`await asyncio.sleep(0) — yields`, as gevent's lanes say of gevent.sleep(0))."""
        text, file, line, stream, yields = self.where(task)
        if yielded:
            return yields
        until = fd = io = info = None
        when = loop._viz_timer
        if when is not None:
            until = when - loop.time() + t
            info = {"until": until}
        tried = self.sockets.waits_on(loop, tid) if self.sockets.tried else None  # its try found an fd not ready
        if tried is not None:
            fd, io, words = tried
            text += words
            info = {**(info or {}), "fd": fd, "io": io}
        elif stream:
            peer = self.peers.get(tid) or self._stream_of(self.frame)
            if peer is not None and peer[0] is not None:
                fd, io = peer[0], stream
                text = f"{text} on fd {fd} ({peer[1]})"
                info = {"fd": fd, "io": io}
        self.waits[tid] = (t, until, fd, io)
        return text, "blocked", None, file, line, info

    def finished(self, loop, task, tid, t: float) -> None:
        """Its last step returned (or raised): the lane ends, saying so if it was cancelled; the loop runs on."""
        loop._viz_flush()
        rec = self.rec
        if task.cancelled():
            rec.state(tid, "running", "cancelled (CancelledError at its await)", t=t)
        self._forget(task, tid)
        rec.emit((protocol.TASK_EXITED, t, tid))
        rec.state(loop._viz_tid, "running", None, t=t)
        return None

    def _forget(self, task, tid) -> None:
        self.tid_of.pop(task, None)
        self.waits.pop(tid, None)
        self.peers.pop(tid, None)
        self.sockets.forget(tid)
        self.made_as.pop(tid, None)
        self.fresh.discard(tid)


def _loop_class(asyncio, hooks: AsyncioHooks):
    """The policy's loop class: asyncio's selector loop, reporting its tasks' steps and its polls."""
    import selectors

    rec = hooks.rec
    append, flush_if_due = rec.emit_fast, rec.flush_if_due
    clock, t0 = time.perf_counter, rec.t0
    Task = asyncio.Task
    tid_of, fresh = hooks.tid_of, hooks.fresh
    tid_get, wait, where = tid_of.get, hooks.wait, hooks.where
    pack = protocol.SWITCH.pack
    base = asyncio.SelectorEventLoop
    base_call_soon, base_call_at = base.call_soon, base.call_at
    fast_steps = _fast_steps()
    sel_base = selectors.DefaultSelector
    real_select = getattr(sel_base.select, "__wrapped__", sel_base.select)  # not blocking.py's: the loop is idle

    class VizSelector(sel_base):
        _viz_loop = None
        _viz_own: frozenset = frozenset()

        def select(self, timeout=None):
            loop = self._viz_loop
            if loop is None or loop._viz_tid is None:
                return real_select(self, timeout)
            loop._viz_polled_fds = ()
            loop._viz_flush()
            if timeout is not None and timeout <= 0:  # a glance, not a wait: the loop stays running
                events = real_select(self, timeout)
                if events:
                    loop._viz_polled(events, clock() - t0, self._viz_own)
                return events
            tid = loop._viz_tid
            try:
                reason = hooks.polling(loop, self, timeout)
            except Exception:
                rec.hook_error("asyncio poll hook")
                reason = "polling"
            append((_S, clock() - t0, tid, "idle", reason, None, None, None))
            events = real_select(self, timeout)
            t = clock() - t0
            append((_S, t, tid, "running", "poll returned", None, None, None))
            if events:
                loop._viz_polled(events, t, self._viz_own)
            return events

    class VizLoop(base):
        _viz_tid = None
        _viz_base = None
        _viz_current = None   # the task whose step runs now
        _viz_yielded = False  # it scheduled its own next step (a bare yield: asyncio.sleep(0))
        _viz_timer = None     # the earliest timer its step set (loop time)
        _viz_polled_fds = ()
        _viz_polled_at = 0.0
        _viz_own_fds: frozenset = frozenset()

        def _viz_polled(self, events, t, own) -> None:
            self._viz_polled_fds = {key.fd for key, _ in events if key.fd not in own}
            self._viz_polled_at = t

        def __init__(self, selector=None):
            own = selector is None
            if own:
                selector = VizSelector()
            self._viz_run, self._viz_items = bytearray(), []  # task steps as packed switches (H, Y) and Y's Waits
            super().__init__(selector)
            self._viz_selector = selector  # (asyncio_sockets: which fds it watches)
            self._viz_own_fds = frozenset(key.fd for key in selector.get_map().values())  # its self-pipe
            self._viz_step_soon = self._viz_step
            if fast_steps is not None:  # the common case in C: a task's step that yields where it did before
                steps = fast_steps(self, Task, tid_of, fresh, base_call_soon, VizLoop.call_soon, VizLoop._viz_step,
                                   VizLoop._viz_after, hooks.user_code, t0)
                self._viz_remember = steps.remember
                self._viz_step_soon = steps.step
                self.call_soon = steps.call_soon
            if own:
                selector._viz_own = frozenset(key.fd for key in selector.get_map().values())  # the self-pipe
                selector._viz_loop = self

        def call_soon(self, callback, *args, context=None):
            task = getattr(callback, "__self__", None)
            if task.__class__ is Task:
                tid = tid_get(task)
                if tid and tid == self._viz_current:  # a bare yield (asyncio.sleep(0)): its next step
                    self._viz_yielded = True
                    return base_call_soon(self, self._viz_step_soon, callback, *args, context=context)
                return self._viz_scheduled(task, tid, callback, args, context)
            if isinstance(task, Task):
                return self._viz_scheduled(task, tid_get(task), callback, args, context)
            return base_call_soon(self, callback, *args, context=context)

        def _viz_scheduled(self, task, tid, callback, args, context):
            """A task's first step or its wake-up is scheduled: it is ready from now (or from its cause)."""
            try:
                if tid is None:
                    tid = hooks.new(self, task)
                if tid:
                    hooks.woken(self, task, tid) if tid not in fresh else None
                    return base_call_soon(self, self._viz_step_soon, callback, *args, context=context)
            except Exception:
                rec.hook_error("asyncio call_soon hook")
            return base_call_soon(self, callback, *args, context=context)

        def call_at(self, when, callback, *args, context=None):
            if self._viz_current is not None:
                timer = self._viz_timer
                if timer is None or when < timer:
                    self._viz_timer = when
            return base_call_at(self, when, callback, *args, context=context)

        def _viz_step(self, callback, *args):
            """Run one step of a task: the loop switches to it (H) and it comes back to the loop (Y), as gevent's hub
            and greenlets do; the viewer derives both lanes' spans from those two events (in C)."""
            task = callback.__self__
            tid = tid_get(task)
            if not tid:  # a step scheduled before the hooks knew the task
                return callback(*args)
            if tid in fresh:
                hooks.first_step(self, task, tid)
            loop_tid = self._viz_tid
            run = self._viz_run  # the same bytearray for the life of the loop (a flush empties it)
            run += pack(b"H", clock() - t0, loop_tid, tid)
            self._viz_current, self._viz_yielded, self._viz_timer = tid, False, None
            try:
                return callback(*args)
            finally:
                self._viz_current = None
                self._viz_after(task, tid, clock() - t0, self._viz_yielded)

        def _viz_after(self, task, tid, t, yielded, signature=None):
            """After a task's step: its switch back to the loop (Y) and why it waits, or its end. `signature`: the C
            hook's key of where the task yielded, to remember the item by (a place of the program's own)."""
            try:
                if yielded:  # the common case of a busy loop, kept short: cached per place
                    place = where(task)
                    item = place[4]
                    if signature is not None and place[3] is not None:  # a place of the program's own
                        self._viz_remember(signature, item)
                elif task.done():
                    item = hooks.finished(self, task, tid, t)
                else:
                    item = wait(self, task, tid, t, False)
                if item is not None:
                    run = self._viz_run
                    run += pack(b"Y", t, tid, self._viz_tid)
                    self._viz_items.append(item)
                    if len(run) > _RUN_BYTES:
                        self._viz_flush()
            except Exception:
                rec.hook_error("asyncio step hook")

        def _viz_flush(self) -> None:
            """Hand the switches packed so far to the recorder as one event, ahead of any event that follows them."""
            run = self._viz_run
            if run:
                append((_R, bytes(run), self._viz_items))
                run.clear()
                self._viz_items = []
                flush_if_due()  # this loop may keep the flusher thread from the GIL (viz.recorder.core)

        def run_forever(self):
            if self.is_running() or self.is_closed():  # asyncio refuses: nothing starts or stops
                return super().run_forever()
            try:
                hooks.loop_started(self, sys._getframe(1))
            except Exception:
                rec.hook_error("asyncio run_forever hook")
            try:
                return super().run_forever()
            finally:
                try:
                    hooks.loop_stopped(self)
                except Exception:
                    rec.hook_error("asyncio run_forever hook")

        def close(self):
            if not self.is_closed() and not self.is_running():
                try:
                    hooks.loop_closed(self)
                except Exception:
                    rec.hook_error("asyncio close hook")
            return super().close()

    VizLoop.__name__ = VizLoop.__qualname__ = "SelectorEventLoop"
    return VizLoop
