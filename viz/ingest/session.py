"""Running a script under the recorder, from the viewer's side: spawn, read the pipe, derive, write, stop.

`Session` starts `python -m viz.recorder.child` in its own process group with an inherited pipe for events, and the
script's stdin closed (reading it gets end-of-file), or, given `stdin`, reading that (`viz record` in a pipe). `poll()` reads whatever arrived (events, plus anything written straight to fd 1 / fd 2) and
returns new trace records (viz.trace.record.StateRecord for states, dicts for the rest); it also
enforces the timeout, counted from the script's first line (the trace's time 0), so a run stopped by it lasts as
long as the timeout says. `stop()` ends the child's whole process group (SIGTERM,
then SIGKILL after a grace period). Whatever happens, the trace file gets every record received and an `exit`
record saying how the run ended. This module never imports gevent or the script.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from viz import __version__
from viz import protocol
from viz.ingest.derive import Deriver
from viz.ingest.spawn import child_env, event_pipe
from viz.protocol import MAX_TEXT_CHARS
from viz.scenarios import read_tour
from viz.trace.format import TraceWriter, header
from viz.trace.record import Record, record_time

GRACE = 0.4          # seconds between SIGTERM and SIGKILL
READ_CHUNK = 1 << 20
MAX_RECORDS = 5_000_000  # a flood beyond this is counted and dropped, so memory stays bounded
MAX_OUTPUT_LINES = 200_000
RUN_BATCH = 50_000       # records `run` hands over at a time, at most (about: whole pieces)
PIECE = 1_000            # events derived at a time: a chunk's batches are cut into pieces of about this many
PUMP_LIMIT = 64 << 20    # bytes read ahead of the viewer before the reader thread waits
QUIET_AFTER = 0.1        # s without events (two of the child's flushes): a hub that began a poll is shown idle


class Session:
    def __init__(self, script: str | os.PathLike, args: list[str] | None = None, *, name: str | None = None,
                 timeout: float | None = None, out: str | os.PathLike | None = None,
                 max_records: int = MAX_RECORDS, max_output_lines: int = MAX_OUTPUT_LINES, stdin=None):
        self.stdin = subprocess.DEVNULL if stdin is None else stdin  # a file or fd the script reads as its stdin
        self.script = str(Path(script).resolve())
        self.args = list(args or [])
        self.name = name or Path(self.script).name
        self.timeout = timeout
        self.header = header(target=self.name, script=self.script, file=Path(self.script).name, argv=self.args,
                             python=sys.version.split()[0], viz=__version__,
                             created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        tour = read_tour(self.script)
        if tour is not None:
            self.header["tour"] = tour  # a saved trace keeps the script's guided tour (viz.views.tour)
        self.writer = TraceWriter.open(out, self.header) if out is not None else None
        self.deriver = Deriver()
        self.decoder = protocol.FrameDecoder()
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self._spawned = 0.0
        self._origin: float | None = None  # perf_counter when the script began (trace time 0), at the latest
        self.stop_reason: str | None = None
        self.exit_record: dict | None = None
        self.records_seen = 0
        self.max_records = max_records
        self.max_output_lines = max_output_lines
        self.dropped = 0
        self._corrupt = False
        self._last_event_at = 0.0
        self._stopped_at = 0.0
        self.output_lines = 0
        self.dropped_lines = 0
        self._records_dropped_from: float | None = None
        self._lines_dropped_from: float | None = None
        self._sel: selectors.BaseSelector | None = None
        self._partial = {1: b"", 2: b""}
        self._open = 0
        self._chunks: deque = deque()
        self._pieces: deque = deque()  # (piece of a batch, arrival time or 0.0) decoded and not yet derived
        self._pending_bytes = 0
        self._pending_lock = threading.Lock()  # the reader thread adds, poll subtracts: `+=` is not atomic
        self._arrived = threading.Event()
        self._drained = threading.Event()
        self._pump: threading.Thread | None = None

    # ---- life -----------------------------------------------------------------------------------------------
    def start(self) -> "Session":
        protocol.check_python()  # the child runs on this interpreter too
        rfd, wfd = event_pipe()
        try:
            proc = subprocess.Popen(
                self.child_command(wfd),
                stdin=self.stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(wfd,),
                start_new_session=True, env=child_env(), cwd=os.getcwd())
        except BaseException:
            os.close(rfd)
            raise
        finally:
            os.close(wfd)
        return self.attach(proc, rfd)

    def attach(self, proc: subprocess.Popen, events: int, went: float | None = None) -> "Session":
        """Read the running child `proc` (its stdout and stderr pipes, its events on fd `events`) from now on:
        what start() does once it has spawned it, and viz.ingest.held's session after letting its child go (at
        perf_counter `went`: the script cannot have begun before)."""
        self.proc = proc
        self.started = time.monotonic()
        self._spawned = time.perf_counter() if went is None else went
        self._sel = selectors.DefaultSelector()
        for fd, what in ((events, "events"), (proc.stdout.fileno(), 1), (proc.stderr.fileno(), 2)):
            os.set_blocking(fd, False)
            self._sel.register(fd, selectors.EVENT_READ, what)
        self._open = 3
        self._pump = threading.Thread(target=self._pump_pipes, name="viz pipe reader", daemon=True)
        self._pump.start()
        return self

    def child_command(self, wfd: int) -> list[str]:
        """The child process: the recorder running the script, writing its events to fd `wfd`."""
        return [sys.executable, "-m", "viz.recorder.child", str(wfd), self.script, *self.args]

    def _pump_pipes(self) -> None:
        """Background thread: keep the child's pipes drained, so it never waits on a slow viewer.

        Chunks queue up for `poll`; past PUMP_LIMIT bytes waiting, the thread pauses reading (the child then waits:
        memory stays bounded).
        """
        try:
            while self._open:
                while self._pending_bytes > PUMP_LIMIT and self.proc.poll() is None:
                    self._drained.wait(0.1)
                    self._drained.clear()
                for key, _ in self._sel.select(0.2):
                    fd, what = key.fd, key.data
                    try:
                        data = os.read(fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self._sel.unregister(fd)
                        if what == "events":
                            os.close(fd)
                        self._open -= 1
                    with self._pending_lock:
                        self._pending_bytes += len(data)
                    self._chunks.append((what, data, time.perf_counter()))
                    self._arrived.set()
        finally:
            self._sel.close()
            self._arrived.set()

    @property
    def done(self) -> bool:
        return self.exit_record is not None

    @property
    def origin(self) -> float | None:
        """time.perf_counter() when the script began (trace time 0), at the latest; None before its first events.
        perf_counter is one clock for every process on the machine, so another process can use it too."""
        return self._origin

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started if self.started else 0.0

    def expired(self) -> bool:
        """The run has gone past its timeout (the next poll stops it).

        The timeout counts from the script's first line, not from the spawn: the interpreter's start and the
        recorder's setup before it are not the program's time. Until the first events arrive it counts from the
        spawn, so a child that never gets going is stopped all the same.
        """
        if self.timeout is None or not self.started:
            return False
        origin = self._origin if self._origin is not None else self._spawned
        return time.perf_counter() - origin > self.timeout

    def _began_by(self, at: float) -> None:
        """Events up to the deriver's end time had arrived by perf_counter `at`: the script began at `at - end_time`
        at the latest. (The child's clock is perf_counter too, one clock for every process on the machine.) The
        earliest such bound is the best; it is never before the spawn."""
        bound = max(at - self.deriver.end_time, self._spawned)
        if self._origin is None or bound < self._origin:
            self._origin = bound

    def poll(self, timeout: float = 0.05, limit: int | None = None) -> list[Record]:
        """Read what has arrived (waiting at most `timeout` s) and return the new trace records: all of them, or
        with a `limit`, about that many (whole pieces of PIECE events; the rest waits for the next poll)."""
        if self.done:
            return []
        if self.stop_reason is None and self.expired():
            self.stop("timeout")
        records: list[Record] = []
        if not self._chunks and not self._pieces and self._pump.is_alive():
            self._arrived.wait(timeout)
        self._arrived.clear()
        chunks, pieces = self._chunks, self._pieces
        while chunks or pieces:
            if limit is not None and len(records) >= limit:
                self._arrived.set()  # more is here already: the next poll does not wait
                break
            if pieces:  # a chunk's events first, in order, before whatever came after them
                self._derive(*pieces.popleft(), records)
                continue
            what, data, at = chunks.popleft()
            with self._pending_lock:
                self._pending_bytes -= len(data)
            self._read(what, data, records, at)
        self._drained.set()
        if (self._last_event_at and not pieces and not chunks  # (no events known to be waiting)
                and time.monotonic() - self._last_event_at >= QUIET_AFTER and not self._corrupt
                and self.records_seen + len(records) < self.max_records):
            records.extend(self.deriver.quiet())  # a long poll shows as idle while it lasts, not only after
        if not self._pump.is_alive() and not chunks and not pieces:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            else:
                records.extend(self._finish())
        self._write(records)
        return records

    def run(self, on_records=None) -> dict:
        """Poll until the run ends; returns the exit record."""
        if self.proc is None:
            self.start()
        try:
            while not self.done:
                recs = self.poll(0.1, limit=RUN_BATCH)  # a backlog decoded a piece at a time keeps the peak low
                if recs and on_records is not None:
                    on_records(recs)
        except BaseException:
            self.stop("interrupted")
            while not self.done:
                self.poll(0.05)
            raise
        return self.exit_record

    def stop(self, reason: str = "stopped") -> None:
        """End the child's whole process group: SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.stop_reason is not None:
            return
        self.stop_reason = reason
        self._stopped_at = time.perf_counter()
        pgid = self.proc.pid
        kill_group(pgid, signal.SIGTERM)
        try:
            self.proc.wait(GRACE)
        except subprocess.TimeoutExpired:
            pass
        kill_group(pgid, signal.SIGKILL)  # also whatever the script left in its group
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        """Stop the child if it runs and release everything (safe to call twice)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop("stopped")
        if self.proc is not None and not self.done:
            while not self.done:
                self.poll(0.05)
        if self.writer is not None:
            self.writer.close()

    # ---- reading --------------------------------------------------------------------------------------------
    def _read(self, what, data: bytes, records: list[Record], at: float = 0.0) -> None:
        if not data:
            if what != "events":
                self._raw_output(what, b"", records, final=True)
            return
        if what == "events":
            if self._corrupt:
                return
            try:
                batches = self.decoder.feed(data)
            except protocol.CorruptStream as e:
                self._corrupt = True
                records.append({"k": "note", "t": self.deriver.end_time, "level": "error",
                                "text": f"recorder error: {e}; events after this point were ignored"})
                return
            if batches:
                self._last_event_at = time.monotonic()
            # derived a piece at a time by poll (a piece's records are passed on, and freed, before the next is made)
            pieces = [piece for batch in batches for piece in protocol.split_runs(batch, PIECE)]
            for n, piece in enumerate(pieces, 1):
                self._pieces.append((piece, at if n == len(pieces) else 0.0))
        else:
            self._raw_output(what, data, records)

    def _derive(self, piece: list, at: float, records: list[Record]) -> None:
        """The records of a piece of a batch of events; `at`: when its chunk arrived, given with the chunk's last."""
        room = self.max_records - self.records_seen - len(records)
        if room <= 0:
            self._drop(piece)
        else:
            before = self.deriver.outputs
            recs = self.deriver.feed(piece)
            if self.deriver.outputs != before:
                recs = self._limit_output(recs)
            if len(recs) > room:  # the record limit falls inside this piece
                self._note_dropped_records(len(recs) - room, record_time(recs[room]) or 0.0)
                recs = recs[:room]
            records.extend(recs)
        if at:
            self._began_by(at)

    def _limit_output(self, recs: list[Record]) -> list[Record]:
        """Past the output line limit, output lines are counted and dropped; states still arrive."""
        kept = []
        for r in recs:
            if type(r) is dict and r["k"] == "output":
                if self.output_lines >= self.max_output_lines:
                    self.dropped_lines += 1
                    if self._lines_dropped_from is None:
                        self._lines_dropped_from = r["t"]
                    continue
                self.output_lines += 1
            kept.append(r)
        return kept

    def _note_dropped_records(self, n: int, t: float) -> None:
        if self._records_dropped_from is None:
            self._records_dropped_from = t
        self.dropped += n

    def _drop(self, batch: list) -> None:
        """Past the record limit: count what arrives, keep only the child's own account of how it ended."""
        self._note_dropped_records(protocol.count_events(batch), self.deriver.end_time)
        for ev in batch:
            if ev[0] == protocol.PROGRAM_EXITED:
                self.deriver.feed([ev])

    def _raw_output(self, fd: int, data: bytes, records: list[Record], final: bool = False) -> None:
        """Lines written straight to fd 1 / fd 2 (C code, a crash report): output of the main task."""
        buf = self._partial[fd] + data
        *lines, rest = buf.split(b"\n")
        if final and rest:
            lines.append(rest)
            rest = b""
        self._partial[fd] = rest
        t = self.deriver.end_time
        stream = "stdout" if fd == 1 else "stderr"
        recs = [{"k": "output", "t": t, "task": 1, "stream": stream, "text": ln.decode("utf-8", "replace")[:MAX_TEXT_CHARS],
                 "file": None, "line": None} for ln in lines]
        if self.records_seen + len(records) + len(recs) > self.max_records:
            self._note_dropped_records(len(recs), t)
            return
        records.extend(self._limit_output(recs))

    def _finish(self) -> list[Record]:
        """The child is gone and its pipes are drained: say how it ended."""
        code = self.proc.returncode
        self.proc.stdout.close()
        self.proc.stderr.close()
        records: list[Record] = []
        t = self.deriver.end_time
        child = self.deriver.exit
        status, sig = (code, None) if code >= 0 else (None, signal.Signals(-code).name if -code in
                                                      signal.valid_signals() else str(-code))
        if self.stop_reason is not None:
            outcome = self.stop_reason
            if child is None and self._origin is not None:  # silent (blocked) when stopped: its time runs to the stop
                t = max(t, self._stopped_at - self._origin)
            detail = {"timeout": f"stopped after the {self.timeout:g} s timeout" if self.timeout else "timed out",
                      "stopped": "stopped by the user", "interrupted": "interrupted"}.get(outcome, outcome)
        elif child is not None:
            _, t, _, outcome, detail = child
        elif sig is not None:
            outcome = "killed" if sig in ("SIGKILL", "SIGTERM", "SIGINT") else "crashed"
            detail = f"the program died of {sig}"
        else:
            outcome, detail = "exited", f"the program exited with status {status} before the recorder could report"
        if self.decoder.pending:
            detail += f" (the last {self.decoder.pending} bytes of events were cut off)"
        if self.dropped:
            records.append({"k": "note", "t": t, "level": "warning",
                            "text": f"flood: kept the first {self.max_records:,} records; {self.dropped:,} later "
                                    f"events from {self._records_dropped_from:.3f} s on were dropped"})
        if self.dropped_lines:
            records.append({"k": "note", "t": t, "level": "warning",
                            "text": f"flood: kept the first {self.max_output_lines:,} output lines; "
                                    f"{self.dropped_lines:,} later lines from {self._lines_dropped_from:.3f} s on "
                                    f"were dropped"})
        records.extend(self.deriver.close(t))
        self.exit_record = {"k": "exit", "t": t, "outcome": outcome, "status": status, "signal": sig,
                            "detail": detail}
        records.append(self.exit_record)
        return records

    def _write(self, records: list[Record]) -> None:
        self.records_seen += len(records)
        if self.writer is not None and records:
            self.writer.write_many(records)
            self.writer.flush()


def kill_group(pgid: int, sig: int) -> None:
    """Send `sig` to a process group that may be gone already."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
