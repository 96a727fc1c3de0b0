"""The live feed: the app's end of a live run, whose records come ready-made from an ingest process.

`LiveFeed` gives the run to an ingest process (viz.ingest.launch, started by `viz run` before it parsed its arguments,
or by `start`; viz.ingest.process: it runs the recorder Session, decodes and derives in its own interpreter) and
starts a reader thread here that only moves the frames' bytes from its pipe into an inbox:
os.read lets go of the interpreter, so the app's thread, which draws and answers keys, has it to itself. The app's
thread takes a frame when it chooses to fold one (`take`: unpickling at most FRAME_RECORDS records). While
MAX_FRAMES wait unread, the reader stops reading, so the ingest process, then the program, wait: memory stays
bounded. `arrived()` (called on the reader thread) says frames came, or the run ended.

`clock()` tells the program's time now even while it is silent (in a blocking call), so open spans keep growing on
screen. `stop()` asks the ingest process to end the program (how it ended still arrives); `close()` also waits for
it, and makes sure the program is gone, so a screen that goes away leaves no process behind. No Textual here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from typing import Callable

from viz.ingest.launch import IngestProcess
from viz.ingest.process import FrameReader, frames
from viz.trace.binary import Block
from viz.ingest.session import Session, kill_group

MAX_FRAMES = 50  # frames read and not yet taken by the app before the reader waits (about 100,000 records)
READ_SIZE = 1 << 20


class LiveFeed:
    child: list[str] | None = None  # the traced child's command instead of the recorder's (see viz.ingest.process)

    def __init__(self, session: Session, arrived: Callable[[], None] = lambda: None):
        """`session` describes the run (script, arguments, name, timeout); it is started in the ingest process,
        never here. `arrived` may be set later (the reader thread calls whatever it is then)."""
        self.session = session
        self.arrived = arrived
        self.error: str | None = None
        self.child_pid: int | None = None
        self.proc: subprocess.Popen | None = None
        self._frames: deque[bytes] = deque()
        self._reader = FrameReader()
        self._room = threading.Event()
        self._ended = False  # the last frame is in the inbox (or the ingest process ended without one)
        self._done = False  # the app took the last frame
        self._origin: float | None = None  # perf_counter when the script began, at the latest (Session.origin)
        self._stderr = None  # the ingest process's stderr, a file (start)
        self._said: str | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._read, name="viz live feed", daemon=True)

    def start(self, ingest: IngestProcess | None = None) -> "LiveFeed":
        """Give the run to `ingest`, started earlier (`viz run` starts it first thing), or to one started now."""
        s = self.session
        if ingest is None:
            ingest = IngestProcess(own_child=self.child is not None)
        self._stderr = ingest.stderr
        ingest.send({"script": s.script, "args": s.args, "name": s.name, "timeout": s.timeout, "child": self.child})
        self.proc = ingest.proc
        self._thread.start()
        return self

    # ---- the reader thread ----------------------------------------------------------------------------------
    def _read(self) -> None:
        fd, buf = self.proc.stdout.fileno(), bytearray()
        try:
            while True:
                while len(self._frames) >= MAX_FRAMES and not self._stopped:
                    self._room.wait(0.1)  # the app is behind: let it catch up
                    self._room.clear()
                data = os.read(fd, READ_SIZE)
                if not data:
                    break
                buf += data
                whole = frames(buf)
                if whole:
                    self._frames.extend(whole)
                    self.arrived()
        finally:
            self._ended = True
            self.arrived()

    # ---- the app's thread -----------------------------------------------------------------------------------
    def take(self) -> "tuple[Block | None, bool] | None":
        """The next frame's block of records (viz.trace.binary.BlockFolder folds it into the trace; None when the
        ingest process failed) and whether the run ended with it; None while nothing waits."""
        if self._done:
            return None
        try:
            blob = self._frames.popleft()
        except IndexError:
            if not self._ended or self._frames:
                return None
            self._done = True  # the ingest process ended without its last frame: it failed
            self.proc.wait()
            said = self._last_words().splitlines()
            self.error = self.error or (said[-1] if said else f"the ingest process ended ({self.proc.returncode})")
            return None, True
        self._room.set()
        info, block = self._reader.decode(blob)
        self._see(info)
        if info["done"]:
            self._done = True
            self.error = info.get("error")
        return block, info["done"]

    def waiting(self) -> int:
        """Frames read and not yet taken (the end of the run counts as many: it is taken at once)."""
        return len(self._frames) + (MAX_FRAMES if self._ended else 0)

    @property
    def ended(self) -> bool:
        """The ingest process has sent its last frame (or ended without one): nothing more will come."""
        return self._ended

    def _last_words(self) -> str:
        """What the ingest process wrote to stderr (a traceback, if it failed); its file is closed then."""
        if self._said is None:
            self._stderr.seek(0)
            self._said = self._stderr.read().decode("utf-8", "replace").strip()
            self._stderr.close()
        return self._said

    def _see(self, info: dict) -> None:
        self.child_pid = info["pid"]
        self._origin = info["origin"]

    def clock(self) -> float | None:
        """The program's time now (in trace time), never ahead of it; None before the first record and after the
        last: perf_counter since the latest the script can have begun (Session.origin, from the ingest process:
        perf_counter is the same clock in both processes)."""
        if self._origin is None or self._done:
            return None
        return time.perf_counter() - self._origin

    def stop(self, reason: str = "stopped") -> None:
        """Ask the ingest process to end the program (it sends how it ended, then finishes)."""
        if self.proc is None or self._stopped:
            return
        self._stopped = True
        try:
            self.proc.stdin.write(f"stop {reason}\n".encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):  # already gone, or closed
            pass

    def close(self, timeout: float = 5.0) -> None:
        """Stop the program and wait for the ingest process; safe to call twice, and before `start`."""
        if self.proc is None:
            return
        self.stop("stopped")
        self._room.set()
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._thread.join(timeout)
        if self.proc.returncode != 0 and self.child_pid is not None:
            kill_group(self.child_pid, signal.SIGKILL)  # the ingest process failed or was killed: no program left
        self._last_words()
        if not self._thread.is_alive():
            self.proc.stdout.close()

