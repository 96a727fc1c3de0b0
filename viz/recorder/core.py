"""The recorder's core inside the traced child: the event buffer, the task registry and "who is running now".

Every hook (greenlets, gevent, generators, blocking calls, output) reports through one `Recorder`. It captures the
real `_thread` / `os.write` / `time.sleep` before the script runs, because `gevent.monkey.patch_all()` replaces them
later and the recorder must keep using the real ones. Events are raw tuples (see viz.protocol) buffered in a
deque and written to the pipe in batches: by size, by a background flusher every 50 ms, and at exit. A thread that
drops the GIL and takes it back at once, again and again (an asyncio loop polling with timeout 0 between steps),
keeps a waiting thread from ever getting it: then the thread emitting flushes itself once FLUSH_EVERY has passed
since the last flush (`flush_if_due`), so the viewer gets the run as it goes, not all at its end.
"""

from __future__ import annotations

import _thread
import os
import time
from collections import deque

from viz import protocol
from viz.recorder.callsite import CallSites

_real_sleep = time.sleep
_real_write = os.write
_real_writev = os.writev
get_ident = _thread.get_ident
clock = time.perf_counter
BATCH = 4096
BATCH_BYTES = 64 * 1024  # packed switches a write carries at most (its marshalled copy: from the heap, not fresh pages)
_RUN = protocol.SWITCH_RUN
FLUSH_EVERY = 0.05
DUE_CHECK = 63  # emit() looks at the clock once every DUE_CHECK + 1 events
DUE_WAIT = 0.02  # seconds a due flush waits for another thread's flush in progress
MAX_NOTES = 20


class Recorder:
    def __init__(self, fd: int, script: str):
        self.fd = fd
        self.t0 = clock()
        self.sites = CallSites(script)
        self.sites.on_new_file = self._new_file
        self._q: deque = deque()
        self._flushed = clock()  # when the buffer was last written out
        self._flushing: int | None = None  # the thread writing it out now
        self._after_flush = None  # what a signal handler run inside that write left to do once it is written
        self._write_lock = _thread.allocate_lock()
        self._closed = False
        self._next_task = 1
        self.main_ident = get_ident()
        self.thread_task: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.kinds: dict[int, str] = {}
        self.greenlet_task: dict = {}  # greenlet -> task id, filled by viz.recorder.greenlets
        self.current_greenlet = None   # greenlet.getcurrent once greenlet is in use
        self.output_task: int | None = None  # while set, output is recorded as this task's (see greenlets.py)
        self._notes = 0
        self._name_count: dict[str, int] = {}
        self.quiet = None  # quiet(flag) around the recorder's own waits in a program thread (viz.recorder.gil)
        self.thread_start_hooks: list = []  # called in each new thread of the script as it starts
        self.loop_thread_hooks: list = []  # called by loop_in_this_thread (viz.recorder.gil)
        self.clients: dict[str, str] = {}  # "host:port" of a connected socket -> name of the task that connected
        self._named_by_peer: dict[str, int] = {}
        self.main_task = self.new_task("main", "main")
        self.thread_task[self.main_ident] = self.main_task
        self.state(self.main_task, "running")

    # ---- events ---------------------------------------------------------------------------------------------
    def now(self) -> float:
        return clock() - self.t0

    def emit(self, ev: tuple) -> None:
        q = self._q
        q.append(ev)
        n = len(q)
        if n >= BATCH:
            self.flush()
        elif not n & DUE_CHECK:
            self.flush_if_due()

    def flush_if_due(self) -> None:
        """Flush from this thread if the flusher has not for FLUSH_EVERY (it may be kept from the GIL): for the hooks
        that append to the buffer themselves (emit_fast), after each piece they append."""
        if clock() - self._flushed >= FLUSH_EVERY:
            self.flush(DUE_WAIT)

    @property
    def emit_fast(self):
        """The raw append of the event buffer, for the C hook (the flusher thread writes what it appends)."""
        return self._q.append

    def flush(self, wait: float = 0.5) -> None:
        """Write everything buffered to the pipe (safe from any thread; never raises), waiting at most `wait` s for
        another thread's flush in progress. That thread may itself be waiting for the GIL this one holds (the
        flusher, kept from it by a busy loop, between two writes): waiting here hands it over."""
        if self._closed or self._flushing == get_ident():
            return
        quiet = self.quiet
        if quiet is not None:
            quiet(True)  # waiting here (for the lock, for a full pipe) is the recorder's, not the program's
        try:
            if self._write_lock.acquire(True, wait):
                self._flush_locked()
        finally:
            if quiet is not None:
                quiet(False)

    def _flush_locked(self) -> None:
        self._flushing = get_ident()
        try:
            q = self._q
            while q and not self._closed:
                batch, packed = [], 0
                while q and len(batch) < BATCH and packed < BATCH_BYTES:  # (runs of switches are most of the bytes)
                    ev = q.popleft()
                    batch.append(ev)
                    if ev[0] == _RUN:
                        packed += len(ev[1])
                head, payload = protocol.encode(batch)
                written = _real_writev(self.fd, (head, payload))
                if written >= len(head):
                    data = memoryview(payload)[written - len(head):]
                else:  # (a pipe takes four bytes whole: never, in practice)
                    data = memoryview(head[written:] + payload)
                while data:
                    written = _real_write(self.fd, data)
                    data = data[written:]
            self._flushed = clock()
        except OSError:
            self._closed = True  # the viewer is gone; the program runs on untraced
        finally:
            self._write_lock.release()
            self._flushing = None
            after, self._after_flush = self._after_flush, None
            if after is not None:
                after()

    def after_own_flush(self, then) -> bool:
        """Called by a signal handler (which runs in the main thread, between two steps of whatever it was doing): if
        that thread is writing the buffer out (a handler run inside its write), leave `then` to be called once the
        write is done, and say so. A handler that flushed there would find the lock taken and half a batch written."""
        if self._flushing == get_ident():
            self._after_flush = then
            return True
        return False

    def forget_in_forked_child(self) -> None:
        """A process forked by the script must not write into our pipe: its events would corrupt the stream."""
        self._closed = True
        self._q.clear()
        self._write_lock = _thread.allocate_lock()  # (the flusher thread may have held it: it is not in this process)
        self._flushing = self._after_flush = None
        import sys
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__  # its output still reaches the viewer, via fd 1/2
        try:
            os.close(self.fd)
        except OSError:
            pass

    def start_flusher(self) -> None:
        def loop():
            while not self._closed:
                _real_sleep(FLUSH_EVERY)
                if self._q:
                    self.flush()
        _thread.start_new_thread(loop, ())

    def note(self, text: str, level: str = "error") -> None:
        if self._notes < MAX_NOTES:
            self._notes += 1
            self.emit((protocol.RECORDER_NOTE, self.now(), level, text))

    def thread_started(self, tid: int) -> None:
        """In a new thread of the script, as it starts running task `tid`: the thread's task, and the hooks that
        follow each thread (the GIL sampler, greenlet's per-thread tracer, the generators' profiler)."""
        self.thread_task[get_ident()] = tid
        for hook in self.thread_start_hooks:
            hook()

    def loop_in_this_thread(self, running: bool) -> None:
        """This thread starts (or stops) running an event loop: its sleeps are the loop's polls from now on."""
        for hook in self.loop_thread_hooks:
            hook(running)

    def hook_error(self, where: str) -> None:
        """A hook of ours failed: record it and let the program run on unchanged."""
        import traceback
        self.note(f"recorder error in {where}: {traceback.format_exc(limit=3).strip().splitlines()[-1]}")

    def _new_file(self, name: str, real: str) -> None:
        try:
            with open(real, encoding="utf-8", errors="replace") as f:
                text = f.read(1 << 20)
        except OSError:
            return
        self.emit((protocol.SOURCE_TEXT, name, text))

    # ---- tasks ----------------------------------------------------------------------------------------------
    def new_task(self, name: str, kind: str, parent: int | None = None, file: str | None = None,
                 line: int | None = None) -> int:
        tid = self._next_task
        self._next_task += 1
        name = self._unique(name)
        self.names[tid], self.kinds[tid] = name, kind
        self.emit((protocol.TASK_SPAWNED, self.now(), tid, name, kind, parent, file, line))
        return tid

    def _unique(self, name: str) -> str:
        """Two tasks never share a name: the second `func` is `func #2`."""
        n = self._name_count.get(name, 0) + 1
        self._name_count[name] = n
        return name if n == 1 else f"{name} #{n}"

    def rename(self, tid: int, name: str, kind: str | None = None) -> None:
        name = self._unique(name)
        self.names[tid] = name
        if kind:
            self.kinds[tid] = kind
        self.emit((protocol.TASK_SPAWNED, self.now(), tid, name, self.kinds[tid], None, None, None))

    def state(self, tid: int, state: str, reason: str | None = None, frame=None, info: dict | None = None,
              t: float | None = None) -> None:
        file = line = None
        if frame is not None:
            file, line = self.sites.where(frame)
        self.emit((protocol.TASK_STATE, self.now() if t is None else t, tid, state, reason, file, line, info))

    def cause(self, tid: int, by: int | None, what: str, t: float | None = None) -> None:
        """What woke task `tid` at time t (the start of its ready or running span): task `by` (None: no task), and
        the event in the program's words."""
        self.emit((protocol.TASK_CAUSE, self.now() if t is None else t, tid, by, what))

    def end(self, tid: int) -> None:
        self.emit((protocol.TASK_EXITED, self.now(), tid))

    def remember_client(self, sock) -> None:
        """After a connect: the task that owns this local address, so the server side can name its peer."""
        try:
            host, port = sock.getsockname()[:2]
        except Exception:
            return
        peer, client = f"{host}:{port}", self.names.get(self.current_task(), "")
        self.clients[peer] = client
        tid = self._named_by_peer.pop(peer, None)
        if tid is not None and client:  # the server side got there first
            self.rename(tid, f"{peer} ({client})")

    def peer_name(self, peer: str) -> str:
        """`127.0.0.1:51234 (client 1)` when the client is a task of this program, else the address."""
        client = self.clients.get(peer)
        return f"{peer} ({client})" if client else peer

    def named_by_peer(self, tid: int, peer: str) -> None:
        """Task `tid` is named after `peer`: if its client connects from this program later, name it too."""
        if peer not in self.clients:
            self._named_by_peer[peer] = tid

    def current_task(self) -> int:
        """The task running right now: the current greenlet's, else the current thread's."""
        getcurrent = self.current_greenlet
        if getcurrent is not None:
            g = getcurrent()
            tid = self.greenlet_task.get(g)
            if tid is not None:
                return tid
            if g.parent is not None:
                return self.task_of_greenlet(g)
        ident = get_ident()
        tid = self.thread_task.get(ident)
        if tid is None:
            tid = self.thread_task[ident] = self.new_task(f"thread {ident}", "thread")
        return tid

    def task_of_greenlet(self, g) -> int:  # replaced by viz.recorder.greenlets when greenlet is in use
        return self.thread_task.get(get_ident(), self.main_task)

    # ---- the end --------------------------------------------------------------------------------------------
    def close(self, status: int, outcome: str, detail: str | None) -> None:
        self.emit((protocol.PROGRAM_EXITED, self.now(), status, outcome, detail))
        self.flush()
        self._closed = True
