"""The compare screen (`viz compare A B`, or a comparison picked in the picker): runs stacked on one time axis.

The timeline is one Line-API widget (`CompareTimeline`, a Timeline over several traces): a header row per run (its
name, wall time and verdict), its lanes under it, drawn by each run's own LanePainter. Time on the axis is shared
time: it counts from each run's start, or (w) from the start of each run's counted work, so a run's trace time is
shared time plus the run's origin. One playhead moves over all runs: play, step to the next event of any run, zoom
and fit. Under it, the panels follow the selected row's run (viz.app.compare_panels: its details, source and
output at the playhead, in that run's time), or, with t, the comparison table (viz.views.compare). `RecordingScreen`
records a comparison's scenarios one after another, with progress, before the compare screen opens.
"""

from __future__ import annotations

import threading
import time
from itertools import accumulate
from operator import itemgetter

from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Footer, Static

from viz.app.compare_panels import ComparePanels
from viz.app.lanes import SAME_CELLS, LanePainter, display_order
from viz.app.legend import Legend
from viz.app.palette import TaskColors
from viz.app.names import short_names
from viz.app.theme import HIGH_CONTRAST
from viz.app.playback import REAL_TIME, SPEEDS, speed_label, window
from viz.app.timeline import NAME_MAX, NAME_SHARE, Timeline
from viz.app.timescale import fit, fmt_instant
from viz.trace.model import Lane, Trace
from viz.views.compare import Run, comparison_tables, task_times

FRAME = 1 / 30  # playback timer
PANEL_REFRESH = 0.1  # the panels' redraws while playing (as the run screen's)
RECORD_TIMEOUT = 120.0  # a run recorded for a comparison picked in the picker is stopped after this long
WARM_BUDGET = 0.004
_WIDTH = itemgetter(3)


class CompareTimeline(Timeline):
    """Swimlanes of several runs on one time axis. Row 0 is the axis; then per run a header row and its lanes.

    `rows[i]` is a Lane, or None for a run's header row; `row_run[i]` is the run the row belongs to. The view, the
    playhead and clicks are in shared time; run r's lanes are drawn from trace time view.t0 + origins[r]."""

    COMPONENT_CLASSES = Timeline.COMPONENT_CLASSES | {"compare--head"}

    def __init__(self, runs: list[Run], from_work: bool = False, *, id: str | None = None) -> None:
        super().__init__(runs[0].trace, id=id)
        self.runs = runs
        self.painters = [LanePainter(run.trace) for run in runs]
        self.from_work = from_work
        self.origins = [run.origin(from_work) for run in runs]
        self.row_run: list[int] = []
        self._heads: dict[tuple, Strip] = {}
        self._name_heads: dict[tuple, list[Segment]] = {}
        self._colors: list[TaskColors] | None = None

    # ---- rows and time --------------------------------------------------------------------------------------
    def sync(self) -> None:
        rows: list[Lane | None] = []
        row_run: list[int] = []
        for i, run in enumerate(self.runs):
            rows.append(None)
            row_run.append(i)
            lanes = display_order(run.trace.lanes)
            rows.extend(lanes)
            row_run.extend([i] * len(lanes))
        self.rows, self.row_run = rows, row_run
        self.selected = min(self.selected, max(0, len(rows) - 1))
        self._names = [lane.name if lane is not None else "" for lane in rows]
        self._size_names()
        size = Size(self._width, len(rows) + 1)
        if self.virtual_size != size:
            self.virtual_size = size
        if self.fitted:
            self._fit()
        self.refresh()

    def _size_names(self) -> None:
        names = [name for name in self._names if name]
        longest = max(map(len, names), default=4)
        self._name_width = min(max(NAME_MAX, self._width // NAME_SHARE), max(6, longest + 2))
        shown = iter(short_names(names, self._name_width - 2))
        self._shown_names = [next(shown) if name else "" for name in self._names]

    def _names_changed(self) -> bool:
        return False  # saved runs: their names are final

    def _virtual_height(self) -> int:
        return len(self.rows) + 1

    def time_range(self) -> tuple[float, float]:
        """Shared time from the earliest run's activity to the end of the longest run."""
        start = min(window(run.trace)[0] - o for run, o in zip(self.runs, self.origins))
        end = max(run.trace.duration - o for run, o in zip(self.runs, self.origins))
        return min(start, self.reach), max(end, start)

    def fit_all(self) -> None:
        """Fit every run, from its first instant."""
        self.fitted = True
        self.reach = min(min((lane.starts[0] for lane in run.trace.lanes if lane.starts), default=0.0) - o
                         for run, o in zip(self.runs, self.origins))
        self._fit()
        self.refresh()

    def fit_work(self) -> None:
        """Fit the counted work of every run (from the earliest work start to the latest work end)."""
        starts, ends = [], []
        for run, o in zip(self.runs, self.origins):
            if run.judged is not None:
                starts.append(run.judged.start - o)
                ends.append(run.judged.end - o)
        if not starts:
            self.fit_all()
            return
        self.view = fit(min(starts), max(ends), self.cells)
        self.fitted = False
        self.refresh()

    def set_origin(self, from_work: bool) -> None:
        """Count time from each run's start or from the start of its counted work, and fit the runs again."""
        self.from_work = from_work
        self.origins = [run.origin(from_work) for run in self.runs]
        self._lane_cache.clear()
        self.fitted = True
        self.reach = float("inf")
        self._fit()
        self.refresh()

    def trace_time(self, row: int, t: float) -> float:
        """Shared time t as the trace time of the run that row belongs to."""
        return t + self.origins[self.row_run[row]]

    def run_of_row(self, row: int) -> Run:
        return self.runs[self.row_run[row]]

    # ---- drawing --------------------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._heads.clear()
        self._name_heads = {}
        self._colors = None

    def _render_line(self, y: int) -> Strip:
        width = self._width
        self._ensure_view()
        st = self.styles_table
        if y == 0:
            return self._axis_strip(width, st)
        row = int(self.scroll_y) + y - 1
        if row >= len(self.rows):
            return Strip.blank(width, st.base)
        if self.rows[row] is None:
            return self._head_strip(row)
        return self._lane_strip(row, st)

    def _head_strip(self, row: int) -> Strip:
        run = self.run_of_row(row)
        key = (row, self._width, row == self.selected)
        strip = self._heads.get(key)
        if strip is None:
            style = self.get_component_rich_style("compare--head")
            if row == self.selected:
                style = style + self.get_component_rich_style("timeline--selected")
            text = ("▶ " if row == self.selected else "▸ ") + run.header(self._width - 2)
            text = text[: self._width].ljust(self._width)
            strip = self._heads[key] = Strip([Segment(text, style)], self._width)
        return strip

    def _lane_strip(self, row: int, st) -> Strip:
        from viz.app.timeline import _splice  # the playhead's cell, spliced as the one-trace timeline does

        lane = self.rows[row]
        r = self.row_run[row]
        view = self.view
        key = (view.t0, view.dt, view.width, tuple(self.origins))
        if key != self._cache_key:
            self._cache_key = key
            self._lane_cache.clear()
        lane_key = (r, lane.task)
        cached = self._lane_cache.get(lane_key)
        if cached is None:
            cached = self._lane_cache[lane_key] = [*self._run_segments(r, lane, st), None, None]
            if self.painters[r].behind:
                self._warm_later()
        segments, ends, strip_key, strip = cached
        px = view.cell_of(self.playhead)
        selected = row == self.selected
        name = self.shown_name(row)
        if strip_key == (px, selected, name):
            return strip
        if 0 <= px < view.width:
            segments = _splice(segments, ends, px, None, st.playhead)
        strip = Strip(self._name_head(r, lane, name, selected, st) + segments, self._width)
        cached[2:] = (px, selected, name), strip
        return strip

    def _name_head(self, r: int, lane: Lane, shown: str, selected: bool, st) -> list[Segment]:
        """The lane's name column, in its task's colour within its own run (tasks in the same order in two runs
        get the same colour), or '▶name' when it is the selected row."""
        width = self.name_width
        key = (r, lane.task, shown, width, selected)
        head = self._name_heads.get(key)
        if head is None:
            if self._colors is None:
                self._colors = [TaskColors(run.trace, self.app.theme_variables) for run in self.runs]
            name = shown[: width - 2].ljust(width - 1)
            if selected:
                head = [Segment("▶" + name, st.selected)]
            else:
                head = [Segment(" ", st.name), Segment(name, st.name + self._colors[r].style(lane.task))]
            self._name_heads[key] = head
        return head

    def _run_segments(self, r: int, lane: Lane, st) -> tuple[list[Segment], list[int]]:
        """The lane's cells in this view (from its run's trace time) as segments, and where each ends."""
        view = self.view
        painter = self.painters[r]
        t0 = view.t0 + self.origins[r]
        row = painter.row(lane, t0, view.dt, view.width)
        if row is None:
            runs = painter.runs(lane, t0, view.dt, view.width)
            return list(map(st.runs.__getitem__, runs)), list(accumulate(map(_WIDTH, runs)))
        pieces = SAME_CELLS.findall(row)
        segments = list(map(st.bars.__getitem__, pieces))
        widths = list(map(len, pieces))
        for i, runs in reversed(painter.row_labels(lane, pieces, widths, t0, view.dt)):
            segments[i:i + 1] = map(st.runs.__getitem__, runs)
            widths[i:i + 1] = [run[3] for run in runs]
        return segments, list(accumulate(widths))

    def _warm(self) -> None:
        """Build lane summaries in the background, a few milliseconds at a time, run by run."""
        more = False
        for painter in self.painters:
            if painter.behind:
                more = painter.warm(WARM_BUDGET / len(self.painters)) or more
        if more:
            self.set_timer(0.02, self._warm)
        else:
            self._warming = False


def step_time(runs: list[Run], origins: list[float], t: float, direction: int) -> float | None:
    """The shared time of the next (+1) or previous (-1) event of any run after / before shared time t."""
    best = None
    for run, o in zip(runs, origins):
        trace = run.trace
        s = trace.next_step(t + o) if direction > 0 else trace.prev_step(t + o)
        # shared time and back may round: skip an event that lands on t again
        while s is not None and (s - o <= t if direction > 0 else s - o >= t):
            s = trace.next_step(s) if direction > 0 else trace.prev_step(s)
        if s is not None:
            s -= o
            if best is None or (s < best if direction > 0 else s > best):
                best = s
    return best


def comfortable_speed(length: float, seconds: float = 2.0) -> int:
    """The fastest speed (index) at or below real time that takes at least `seconds` to play `length`."""
    for i in range(REAL_TIME, -1, -1):
        if length / SPEEDS[i] >= seconds:
            return i
    return 0


class CompareScreen(Screen):
    """Runs side by side on one time axis, with one playhead; under them the selected row's run's panels, or the
    comparison table (t)."""

    BINDINGS = [
        Binding("space", "toggle_play", "play", priority=True),
        Binding("t", "toggle_table", "table / panels"),
        Binding("right", "step(1)", "step", key_display="←→", priority=True),
        Binding("left", "step(-1)", "step back", show=False, priority=True),
        Binding("down", "row(1)", "row", key_display="↑↓", priority=True),
        Binding("up", "row(-1)", "row up", show=False, priority=True),
        Binding("plus,equals_sign", "zoom(0.5)", "zoom", key_display="+-", priority=True),
        Binding("minus,underscore", "zoom(2)", "zoom out", show=False, priority=True),
        Binding("f", "fit", "fit work"),
        Binding("a", "fit_all", "fit all", show=False),
        Binding("w", "toggle_origin", "from work / start"),
        Binding("right_square_bracket", "speed(1)", "speed", key_display="[]", priority=True),
        Binding("left_square_bracket", "speed(-1)", "slower", show=False, priority=True),
        Binding("home", "home", "start", show=False, priority=True),
        Binding("end", "end", "end", show=False, priority=True),
        Binding("pagedown", "table(1)", "scroll table", key_display="pgdn/up"),
        Binding("pageup", "table(-1)", "table up", show=False),
        Binding("o", "maximize('output')", "maximise output", show=False),
        Binding("e", "maximize('source')", "maximise source", show=False),
        Binding("escape,b", "back", "back", key_display="esc"),
        Binding("question_mark", "help", "help", key_display="?"),
    ]
    AUTO_FOCUS = None
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide"), (200, "-wider")]  # app.tcss: the panels' widths

    def __init__(self, runs: list[Run], from_work: bool = False, can_go_back: bool = False):
        super().__init__()
        self.runs = runs
        self.from_work = from_work
        self.can_go_back = can_go_back
        self.t = 0.0
        self.playing = False
        self._last: float | None = None
        self.speed_index = REAL_TIME
        self._times = task_times(runs)  # the tasks matched by name, for the table (made once)
        self._table_width = 0
        self._next_panels = 0.0  # while playing, the panels wait until then

    def compose(self) -> ComposeResult:
        yield Static(id="compare-status")
        yield CompareTimeline(self.runs, self.from_work, id="compare-timeline")
        yield Legend(id="compare-legend")
        yield ComparePanels(self.runs, id="compare-panels")
        with VerticalScroll(id="compare-table"):
            yield Static(id="compare-figures")
        yield Footer(compact=True)

    @property
    def timeline(self) -> CompareTimeline:
        return self.query_one(CompareTimeline)

    def on_resize(self) -> None:
        """The table fits the width: a cell per run when it can, else a row per task and state."""
        width = max(self.size.width - 4, 20)  # the border and the scrollbar
        if width != self._table_width:
            self._table_width = width
            self.query_one("#compare-figures", Static).update(comparison_tables(self.runs, width, times=self._times))

    def on_mount(self) -> None:
        self.query_one("#compare-table").border_title = "compared  (t: the panels again)"
        self.on_resize()
        timeline = self.timeline
        timeline.sync()
        start, end = timeline.time_range()
        self.speed_index = comfortable_speed(end - start)
        self.t = end
        self._play_timer = self.set_interval(FRAME, self._on_play_tick, pause=True)
        self._sync()

    # ---- the playhead ---------------------------------------------------------------------------------------
    @property
    def start(self) -> float:
        return self.timeline.time_range()[0]

    @property
    def end(self) -> float:
        return max(run.trace.duration - o for run, o in zip(self.runs, self.timeline.origins))

    @property
    def table_shown(self) -> bool:
        return self.has_class("-table")

    def _sync(self, light: bool = False) -> None:
        """Bring the timeline, the status line and the panels in step with the playhead and the selected row (with
        `light`, while playing, the panels at most once per PANEL_REFRESH)."""
        timeline = self.timeline
        timeline.set_playhead(self.t)
        origin = "counted work's start" if self.from_work else "start"
        state = "▶ playing" if self.playing else "paused"
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" viz compare", style="bold")
        speed = speed_label(SPEEDS[self.speed_index])
        text.append(f" · {len(self.runs)} runs · {fmt_instant(self.t)} · {state} {speed}")
        text.append(f" · time from each run's {origin} (w)")
        self.query_one("#compare-status", Static).update(text, layout=False)  # one row: no new layout
        now = time.monotonic()
        if self.table_shown or not timeline.rows or light and now < self._next_panels:
            return
        row = timeline.selected
        r = timeline.row_run[row]
        self.query_one(ComparePanels).show(r, timeline.rows[row], timeline.trace_time(row, self.t))
        self._next_panels = now + max(PANEL_REFRESH, 10 * (time.monotonic() - now))

    def _on_play_tick(self) -> None:
        if not self.playing:
            self._play_timer.pause()
            return
        now = time.monotonic()
        last = self._last if self._last is not None else now
        self._last = now
        self.t = min(self.t + (now - last) * SPEEDS[self.speed_index], self.end)
        if self.t >= self.end:
            self.playing = False
            self._play_timer.pause()
        self._sync(light=self.playing)

    def action_toggle_play(self) -> None:
        if self.playing:
            self.playing = False
            self._play_timer.pause()
        else:
            if self.t >= self.end:
                self.t = self.start
            self.playing = True
            self._last = time.monotonic()
            self._play_timer.resume()
        self._sync()

    def action_step(self, direction: int) -> None:
        self.playing = False
        t = step_time(self.runs, self.timeline.origins, self.t, direction)
        if t is None:
            self.app.bell()
        else:
            self.t = t
        self._sync()

    def action_home(self) -> None:
        self.playing = False
        self.t = self.start
        self._sync()

    def action_end(self) -> None:
        self.playing = False
        self.t = self.end
        self._sync()

    def action_speed(self, by: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + by))
        self._sync()

    def action_zoom(self, factor: float) -> None:
        self.timeline.zoom(factor)

    def action_fit(self) -> None:
        self.timeline.fit_work()

    def action_fit_all(self) -> None:
        self.timeline.fit_all()

    def action_row(self, by: int) -> None:
        timeline = self.timeline
        timeline.select(timeline.selected + by)
        self._sync()

    def action_toggle_table(self) -> None:
        """The comparison table in place of the panels, or the panels again."""
        if self.maximized is not None:  # a panel over the whole screen goes back first, or it would hide the table
            self.minimize()
        self.set_class(not self.table_shown, "-table")
        self.refresh_bindings()
        self._sync()

    def action_table(self, pages: int) -> None:
        """Scroll the comparison table a page down (1) or up (-1)."""
        table = self.query_one("#compare-table", VerticalScroll)
        table.scroll_to(y=table.scroll_y + pages * max(1, table.size.height - 1), animate=False)

    def action_toggle_origin(self) -> None:
        """Count time from each run's start, or from the start of its counted work: the playhead stays on the same
        moment of the selected row's run (or the new end, when that moment is past every run's end: the playhead
        stays in sight)."""
        timeline = self.timeline
        row = timeline.selected
        before = timeline.trace_time(row, self.t) if timeline.rows else self.t
        self.from_work = not self.from_work
        timeline.set_origin(self.from_work)
        self.t = before - timeline.origins[timeline.row_run[row]] if timeline.rows else self.t
        self.t = min(self.t, self.end)
        self._sync()

    def on_timeline_clicked(self, message: Timeline.Clicked) -> None:
        if message.row is not None:
            self.timeline.select(message.row)
        if message.time is not None:
            self.playing = False
            self.t = min(max(message.time, self.start), self.end)
        self._sync()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "back":
            return self.can_go_back or self.maximized is not None
        if action == "table":
            return self.table_shown
        return True

    def action_help(self) -> None:
        from viz.app.help import COMPARE_KEYS, HelpScreen

        self.app.push_screen(HelpScreen(COMPARE_KEYS))

    def action_maximize(self, panel: str) -> None:
        """The selected run's output or the source over the whole screen (the same key again, or esc, brings it
        back); ↑↓ still choose rows, and it follows them."""
        if self.table_shown:
            self.action_toggle_table()
        panels = self.query_one(ComparePanels)
        widget = panels.output if panel == "output" else panels.source
        if self.maximized is widget:
            self.minimize()
        else:
            self.maximize(widget, container=False)
        self.refresh_bindings()

    def action_back(self) -> None:
        if self.maximized is not None:  # esc first brings a maximised panel back
            self.minimize()
            self.refresh_bindings()
        elif self.can_go_back:
            self.app.pop_screen()


class RecordingScreen(Screen):
    """Records a comparison's scenarios one after another on a thread (never two at once), showing which one runs
    and how far it is; then the compare screen takes its place. Esc stops the recording and goes back."""

    BINDINGS = [Binding("escape", "cancel", "stop", key_display="esc")]

    def __init__(self, title: str, targets: list[tuple[str, str]], timeout: float | None = 120.0):
        super().__init__()
        self.title_text = title
        self.targets = targets  # (script path, name)
        self.timeout = timeout
        self.runs: list[Run] = []
        self.current: tuple[str, object, Trace] | None = None  # name, session, trace being recorded
        self._cancelled = threading.Event()
        self._thread: threading.Thread | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="recording-progress")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._thread = threading.Thread(target=self._record_all, name="viz compare recorder", daemon=True)
        self._thread.start()
        self.set_interval(0.2, self._show_progress)
        self._show_progress()

    def _record_all(self) -> None:
        from viz.ingest.session import RUN_BATCH, Session

        for path, name in self.targets:
            if self._cancelled.is_set():
                return
            session = Session(path, [], name=name, timeout=self.timeout)
            trace = Trace(session.header)
            self.current = (name, session, trace)
            try:
                session.start()
                while not session.done:
                    if self._cancelled.is_set() and session.stop_reason is None:
                        session.stop("stopped")
                    recs = session.poll(0.1, limit=RUN_BATCH)
                    if recs:
                        trace.add_many(recs)
            finally:
                session.close()
            self.runs.append(Run(name, trace))
        self.current = None
        if not self._cancelled.is_set():
            self.app.call_from_thread(self._done)

    def _show_progress(self) -> None:
        text = Text()
        text.append(f" {self.title_text}\n\n", style="bold")
        done = len(self.runs)
        for i, (_, name) in enumerate(self.targets):
            if i < done:
                run = self.runs[i]
                text.append(f"  ✓ {run.header()}\n")
            elif i == done and self.current is not None:
                _, session, trace = self.current
                text.append(f"  ● recording {name}… {session.elapsed:.1f} s, {len(trace.lanes)} tasks, "
                            f"{trace.step_count:,} events\n", style="bold")
            else:
                text.append(f"  · {name}\n", style="dim")
        text.append("\nEach run is recorded alone, one after another, so they do not slow each other.", style="dim")
        self.query_one("#recording-progress", Static).update(text)

    def _done(self) -> None:
        self.app.switch_screen(CompareScreen(self.runs, can_go_back=True))

    def action_cancel(self) -> None:
        self._cancelled.set()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        """Leaving (esc, or the app quits): the program being recorded is stopped and waited for, so no child process
        outlives the screen."""
        self._cancelled.set()
        if self._thread is not None:
            self._thread.join(5.0)


class CompareApp(App):
    """`viz compare A B`: the app on the compare screen of runs already recorded (q quits)."""

    CSS_PATH = "app.tcss"
    TITLE = "viz compare"
    BINDINGS = [Binding("q", "quit", "quit")]

    def __init__(self, runs: list[Run], from_work: bool = False):
        super().__init__()
        self.runs = runs
        self.from_work = from_work
        self.register_theme(HIGH_CONTRAST)

    def on_mount(self) -> None:
        self.push_screen(CompareScreen(self.runs, self.from_work))


def compare_app(runs: list[Run], from_work: bool = False) -> CompareApp:
    return CompareApp(runs, from_work)


def show_comparison(runs: list[Run], from_work: bool = False) -> int:
    """`viz compare A B`: open the app on the compare screen of runs already recorded."""
    app = compare_app(runs, from_work)
    app.run()
    return app.return_code or 0


__all__ = ["CompareApp", "CompareScreen", "CompareTimeline", "RecordingScreen", "compare_app", "show_comparison",
           "step_time"]
