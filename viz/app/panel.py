"""The common ground of the panels under the timeline: they read the trace and the totals, and redraw when the
theme changes (their colours come from it)."""

from __future__ import annotations

from textual.widgets import Static

from viz.app.palette import TaskColors
from viz.trace.totals import Totals
from viz.trace.model import Trace


class TracePanel(Static):
    """A panel that shows part of the trace; `show(*args)` draws it, and is called again on a theme change."""

    def __init__(self, trace: Trace, totals: Totals, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace
        self.totals = totals
        self._key: tuple | None = None
        self._colors: TaskColors | None = None
        self._shown: tuple | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._colors = None
        self._key = None
        if self._shown is not None:  # the theme changed: draw again with its colours
            self.call_later(self._show_again)

    def _show_again(self) -> None:
        """Draw what was shown last, as it is when this runs: a show() between the style change and now (the last
        records of a short live run, folded before the screen's styles settled) is not undone by older arguments."""
        if self._shown is not None:
            self.show(*self._shown)

    def show(self, *args) -> None:
        raise NotImplementedError
