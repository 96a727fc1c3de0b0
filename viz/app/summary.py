"""The summary panel: the verdict so far (viz.views.verdict: what concurrency bought, "3.50 s of waiting done in
2.00 s: 1.8x", its factor in the title too) and each task's running / ready / blocked totals. When not every task
fits, the ones that blocked the loop longest, then the busiest, are shown."""

from __future__ import annotations

from rich.text import Text

from viz.app.lanes import display_order
from viz.app.names import short_names
from viz.app.palette import TaskColors
from viz.app.panel import TracePanel
from viz.trace.totals import LOOP
from viz.views.durations import fmt_duration
from viz.views.verdict import counted_lanes, verdict

MAX_ROWS = 60
NAME_MIN = 5  # task names get the room the columns leave, at least this much (shortened, viz.app.names)
COLUMN = 8  # a space and seven characters: '1.25 ms'


class SummaryPanel(TracePanel):
    COMPONENT_CLASSES = {"summary--dim", "summary--work", "summary--loop", "summary--head"}
    helpers: set[int] = frozenset()  # tasks the user marked as helpers: left out of the verdict (viz.views.verdict)
    since: float | None = None   # a time range the user marked, ( and ): the summary covers [since, until] only
    until: float | None = None
    _counted: tuple | None = None  # (lane count, helpers) and the counted lanes for them
    _short: tuple | None = None  # (width, every task's name) and the names shortened to it

    def show(self, t: float) -> None:
        self._shown = (t,)
        key = (t, self.trace.changes)
        if key == self._key:
            return
        self._key = key
        if self._colors is None:
            self._colors = TaskColors(self.trace, self.app.theme_variables)
        self.update(self._text(t), layout=False)

    def refresh_all(self) -> None:
        """Draw again at the same instant (what is counted changed, not the trace)."""
        self._key = None
        if self._shown is not None:
            self.show(*self._shown)

    def _sums(self, lane, since: float, t: float) -> list[float]:
        sums = self.totals.until(lane, t)
        if since <= 0:
            return sums
        return [a - b for a, b in zip(sums, self.totals.until(lane, since))]

    def on_resize(self) -> None:
        if self._shown is not None:  # as many rows as now fit
            self._key = None
            self.call_later(self._show_again)

    def _text(self, t: float) -> Text:
        trace = self.trace
        dim = self.get_component_rich_style("summary--dim")
        out = Text(no_wrap=True, overflow="ellipsis")
        bold = self.get_component_rich_style("summary--work")
        since = self.since or 0.0
        if self.until is not None:
            t = self.until  # a marked range: the summary covers it, wherever the playhead is
        span = f" · {fmt_duration(since)}–{fmt_duration(t)}" if self.since is not None or self.until is not None \
            else ""
        key = (len(trace.lanes), self.helpers)
        if self._counted is None or self._counted[0] != key:  # which tasks count changes only with new lanes or h
            self._counted = (key, counted_lanes(trace, self.helpers))
        judged = verdict(trace, t, self.totals, self.helpers, since=since, counted=self._counted[1])
        if judged is not None and judged.span > 0:  # the verdict; the playhead's time is in the status line
            out.append(judged.words(), style=bold)
            self.border_title = f"summary{span} · {judged.factor:.1f}x"  # in sight when the panel is small
        else:
            out.append("wall ", style=dim)
            out.append(fmt_duration(t - since), style=bold)
            self.border_title = f"summary{span}"
        out.append("\n")
        lanes = display_order(trace.lanes)
        height = self.content_size.height  # the panel clips: rows past its height would be drawn for nothing
        rows = [(lane, self._sums(lane, since, t)) for lane in lanes]
        below = 1 + any(sums[LOOP] for _, sums in rows)  # "… and N more", and what the loop column means
        shown = MAX_ROWS if height <= 0 else max(1, min(MAX_ROWS, height - 2 - below))
        if len(rows) > shown:  # not all fit: the tasks that held the loop, then the busiest, in lane order
            top = sorted(range(len(rows)), key=lambda i: (-rows[i][1][LOOP], -rows[i][1][0]))[:shown]
            rows = [rows[i] for i in sorted(top)]
        columns = [(0, "running"), (1, "ready"), (2, "blocked")]
        if any(sums[3] for _, sums in rows):
            columns.append((3, "idle"))
        if any(sums[LOOP] for _, sums in rows):
            columns.append((LOOP, "loop"))
        room = self.content_size.width or 80
        if NAME_MIN + COLUMN * len(columns) > room and (3, "idle") in columns:
            columns.remove((3, "idle"))  # no room for both: the loop column matters more than the idle one
        longest = max((len(lane.name) for lane, _ in rows), default=4)
        name_w = max(5, min(longest, room - COLUMN * len(columns)))
        key = (name_w, tuple(lane.name for lane in lanes))
        if self._short is None or self._short[0] != key:  # a live run redraws this often, its names rarely change
            self._short = (key, short_names(list(key[1]), name_w))
        shorter = dict(zip((lane.task for lane in lanes), self._short[1]))
        names = [shorter[lane.task] for lane, _ in rows]  # shortened among all the tasks, shown or not
        head = f"{'task':<{name_w}}" + "".join(f" {title:>{COLUMN - 1}}" for _, title in columns)
        out.append(head + "\n", style=self.get_component_rich_style("summary--head"))
        loop_style = self.get_component_rich_style("summary--loop")
        for (lane, sums), name in zip(rows, names):
            out.append(f"{name:<{name_w}}", style=self._colors.style(lane.task))
            for k, _ in columns:
                out.append(f" {_short(sums[k]):>{COLUMN - 1}}", style=loop_style if k == LOOP and sums[k] else None)
            out.append("\n")
        if any(k == LOOP for k, _ in columns):
            out.append("loop: ", style=loop_style)
            out.append("part of blocked: calls that held the whole loop\n", style=dim)
        if len(lanes) > shown:
            out.append(f"… and {len(lanes) - shown} more tasks, less busy\n", style=dim)
        out.rstrip()
        return out


def _short(d: float) -> str:
    return "·" if d <= 0 else fmt_duration(d)
