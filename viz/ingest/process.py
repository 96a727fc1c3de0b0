"""The ingest process of a live run: records the program and hands the app ready-made trace records.

Decoding the child's events and deriving records is the heavy per-record work of a live run; done in the app's own
interpreter it competes with drawing and keys for the GIL. So the app (viz.app.feed) starts this module as a
process of its own, `python -m viz.ingest.launch` (which starts the child first, held, and reads the run's spec
from its stdin; the commands that follow come on the same stdin), where `main` runs the
recorder `Session` (the traced program is its child) and writes the records to its stdout in frames:

    8-byte little-endian length, then pickle((info, payload, others))

A frame holds at most FRAME_RECORDS trace records: its state records as the payload of a binary trace block
(viz.trace.binary: columns, the strings first seen in it), and `others`, the other records (dicts), each with its
place among them. The app folds the columns straight into the lanes, with no object per record, and the others in
their places (`FrameWriter`, `FrameReader`, then viz.trace.binary.BlockFolder); `info`
says what the app needs besides: the child's pid, when the script began
(Session.origin, perf_counter: the same clock in both processes), and in the last frame `done` and any `error`. A frame goes out once FRAME_RECORDS have come or BATCH_SECONDS have passed.

Commands come in on stdin, one a line: `stop REASON` ends the program (the records of how it ended still follow).
End of input with no `stop` before it (the app died) or a broken stdout ends the program at once, leaving what was
not sent yet: no traced program outlives the app. Writes never block the session: while the app does not read, records wait here (up to
MAX_PENDING bytes, then the session's own read-ahead, then the program), and the run's timeout is still enforced.
No Textual here.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import sys
import threading
import time

from viz.ingest.heap import quiet_collector
from viz.ingest.session import Session
from viz.trace import binary
from viz.trace.record import Record

FRAME_RECORDS = 2_000  # records a frame at most: the app unpickles and folds one in about a millisecond
BATCH_SECONDS = 0.05   # a frame goes out at least this often while records come
MAX_PENDING = 4 << 20  # bytes of frames written here and not yet read by the app before the session waits
HEADER = struct.Struct("<Q")


class FrameWriter:
    """The ingest process's end: frames of records, the strings of the state records' blocks numbered across
    frames (the app's FrameReader follows along)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def encode(self, info: dict, records: list[Record]) -> bytes:
        """One frame: the state records as a block's payload, the others as they are, each with its place."""
        payload, others = binary.state_payload(records, self.ids)
        body = pickle.dumps((info, payload, others), protocol=5)
        return HEADER.pack(len(body)) + body


def frames(buf: bytearray) -> list[bytes]:
    """The whole frames' bodies at the start of `buf`, taken out of it (an incomplete frame stays for more bytes)."""
    out, start, size = [], 0, HEADER.size
    while len(buf) - start >= size:
        (n,) = HEADER.unpack_from(buf, start)
        if len(buf) - start - size < n:
            break
        with memoryview(buf) as view:  # one copy of the body, not two (a slice of a bytearray is a bytearray)
            out.append(bytes(view[start + size:start + size + n]))
        start += size + n
    del buf[:start]
    return out


class FrameReader:
    """The app's end: a frame's body (what follows its length) as (info, block), the block (viz.trace.binary.Block,
    checked) holding the frame's state records and its other records in their places; BlockFolder.fold folds it.
    Frames are read in the order they were written."""

    def __init__(self) -> None:
        self.strings: list[str | None] = [None]
        self.blocks = 0

    def decode(self, body: bytes) -> tuple[dict, "binary.Block"]:
        info, payload, others = pickle.loads(body)
        self.blocks += 1
        block = binary.records_block(payload, self.strings, self.blocks, "the ingest process's frames")
        block.others = others
        return info, block


class _Command(Session):
    """A session whose child is a given command (the item `{fd}` standing for the event pipe) instead of the
    recorder: how a benchmark feeds the app the event bytes of a recording."""

    def __init__(self, command: list[str], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.command = command

    def child_command(self, wfd: int) -> list[str]:
        return [str(wfd) if arg == "{fd}" else arg for arg in self.command]


class Ingest:
    def __init__(self, session: Session, out_fd: int, commands) -> None:
        self.session = session
        self.out_fd = out_fd
        self.commands = commands
        self.stop_reason: str | None = None
        self.pending = bytearray()
        self.writer = FrameWriter()
        self.records: list = []
        self.sent = time.monotonic()
        self.app_gone = False

    def listen(self) -> None:
        """On a thread: read the app's commands. End of input with no `stop` before it: the app is gone."""
        for line in self.commands:
            word, _, arg = line.strip().partition(" ")
            if word == "stop":
                self.stop_reason = self.stop_reason or arg or "stopped"
        if self.stop_reason is None:
            self.app_gone = True

    def info(self, **more) -> dict:
        s = self.session
        return {"pid": s.proc.pid if s.proc else None, "origin": s.origin, **more}

    def frame(self, final: bool = False, **more) -> None:
        """Frame what has come: whole frames of FRAME_RECORDS, and the rest too once BATCH_SECONDS have passed
        since the last frame. The `final` frame (the last, perhaps empty) says `done` and carries `more`."""
        records, now = self.records, time.monotonic()
        due = final or now - self.sent >= BATCH_SECONDS
        cut = len(records) if due else len(records) - len(records) % FRAME_RECORDS
        for i in range(0, cut, FRAME_RECORDS):
            last = final and i + FRAME_RECORDS >= cut
            self.pending += self.writer.encode(self.info(done=last, **(more if last else {})),
                                               records[i:i + FRAME_RECORDS])
        if final and not cut:
            self.pending += self.writer.encode(self.info(done=True, **more), [])
        if cut:
            self.sent = now
        self.records = records[cut:]

    def flush(self, wait: float) -> None:
        """Write what the app can take now, waiting at most `wait` s for it to read."""
        while self.pending and not self.app_gone:
            _, ready, _ = select.select([], [self.out_fd], [], wait)
            if not ready:
                return
            try:
                n = os.write(self.out_fd, self.pending)
            except BlockingIOError:
                return
            except OSError:  # the app is gone: nobody to send to
                self.app_gone = True
                self.pending.clear()
                return
            del self.pending[:n]
            wait = 0

    def run(self) -> None:
        session = self.session
        stopping = False
        error: str | None = None
        try:
            session.start()
            while not session.done and not self.app_gone:
                if self.stop_reason is not None and not stopping:
                    stopping = True
                    session.stop(self.stop_reason)
                if len(self.pending) < MAX_PENDING:
                    records = session.poll(BATCH_SECONDS / 2, limit=FRAME_RECORDS)
                    self.records += records
                    self.frame()
                    self.flush(0)
                else:  # the app is behind: wait for it (the run's time limit still holds)
                    if session.stop_reason is None and session.expired():
                        session.stop("timeout")
                    self.flush(BATCH_SECONDS / 2)
        except BaseException as e:  # noqa: BLE001 - a broken recorder is reported to the app, not lost
            error = f"{type(e).__name__}: {e}"
        if self.app_gone:  # nobody to send the rest to: end the program, leaving what it had sent
            session.stop("stopped")
            return
        try:
            session.close()
        except BaseException as e:  # noqa: BLE001
            error = error or f"{type(e).__name__}: {e}"
        self.frame(final=True, error=error)
        os.set_blocking(self.out_fd, True)
        self.flush(None)


def main(spec: dict, held=None) -> int:
    """Run the ingest process for `spec` (viz.ingest.launch reads it, niced this process, and started the child held:
    `held`, None for a spec naming its own child command or when it could not be spawned)."""
    out_fd = os.dup(1)  # frames go to the app on the real stdout; a stray print goes to stderr instead
    os.dup2(2, 1)
    os.set_blocking(out_fd, False)
    run = (spec["script"], spec["args"])
    limits = {"name": spec["name"], "timeout": spec["timeout"]}
    if spec.get("child"):
        session = _Command(spec["child"], *run, **limits)
    else:
        session = held.session(*run, **limits) if held is not None else Session(*run, **limits)
    ingest = Ingest(session, out_fd, sys.stdin)
    threading.Thread(target=ingest.listen, name="viz app commands", daemon=True).start()
    quiet_collector()  # (what the imports built is frozen: all of it is loaded by now)
    ingest.run()  # (a failure before the session took `held`: viz.ingest.launch ends it)
    return 0
