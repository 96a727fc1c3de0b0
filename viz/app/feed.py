"""The live feed: runs a recorder Session on a background thread and hands its records over in batches.

The thread polls the session (which enforces the timeout) and calls `deliver(records, done)` at most every
BATCH_SECONDS, so the app folds records into its Trace on its own thread about 20 times a second. `clock()` tells
the program's current time even while it is silent (in a blocking call), so open spans keep growing on screen.
Only this thread touches the session: `stop()` asks it to end the child; `close()` asks and then waits for it, so a
screen that goes away leaves no child process behind. No Textual here.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from viz.ingest.session import Session

BATCH_SECONDS = 0.05
BATCH_RECORDS = 20_000
MAX_BACKLOG = 2  # batches delivered and not yet folded by the app before this thread slows down


class LiveFeed:
    def __init__(self, session: Session, deliver: Callable[[list[dict], bool], None],
                 backlog: Callable[[], int] | None = None):
        """`backlog()`, when given, says how many delivered batches the app has not folded yet: while it is
        MAX_BACKLOG or more, this thread waits for the app to fold, so the app's thread (which draws and answers
        keys) is not left fighting it for the interpreter. The program is not slowed: the session's reader thread
        keeps emptying the pipe (up to its read-ahead limit)."""
        self.session = session
        self.deliver = deliver
        self.backlog = backlog
        self._room = threading.Event()
        self._wake = threading.Event()  # ends a hold early (the run is being stopped)
        self.hold_until = 0.0  # time.monotonic() before which this thread derives nothing (the user is acting)
        self._app_free = threading.Event()  # clear while the app's thread lays out and paints the screen
        self._app_free.set()
        self.error: BaseException | None = None
        self._stop_reason: str | None = None
        self._offset: float | None = None  # parent's elapsed time minus the trace's time, as an upper bound
        self._thread = threading.Thread(target=self._run, name="viz live feed", daemon=True)

    def start(self) -> "LiveFeed":
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, reason: str = "stopped") -> None:
        """Ask the thread to end the child (it keeps reading until the exit record, then finishes)."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._wake.set()

    def hold(self, seconds: float) -> None:
        """Derive nothing for the next `seconds` (called from the app's thread when the user presses a key, so the
        key and the redraw after it have the interpreter to themselves). The pipe keeps being read meanwhile."""
        self.hold_until = max(self.hold_until, time.monotonic() + seconds)

    def pause(self) -> None:
        """The app's thread starts laying out or painting the screen: derive nothing until `resume()`, so that work
        has the interpreter to itself (two threads that both want it each get it half the time)."""
        self._app_free.clear()

    def resume(self) -> None:
        self._app_free.set()

    def _breathe(self) -> None:
        """Between pieces of decoding and deriving (on this thread): wait while the app's thread lays out or
        paints the screen, or the user has just pressed a key."""
        held = self.hold_until - time.monotonic()
        if held > 0 and self._stop_reason is None:
            self._wake.wait(held)
        if not self._app_free.is_set():
            self._app_free.wait(BATCH_SECONDS)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child and wait for the thread; safe to call twice, and before `start`."""
        self.stop("stopped")
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive() and self._thread.ident is None:
            self.session.close()

    def made_room(self) -> None:
        """The app folded what was delivered (called from the app's thread)."""
        self._room.set()

    def clock(self) -> float | None:
        """The program's time now (in trace time), never ahead of it; None before the first record."""
        if self._offset is None or self.session.done:
            return None
        return self.session.elapsed - self._offset

    def _calibrate(self, records: list[dict]) -> None:
        """Each record arrives after it happened, so elapsed - t bounds the child's clock offset from above."""
        latest = self.session.latest_time
        if records:
            bound = self.session.elapsed - latest
            self._offset = bound if self._offset is None else min(self._offset, bound)

    def _run(self) -> None:
        session = self.session
        batch: list[dict] = []
        sent = time.monotonic()
        stopping = False
        try:
            if session.proc is None:
                session.start()
            session.deriver.breather = self._breathe
            while not session.done:
                if self._stop_reason is not None and not stopping:
                    stopping = True
                    session.stop(self._stop_reason)
                while self.backlog is not None and self.backlog() >= MAX_BACKLOG and self._stop_reason is None:
                    self._room.wait(BATCH_SECONDS)  # the app is behind: it gets the interpreter first
                    self._room.clear()
                    if session.expired():
                        break  # the run's time is up: poll below stops the child
                self._breathe()
                records = session.poll(BATCH_SECONDS / 2, limit=BATCH_RECORDS)  # a backlog comes in pieces
                if records:
                    self._calibrate(records)
                    batch.extend(records)
                now = time.monotonic()
                if batch and (now - sent >= BATCH_SECONDS or len(batch) >= BATCH_RECORDS):
                    self.deliver(batch, False)
                    batch, sent = [], now
        except BaseException as e:  # a broken recorder must not take the app down silently
            self.error = e
        finally:
            try:
                session.close()
            except BaseException as e:  # noqa: BLE001
                self.error = self.error or e
            self.deliver(batch, True)
