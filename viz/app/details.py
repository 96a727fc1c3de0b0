"""The details panel: the selected task's span at the playhead (state, reason, times, line, what woke it), what
changed at this instant, and how the task has spent its time so far."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from operator import attrgetter

from rich.text import Text

from viz.app.palette import LABEL_CLASSES, TaskColors
from viz.app.panel import TracePanel
from viz.app.timescale import fmt_instant
from viz.views.durations import fmt_duration
from viz.trace.model import Lane
from viz.views.causes import link_of, words
from viz.views.cells import LOOP_V, LOOP_WORDS, NAMES, with_loop_words

MAX_CHANGES = 4
_T = attrgetter("t")


def shown_span(trace, lane: Lane, t: float) -> int | None:
    """The index of the lane's span the panel shows at t: the one there, or at or after its end its last (how it
    ended)."""
    i = trace.span_index_at(lane, t)
    if i is None and lane.ended is not None and t >= lane.ended and lane.starts:
        i = len(lane.starts) - 1
    return i


class DetailsPanel(TracePanel):
    COMPONENT_CLASSES = LABEL_CLASSES | {"details--dim", "details--title", "details--cause"}
    DEFAULT_CSS = "DetailsPanel > .details--cause { color: $accent; }"
    CAUSE_HINT = "  (w: go there)"  # after a cause with a waker: the run screen's key for the jump to it

    def show(self, lane: Lane | None, t: float, live: bool, index: int | None = None) -> None:
        """Show `lane` at t: its span there, or span `index` when given (the waker's span after a jump to a cause,
        which may have ended just before t)."""
        self._shown = (lane, t, live, index)
        key = (lane.task if lane else None, len(lane.starts) if lane else 0, t, live, self.trace.changes if live else 0,
               index)
        if key == self._key:
            return
        self._key = key
        self.update(self._text(lane, t, live, index), layout=False)

    def _state_word(self, vis: int, word: str | None = None) -> Text:
        return Text(f" {word or NAMES[vis]} ", style=self.get_component_rich_style(f"label--{NAMES[vis]}"))

    def _text(self, lane: Lane | None, t: float, live: bool, index: int | None = None) -> Text:
        if self._colors is None:
            self._colors = TaskColors(self.trace, self.app.theme_variables)
        dim = self.get_component_rich_style("details--dim")
        if lane is None:
            return Text("waiting for the first task…", style=dim)
        trace = self.trace
        out = Text(no_wrap=False)
        out.append(lane.name, style=self._colors.style(lane.task) + self.get_component_rich_style("details--title"))
        out.append(f"  {lane.kind}", style=dim)
        i = shown_span(trace, lane, t) if index is None else index
        ended = lane.ended is not None and t >= lane.ended and lane.starts
        if ended:
            out.append(f"  ended at {fmt_instant(lane.ended)}", style=dim)
        out.append("\n")
        if i is None:
            when = fmt_instant(lane.starts[0]) if lane.starts else "later"
            out.append(f"not started yet (first seen at {when})\n", style=dim)
        else:
            span = trace.span(lane, i)
            out.append_text(self._state_word(_visual(span.state, span.blocks_loop), span.state))
            if span.blocks_loop:
                out.append_text(self._state_word(LOOP_V, LOOP_WORDS))
            out.append(" " + (span.reason or _plain_reason(span.state)) + "\n")
            still = live and i == len(lane.starts) - 1 and lane.ended is None
            where = ""
            if span.line:
                in_main = span.file in (None, trace.main_file)
                where = f"line {span.line} · " if in_main else f"{span.file}:{span.line} · "
            length = f"so far {fmt_duration(t - span.start)}" if still else f"for {fmt_duration(span.duration)}"
            out.append(f"{where}from {fmt_instant(span.start)}, {length}\n", style=dim)
            link = link_of(trace, lane, i)
            if link is not None:
                hint = self.CAUSE_HINT if link.waker is not None else ""
                out.append(words(trace, link, fmt_instant) + hint + "\n",
                           style=self.get_component_rich_style("details--cause"))
        changes = self.changes(t)
        if changes:
            for line in changes:
                out.append_text(line)
                out.append("\n")
        sums = self.totals.until(lane, t)
        names = ("running", "ready", "blocked", "idle", LOOP_WORDS)
        parts = [f"{name} {fmt_duration(v)}" for name, v in zip(names, sums) if v > 0]
        if parts:
            out.append("totals: " + " · ".join(parts) + "\n", style=dim)
        out.rstrip()
        return out

    def changes(self, t: float) -> list[Text]:
        """What happened exactly at instant t: state changes and printed lines (the event the playhead is on)."""
        if self._colors is None:
            self._colors = TaskColors(self.trace, self.app.theme_variables)
        trace = self.trace
        found: list[Text] = []
        more = 0
        for lane in trace.lanes:
            starts = lane.starts
            i = bisect_left(starts, t)
            while i < len(starts) and starts[i] == t:
                span = trace.span(lane, i)
                if len(found) < MAX_CHANGES:
                    line = Text("▸ ", style=self.get_component_rich_style("details--dim"))
                    line.append(lane.name, style=self._colors.style(lane.task))
                    line.append(" → ")
                    line.append_text(self._state_word(_visual(span.state, span.blocks_loop), span.state))
                    reason = with_loop_words(span.reason, span.blocks_loop)
                    if reason:
                        line.append(f" {reason}")
                    found.append(line)
                else:
                    more += 1
                i += 1
        lo = bisect_left(trace.outputs, t, key=_T)
        hi = bisect_right(trace.outputs, t, key=_T)
        for out in trace.outputs[lo:hi]:
            if len(found) < MAX_CHANGES:
                lane = trace.lane_of(out.task)
                line = Text("▸ ", style=self.get_component_rich_style("details--dim"))
                line.append(lane.name if lane else str(out.task), style=self._colors.style(out.task))
                line.append(" prints ")
                line.append_text(Text.from_ansi(out.text or "(an empty line)"))
                found.append(line)
            else:
                more += 1
        if more:
            found.append(Text(f"▸ and {more} more", style=self.get_component_rich_style("details--dim")))
        return found


def _visual(state: str, blocks_loop: bool) -> int:
    return LOOP_V if blocks_loop else NAMES.index(state)


def _plain_reason(state: str) -> str:
    return {"running": "its own code", "ready": "waiting for its turn",
            "blocked": "waiting", "idle": "nothing to do"}.get(state, state)
