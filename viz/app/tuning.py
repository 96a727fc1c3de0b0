"""Interpreter settings that keep the app responsive while a live run streams records in, and putting them back.

Two threads share the interpreter then: the feed thread decodes and derives, the app's thread folds, draws and
answers keys. A 1 ms switch interval (instead of 5) hands the app's thread the interpreter back sooner. Records are
short-lived tuples by the million: the collector's youngest generation is made large, so a record is usually folded
and freed before a collection has to look at it, and what the app built before the run (Textual's widgets and
styles) is frozen out of the collections altogether. All of it is put back when the run ends. No Textual here.
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL = 0.001  # s: sys.setswitchinterval while records stream in
YOUNG_THRESHOLD = 50_000  # gc: allocations before a young collection (CPython's default is 700)


class LiveTuning:
    def __init__(self) -> None:
        self._saved: tuple[float, tuple[int, int, int]] | None = None

    @property
    def active(self) -> bool:
        return self._saved is not None

    def apply(self) -> None:
        if self._saved is not None:
            return
        self._saved = (sys.getswitchinterval(), gc.get_threshold())
        sys.setswitchinterval(SWITCH_INTERVAL)
        _, *older = self._saved[1]
        gc.set_threshold(max(YOUNG_THRESHOLD, self._saved[1][0]), *older)
        gc.freeze()

    def restore(self) -> None:
        if self._saved is None:
            return
        interval, threshold = self._saved
        self._saved = None
        sys.setswitchinterval(interval)
        gc.set_threshold(*threshold)
        gc.unfreeze()  # what the run screen built can be collected again once it goes away
