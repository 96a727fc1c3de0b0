"""The compare screen's panels: the selected row's run, at the playhead, as the run screen shows its one trace.

Under the compare timeline, side by side: the details of the selected lane's span (or, on a run's header row, the
run itself: its verdict and what its tasks are doing), the source at the task's line, and what that run printed up
to the playhead. The screen passes each run's own trace time (shared time + the run's origin). The details panel and
the source view are pointed at another run when the selection moves to it; an output view is built from one trace,
so there is one per run and only the selected run's is displayed: moving to another run switches views, it never
rebuilds one.
"""

from __future__ import annotations

from bisect import bisect_right

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import ContentSwitcher

from viz.app.details import DetailsPanel
from viz.app.output import OutputView
from viz.app.palette import TaskColors
from viz.app.source import SourceView
from viz.app.timescale import fmt_instant
from viz.app.where import Whereabouts, source_at
from viz.trace.model import STATES, Lane
from viz.trace.totals import Totals
from viz.views.cells import LOOP_WORDS
from viz.views.compare import Run
from viz.views.durations import fmt_duration

COUNTED_LANES = 1000  # a header row's "what its tasks are doing" counts at most this many lanes


class RunDetails(DetailsPanel):
    """The details panel of one run of a comparison: the selected lane's span, or on a header row the run itself."""

    CAUSE_HINT = ""  # w counts time from the work's start here: no jump to a cause

    def __init__(self, run: Run, totals: Totals, place: tuple[int, int], *, id: str | None = None) -> None:
        super().__init__(run.trace, totals, id=id)
        self.run = run
        self.place = place  # (its index, how many runs)

    def retarget(self, run: Run, totals: Totals, place: tuple[int, int]) -> None:
        """Show another run from now on (the next show() draws it)."""
        if run is self.run:
            return
        self.run, self.trace, self.totals, self.place = run, run.trace, totals, place
        self._colors = None
        self._key = None
        self._shown = None

    def _text(self, lane: Lane | None, t: float, live: bool, index: int | None = None) -> Text:
        if lane is None:
            return self._run_text(t)
        return super()._text(lane, t, live, index)

    def _run_text(self, t: float) -> Text:
        """A header row: the run's name, what its tasks are doing at t (its own time), what changed at t, and its
        verdict."""
        run, trace = self.run, self.trace
        dim = self.get_component_rich_style("details--dim")
        out = Text(no_wrap=False)
        out.append(run.name, style=self.get_component_rich_style("details--title"))
        out.append(f"  run {self.place[0] + 1} of {self.place[1]}\n", style=dim)
        counts = dict.fromkeys(("running", "ready", "blocked", LOOP_WORDS, "idle", "not started", "ended"), 0)
        for lane in trace.lanes[:COUNTED_LANES]:
            if lane.ended is not None and t >= lane.ended:
                counts["ended"] += 1
                continue
            i = bisect_right(lane.starts, t) - 1
            if i < 0:
                counts["not started"] += 1
                continue
            counts[LOOP_WORDS if lane.flags[i] else STATES[lane.states[i]]] += 1  # the span's state, from its columns
        out.append(f"at {fmt_instant(t)}: ")
        out.append(" · ".join(f"{n} {name}" for name, n in counts.items() if n) or "no tasks")
        out.append("\n")
        for line in self.changes(t):
            out.append_text(line)
            out.append("\n")
        out.append(f"wall time {fmt_duration(run.wall)} · {run.verdict_words()}{run.ending}\n", style=dim)
        out.append("↓ its lanes: a task's span, line and totals", style=dim)
        return out


class ComparePanels(Grid):
    """Details, source and output of the selected row's run (`show`); the screen lays them out (app.tcss)."""

    def __init__(self, runs: list[Run], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs = runs
        self.run_index = 0
        self._totals: dict[int, Totals] = {}
        self._where: dict[int, Whereabouts] = {}
        self._colors: dict[int, TaskColors] = {}

    def compose(self) -> ComposeResult:
        yield RunDetails(self.runs[0], self._totals_of(0), (0, len(self.runs)), id="compare-details")
        yield SourceView(id="compare-source")
        with ContentSwitcher(initial=self._output_id(0), id="compare-outputs"):
            for i, run in enumerate(self.runs):
                view = OutputView(run.trace, id=self._output_id(i))
                view.border_title = f"output · {run.name}"
                yield view

    @staticmethod
    def _output_id(r: int) -> str:
        return f"compare-output-{r}"

    def _totals_of(self, r: int) -> Totals:
        totals = self._totals.get(r)
        if totals is None:
            totals = self._totals[r] = Totals(self.runs[r].trace)
        return totals

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._colors.clear()  # the source marks' task colours come from the theme

    @property
    def output(self) -> OutputView:
        """The output view of the run shown."""
        return self.query_one(f"#{self._output_id(self.run_index)}", OutputView)

    @property
    def source(self) -> SourceView:
        return self.query_one(SourceView)

    def show(self, r: int, lane: Lane | None, t: float) -> None:
        """Run r, at t of its own trace time, with `lane` selected (None: its header row)."""
        run = self.runs[r]
        if r != self.run_index:
            before = self.output
            self.run_index = r
            self.query_one(ContentSwitcher).current = self._output_id(r)
            if self.screen.maximized is before:  # the output over the whole screen (o) follows the selection
                self.screen.maximize(self.output, container=False)
        details = self.query_one(RunDetails)
        details.retarget(run, self._totals_of(r), (r, len(self.runs)))
        details.border_title = f"{run.name}  ↑↓"
        details.show(lane, t, False)
        self.output.show_until(t)
        self._show_source(r, lane, t)

    def _show_source(self, r: int, lane: Lane | None, t: float) -> None:
        """The file the selected task is in, its line highlighted, the run's other tasks at lines of that file
        marked (a header row: the run's main file, every task marked), as the run screen's source panel."""
        trace = self.runs[r].trace
        where = self._where.get(r)
        if where is None:
            where = self._where[r] = Whereabouts(trace)
        colors = self._colors.get(r)
        if colors is None:
            colors = self._colors[r] = TaskColors(trace, self.app.theme_variables)
        file, line, marks, title = source_at(where, lane, t, colors.style)
        self.source.show(file, trace.sources.get(file) if file else None, line, marks, title)


__all__ = ["ComparePanels", "RunDetails"]
