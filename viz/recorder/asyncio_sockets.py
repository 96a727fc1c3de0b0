"""asyncio's socket I/O in the lanes: a task's own try, its wait on the fd, and the copy the loop makes for it.

blocking.py's socket wrappers hand every non-blocking socket call made in a thread that runs an asyncio loop to
`LoopSockets.call` (`BlockingHooks.loop_io`), in the words they use for any program (`recv() on fd 7 → 34 bytes`,
`recv() on fd 7 → no data yet (BlockingIOError)`):
- in a task's step it is the task's own try (`loop.sock_recv`, `sock_accept`, `sock_connect` try the call before
  they wait; a transport's `write()` tries `send()`): a running span in the task's lane, at the program's line. A
  try that found the fd not ready is remembered, and the task's wait that follows names that fd, if the loop now
  watches it (`await loop.sock_recv(conn, 1024) on fd 7 (127.0.0.1:5000)`; woken `fd 7 readable`);
- in the loop's own callbacks (the retry sock_recv leaves with the loop, a transport's read for a stream) a read is
  the copy the loop makes for a task once its poll said the fd is readable: a short running span in the loop's
  lane with its byte count. Its other calls there (its self-pipe, draining a listening socket's accept() until
  nothing is left, sends) add nothing: the loop makes them only after its poll, and a send that went through is
  recorded for no program.
Only sockets' public methods are seen (no asyncio internals), so this holds for the sock_* methods and the
transports of Python 3.11-3.13 alike.
"""

from __future__ import annotations

import time

from viz import protocol
from viz.recorder.core import get_ident
from viz.recorder.sockets import socket_peer

_S = protocol.TASK_STATE
_clock = time.perf_counter  # the recorder's clock (Recorder.now)
_WRITES = frozenset(("send", "sendall", "sendto", "connect"))  # socket calls that wait for an fd to be writable


class LoopSockets:
    """The socket calls of the asyncio loops' threads, for AsyncioHooks (`running`: thread ident -> its loop)."""

    def __init__(self, rec, running: dict, current_task):
        self.rec = rec
        self.running = running
        self.current_task = current_task  # asyncio.current_task
        self.tried: dict[int, tuple] = {}  # task id -> (socket, fd, io) of the call its step found not ready
        self._append, self._t0 = rec.emit_fast, rec.t0  # (a stream's every read comes here: kept short)

    def call(self, sock, fd: int, name: str, n, words: str, frame) -> bool:
        """A non-blocking socket call that returned at once (`n` bytes copied, or None: BlockingIOError), in words;
        False when this thread runs no asyncio loop (blocking.py then records it as any program's)."""
        loop = self.running.get(get_ident())
        if loop is None:
            return False
        tid = loop._viz_current
        if tid is None:  # the loop's own callback: a read is the copy it makes for a task
            if n is not None and fd not in loop._viz_own_fds:
                if loop._viz_run:
                    loop._viz_flush()  # the switches so far come first
                self._append((_S, _clock() - self._t0, loop._viz_tid, "running", words, None, None, None))
            return True
        loop._viz_flush()
        file, line = self._step_place(frame)
        self._append((_S, _clock() - self._t0, tid, "running", words, file, line, None))
        if n is None:
            self.tried[tid] = (sock, fd, "write" if name in _WRITES else "read")
        elif self.tried:
            self.tried.pop(tid, None)
        return True

    def waits_on(self, loop, tid: int):
        """After a task's step that did not finish it: (fd, io, the words to add to its wait: ` on fd 7
        (127.0.0.1:5000)`) when the step's last try found an fd not ready and the loop now watches it, else None."""
        tried = self.tried.pop(tid, None)
        if tried is None:
            return None
        sock, fd, io = tried
        try:
            key = loop._viz_selector.get_map().get(fd)
        except Exception:
            return None
        if key is None or not key.events & (2 if io == "write" else 1):
            return None  # the try was not what it waits for
        peer = socket_peer(sock)
        return fd, io, f" on fd {fd}" + (f" ({peer})" if peer else "")

    def forget(self, tid: int) -> None:
        self.tried.pop(tid, None)

    def _step_place(self, frame) -> tuple:
        """(file, line) of the program's innermost frame in the running task's step, or (None, None): a library
        coroutine run as a task (loop.sock_recv) has none, and the frames above its step are the loop's."""
        task = self.current_task()
        top = getattr(task.get_coro(), "cr_frame", None) if task is not None else None
        sites = self.rec.sites
        while frame is not None:
            if sites.is_user(frame.f_code):
                return sites.file_name(frame.f_code), frame.f_lineno
            if frame is top or top is None:
                break
            frame = frame.f_back
        return None, None
