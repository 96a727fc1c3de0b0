"""Interpreter settings that keep the app responsive while a live run streams records in, and putting them back.

The app's thread then folds records, draws and answers keys, while other threads (the terminal's input, the live
feed's reader) want the interpreter only for a moment: a 1 ms switch interval (instead of 5) lets them have it
sooner, so a key read from the terminal reaches the app's loop without waiting out a slice of folding. Records are
short-lived tuples by the million: the collector's youngest generation is made large, so a record is usually folded
and freed before a collection has to look at it, and what the app built before the run (Textual's widgets and
styles) is frozen out of the collections altogether. After each live redraw, what survived until then is frozen
too (`settle`): otherwise the collector's middle generation fills with the strips and caches of the last redraws
and each of its collections holds the app for 20-50 ms, a key pressed meanwhile waiting. Reference cycles among the
frozen objects are freed only when they are handed back to the collector: once a minute (`RELEASE_EVERY`, one full
collection) and when the run ends. All of it is put back when the run ends. `release_memory` gives back what a
run screen held once it is gone. No Textual here.
"""

from __future__ import annotations

import gc
import sys

from viz.ingest.heap import YOUNG_THRESHOLD  # gc: allocations before a young collection (as in the ingest process)

SWITCH_INTERVAL = 0.001  # s: sys.setswitchinterval while records stream in
RELEASE_EVERY = 60.0  # s: frozen objects go back to the collector (one full collection) this often


class LiveTuning:
    def __init__(self) -> None:
        self._saved: tuple[float, tuple[int, int, int]] | None = None
        self._released = 0.0

    def apply(self, now: float = 0.0) -> None:
        if self._saved is not None:
            return
        self._saved = (sys.getswitchinterval(), gc.get_threshold())
        sys.setswitchinterval(SWITCH_INTERVAL)
        _, *older = self._saved[1]
        gc.set_threshold(max(YOUNG_THRESHOLD, self._saved[1][0]), *older)
        gc.freeze()
        self._released = now

    def settle(self, now: float) -> None:
        """After a live redraw (`now`: time.monotonic()): freeze what survived so far; once a minute, first hand
        what was frozen back to the collector and collect it all."""
        if self._saved is None:
            return
        if now - self._released >= RELEASE_EVERY:
            self._released = now
            gc.unfreeze()
            gc.collect()
        gc.freeze()

    def restore(self) -> None:
        if self._saved is None:
            return
        interval, threshold = self._saved
        self._saved = None
        sys.setswitchinterval(interval)
        gc.set_threshold(*threshold)
        gc.unfreeze()  # what the run screen built can be collected again once it goes away


def release_memory() -> None:
    """Once a run screen has gone (the user went back to the picker): collect it and its trace at once (they are old
    objects, which the collector otherwise leaves for its rare full collections), then, with glibc, hand the freed
    memory back to the system (malloc keeps the pages of freed large arrays: about 150 MB after a 4 M-record run)."""
    gc.collect()
    import ctypes
    import ctypes.util

    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing more to do
        return
    trim(0)
