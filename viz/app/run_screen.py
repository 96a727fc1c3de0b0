"""The run screen: one trace (live or saved) as swimlanes, with the playhead's details, output, source and summary.

It owns the model side of a run: the Trace, the Playback, and (for a live run) the LiveFeed thread whose records it
folds into the Trace on the app thread. Widgets only draw; `_sync` tells each of them where the playhead is.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
from bisect import bisect_right

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static

from viz.app.details import DetailsPanel
from viz.app.feed import LiveFeed
from viz.app.lanes import LanePainter
from viz.app.legend import Legend
from viz.app.messages import RecordsWaiting
from viz.app.output import OutputView
from viz.app.palette import TaskColors
from viz.app.playback import Playback
from viz.app.saving import save_trace
from viz.app.source import Marks, SourceView
from viz.trace.totals import Totals
from viz.app.status import StatusBar
from viz.app.summary import SummaryPanel
from viz.app.timeline import Timeline
from viz.app.tuning import LiveTuning
from viz.ingest.session import Session
from viz.trace.model import Lane, Trace

FRAME = 1 / 30           # playback timer
LIVE_REFRESH = 0.1       # at most 10 redraws a second while records stream in
LIVE_SPACING = 4         # ...and at most one per 4x the time the last one took to prepare and paint
PAINT_FACTOR = 2         # the screen's painting of a redraw, as a multiple of the timeline's own render_line time
DRAIN_BUDGET = 0.015     # the longest the screen folds records in one go before it lets keys and redraws through
DRAIN_SLICE = 2_000      # records folded between two looks at that budget (and at keys arriving meanwhile)
DRAIN_REST = 1.0         # after a slice, the screen waits this many times as long as it took before the next
INPUT_HOLD = 0.05        # s: no folding or deriving after a key press or a click while records stream in
INPUT_STREAK = 0.5       # s: input that keeps coming (no gap of INPUT_HOLD) holds them this long at most
KEEP_HEIGHT = 1.5        # s: after a key press or a click, new lanes scroll the timeline rather than make it taller
MANY_LANES = 12          # lanes past which the timeline takes less of the screen and the summary more (app.tcss)
CATCH_UP_EVERY = 0.2     # s: while records stream in, the summary's totals are extended at most this often
LIVE_PANELS = 0.5        # details / summary / source redraws while records stream in (the timeline: LIVE_REFRESH)
PANEL_REFRESH = 0.1      # details / summary redraws while playing
PANEL_SPACING = 10       # ...and with light syncs at most one per 10x the time the last one took
MARKED_LANES = 200       # other tasks' lines are marked in the source for at most this many lanes
MIN_SIZE = (60, 16)


class RunScreen(Screen):
    BINDINGS = [
        Binding("space", "toggle_play", "play", priority=True),
        Binding("right", "step(1)", "step", key_display="←→", priority=True),
        Binding("left", "step(-1)", "step back", show=False, priority=True),
        Binding("home", "home", "start", show=False, priority=True),
        Binding("end", "end", "end", show=False, priority=True),
        Binding("plus,equals_sign", "zoom(0.5)", "zoom", key_display="+-", priority=True),
        Binding("minus,underscore", "zoom(2)", "zoom out", show=False, priority=True),
        Binding("f", "fit", "fit"),
        Binding("right_square_bracket", "speed(1)", "speed", key_display="[]", priority=True),
        Binding("left_square_bracket", "speed(-1)", "slower", show=False, priority=True),
        Binding("down", "lane(1)", "lane", key_display="↑↓", priority=True),
        Binding("up", "lane(-1)", "lane up", show=False, priority=True),
        Binding("s", "save", "save"),
        Binding("x", "stop_run", "stop run"),
        Binding("escape,b", "back", "back", key_display="esc"),
        Binding("question_mark", "help", "help", key_display="?"),
    ]
    AUTO_FOCUS = None
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (MIN_SIZE[0], "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (MIN_SIZE[1], "-short"), (30, "-tall")]

    def __init__(self, trace: Trace, name: str, session: Session | None = None, can_go_back: bool = False):
        super().__init__()
        self._size_classes()
        self.trace = trace
        self.run_name = name
        self.session = session
        self.live = session is not None
        self.can_go_back = can_go_back
        self.painter = LanePainter(trace)
        self.totals = Totals(trace)
        self.playback = Playback(trace, live=self.live)
        self.feed: LiveFeed | None = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._part: tuple[list, int, bool] | None = None  # a batch folded in part: (records, next, done)
        self._next_catch_up = 0.0  # the summary's totals are next extended after a drain then (perf_counter)
        self._rest_until = 0.0  # no folding before then (perf_counter): the app's thread is left to keys and redraws
        self._input_until = 0.0  # the same, set by input_arriving (from the terminal's input thread too)
        self._input_since = self._last_input = 0.0  # when the current streak of input began; the latest input
        self._nudge_pending = False  # a drain is asked for through the event loop
        self._nudged = False
        self._next_live_draw = 0.0
        self._tuning = LiveTuning()  # interpreter settings while a live run streams records in
        self._dirty = False
        self._next_panels = 0.0  # with light syncs, the panels wait until then
        self._colors: TaskColors | None = None

    def _size_classes(self) -> None:
        """Start with the breakpoint classes the terminal's size gives (as Textual would set them on the first
        resize), so the screen is styled once rather than twice before its first frame."""
        try:
            width, height = self.app.size
        except Exception:  # no running app (yet): Textual sets them on the first resize
            return
        for dimension, breakpoints in ((width, self.HORIZONTAL_BREAKPOINTS), (height, self.VERTICAL_BREAKPOINTS)):
            for edge, name in sorted(breakpoints, reverse=True):
                if dimension >= edge:
                    self.add_class(name)
                    break

    @classmethod
    def live_run(cls, script: str, name: str, args: list[str] | None = None, timeout: float | None = None,
                 can_go_back: bool = False) -> "RunScreen":
        session = Session(script, args or [], name=name, timeout=timeout)
        return cls(Trace(session.header), name, session=session, can_go_back=can_go_back)

    # ---- layout ---------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(self.trace, self.run_name, id="status")
        yield Timeline(self.trace, self.painter, id="timeline")
        yield Legend(id="legend")
        with Grid(id="panels"):
            yield DetailsPanel(self.trace, self.totals, id="details")
            yield SourceView(id="source")
            yield OutputView(self.trace, id="output")
            yield SummaryPanel(self.trace, self.totals, id="summary")
        yield Footer(compact=True, show_command_palette=False)
        yield Static(f"viz needs a terminal of at least {MIN_SIZE[0]}x{MIN_SIZE[1]}.\nMake this window larger, "
                     "or press q to quit.", id="too-small")

    def on_mount(self) -> None:
        self.query_one("#details").border_title = "selected task  ↑↓"
        self.query_one("#output").border_title = "output"
        self.query_one("#summary").border_title = "summary"
        self._play_timer = self.set_interval(FRAME, self._on_play_tick, pause=True)
        timeline = self.query_one(Timeline)
        self._many_lanes()
        timeline.sync()
        if self.trace.truncated_at:
            self.notify(f"The trace file ends mid-record at line {self.trace.truncated_at} (the run was cut short); "
                        "showing everything before it.", severity="warning", timeout=10)
        if self.session is None:
            self._tell_notes(self.trace.notes)
        if self.session is not None:
            self._tuning.apply(time.monotonic())  # the app's thread gets the interpreter back from the feed sooner
            self.feed = LiveFeed(self.session, self._deliver, backlog=self._inbox.qsize).start()
            self._live_timer = self.set_interval(LIVE_REFRESH, self._on_live_tick)
        self._sync()

    def on_unmount(self) -> None:
        self.close_run()

    # ---- the live feed --------------------------------------------------------------------------------------
    def _deliver(self, records: list[dict], done: bool) -> None:
        """Called on the feed thread: queue the records and wake the screen (once until it drains)."""
        self._inbox.put((records, done))
        if not self._nudged or done:
            self._nudged = True
            try:
                self.post_message(RecordsWaiting())
            except RuntimeError:  # the app's loop is gone: nobody to tell
                pass

    def on_records_waiting(self, message: RecordsWaiting) -> None:
        started = time.perf_counter()
        rest_until = max(self._rest_until, self._input_until)
        if started < rest_until:  # folded a moment ago, or a key came: keys and redraws go first
            self._nudge_later(rest_until - started)
            return
        with self._feed_paused():  # the slices then take what the budget says, and a key waits for one at most
            more = self._drain(budget=DRAIN_BUDGET)
        done = time.perf_counter()
        # rest as long as the folding took, so the app's thread folds at most about half the time and a key and
        # the redraw after it find the interpreter free however fast records come (the feed thread waits for the
        # folding meanwhile)
        self._rest_until = done + DRAIN_REST * (done - started)
        if more:
            self._nudge_later(self._rest_until - done)

    def _on_timer_update(self) -> None:
        """Textual's (pinned) screen update, layout then painting what changed: while records stream in, the feed
        thread derives nothing meanwhile, so a layout (new lanes, a scroll) or a repaint is not slowed to half speed
        by it and a key pressed meanwhile waits less."""
        with self._feed_paused():
            super()._on_timer_update()

    @contextlib.contextmanager
    def _feed_paused(self):
        feed = self.feed if self.live else None
        if feed is not None:
            feed.pause()
        try:
            yield
        finally:
            if feed is not None:
                feed.resume()

    def input_arriving(self, now: float | None = None) -> None:
        """A key press or click has arrived (called on the terminal's input thread as it is read, before the app's
        queue gets to it): while records stream in, the feed thread derives nothing and the screen's folding stops
        at its next slice for a moment, so what the input asks for is drawn at once. Input that keeps coming (a
        held key repeating, a scroll wheel) pauses them for its first INPUT_STREAK seconds only: the records must
        keep flowing, or the program would soon wait on a full pipe. Only reads and sets times: safe from any
        thread. `now`: time.perf_counter() of the input."""
        feed = self.feed
        if self.live and feed is not None:
            now = time.perf_counter() if now is None else now
            if now - self._last_input > INPUT_HOLD:
                self._input_since = now  # a new streak of input
            self._last_input = now
            if now - self._input_since <= INPUT_STREAK:
                feed.hold(INPUT_HOLD)
                self._input_until = now + INPUT_HOLD

    def user_input(self) -> None:
        """The app is handling a key press or click (called before it is): the pause of input_arriving is renewed
        to cover its action and redraw, and the timeline keeps its height for a while."""
        if self.live and self.feed is not None:
            self.input_arriving()
            for timeline in self.query(Timeline):
                timeline.keep_height(KEEP_HEIGHT)

    def _nudge_later(self, delay: float) -> None:
        """Ask for a drain after `delay` s through the event loop, not straight into this screen's queue: a screen
        repaints only once its queue runs empty (Textual's idle)."""
        self._nudged = True  # the feed thread need not ask meanwhile
        if not self._nudge_pending:
            self._nudge_pending = True
            asyncio.get_running_loop().call_later(delay, self._nudge)

    def _nudge(self) -> None:
        self._nudge_pending = False
        try:
            self.post_message(RecordsWaiting())
        except RuntimeError:  # the app's loop is gone: nobody to tell
            pass

    def _drain(self, redraw: bool = True, budget: float | None = None) -> bool:
        """Fold the queued batches into the trace (on the app thread); redraw unless the screen is going away.

        With a budget, it stops after that many seconds and says True: more is waiting, to be folded after
        whatever else is waiting (a key press, a repaint), so a flood of records slows the catching up, not the app."""
        self._nudged = False
        finished = more = False
        deadline = time.perf_counter() + budget if budget is not None else None
        while True:
            if deadline is not None and not self._input_until <= time.perf_counter() <= deadline:
                more = True  # out of time, or a key arrived: it goes first
                break
            if self._part is not None:  # the rest of a batch folded in part
                records, start, done = self._part
            else:
                try:
                    records, done = self._inbox.get_nowait()
                except queue.Empty:
                    break
                start = 0
            if budget is not None and len(records) - start > DRAIN_SLICE:  # the budget is checked every slice
                self._part = (records, start + DRAIN_SLICE, done)
                records, done = records[start:start + DRAIN_SLICE], False
            else:
                self._part = None
                records = records[start:] if start else records
            if records:
                notes_before = len(self.trace.notes)
                self.trace.add_many(records, hold=True)  # the lanes' columns are written once, below
                self._dirty = True
                self._tell_notes(self.trace.notes[notes_before:])
            finished = finished or done
        self.trace.flush()
        if self._dirty and self.live and max(self._next_catch_up, self._input_until) <= time.perf_counter():
            # the summary's running totals grow with the records, not seconds of them at once when it is drawn
            self.totals.catch_up()
            self._next_catch_up = time.perf_counter() + CATCH_UP_EVERY
        if self.feed is not None:
            self.feed.made_room()
        if finished and self.live:
            self.live = False
            self._tuning.restore()
            self.playback.run_ended()
            self._dirty = True
            if not redraw:
                return more
            self._on_live_tick()
            self.refresh_bindings()
            if self.feed is not None and self.feed.error is not None:
                self.notify(f"The recorder failed: {self.feed.error}", severity="error", timeout=10)
        return more

    def _tell_notes(self, notes: list[dict]) -> None:
        """What the recorder says about the run itself (a flood was cut, a hook failed) is shown, not buried."""
        for note in notes:
            severity = "error" if note.get("level") == "error" else "warning"
            self.notify(note["text"], title="recorder", severity=severity, timeout=12)

    def _on_live_tick(self) -> None:
        with self._feed_paused():  # the redraw's preparing (panels, totals) goes at full speed too
            self._live_tick()

    def _live_tick(self) -> None:
        started = time.monotonic()
        if self.live and (started < self._next_live_draw or time.perf_counter() < self._input_until):
            return  # the last redraw was costly, or a key came: keys and the catching up go first
        if self.live and self.feed is not None:
            now = self.feed.clock()
            if now is not None and now > self.trace.end_time + LIVE_REFRESH / 2:
                self.trace.advance(now)  # a silent program (a blocking call) still lets time pass on screen
                self._dirty = True
        if not self._dirty:
            return
        self._dirty = False
        timeline = self.query_one(Timeline)
        painted = timeline.take_paint_time()  # the last redraw's painting, done by the screen after the last tick
        self._many_lanes()
        timeline.sync()
        self.playback.tick(time.monotonic())
        self._sync(light=self.live, every=LIVE_PANELS)
        if not self.live:
            self._live_timer.stop()
        # a big run makes each redraw dearer: space them out so preparing and painting them takes at most about a
        # quarter of the app thread (Textual's compositing about doubles the timeline's own painting)
        cost = time.monotonic() - started + PAINT_FACTOR * painted
        self._next_live_draw = started + max(LIVE_REFRESH, LIVE_SPACING * cost)
        self._tuning.settle(time.monotonic())

    def _many_lanes(self) -> None:
        """Past a screenful of lanes the timeline scrolls anyway: it then leaves more room to the summary, whose
        busiest tasks say more than a few more lanes would (app.tcss, `-many-lanes`)."""
        many = len(self.trace.lanes) > MANY_LANES
        if many != self.has_class("-many-lanes") and not self.query_one(Timeline).keeping_height:
            self.set_class(many, "-many-lanes")  # the whole screen is laid out again: not while the user acts

    def close_run(self) -> None:
        """End the program if it still runs and wait for it (the app must leave no child process behind)."""
        if self.feed is not None:
            self.feed.close()
            self._drain(redraw=self.is_mounted and self.is_attached and bool(self.children))
        self._tuning.restore()

    # ---- playback -------------------------------------------------------------------------------------------
    def _on_play_tick(self) -> None:
        pb = self.playback
        if pb.tick(time.monotonic()):
            self._sync(light=True)
        if not pb.playing:
            self._play_timer.pause()
            self._sync()

    def _sync(self, light: bool = False, every: float = PANEL_REFRESH) -> None:
        """Bring every view in step with the playhead (with `light`, the panels at most once per `every` s)."""
        pb = self.playback
        t = pb.t
        timeline = self.query_one(Timeline)
        timeline.set_playhead(t)
        self.query_one(StatusBar).show(pb, self.live)
        self.query_one(OutputView).show_until(t)
        now = time.monotonic()
        if light and now < self._next_panels:
            return
        lane = timeline.selected_lane
        self.query_one(DetailsPanel).show(lane, t, self.live)
        self.query_one(SummaryPanel).show(t)
        self._show_source(lane, t)
        # panels that take long to update (a thousand tasks' totals) are updated less often, not the keys slowed
        self._next_panels = now + max(every, PANEL_SPACING * (time.monotonic() - now))

    def _show_source(self, lane: Lane | None, t: float) -> None:
        trace = self.trace
        if self._colors is None:
            self._colors = TaskColors(trace, self.app.theme_variables)
        file, line = _where(trace, lane, t) if lane is not None else (None, None)
        if file not in trace.sources:
            file, line = trace.main_file, None
        marks: Marks = {}
        for other in trace.lanes[:MARKED_LANES]:
            if other is lane or other.ended is not None and other.ended < t:
                continue
            f, ln = _where(trace, other, t)
            if f == file and ln:
                marks.setdefault(ln, []).append((other.name, self._colors.style(other.task)))
        title = file or "source"
        if lane is not None and line:
            title += f" · {lane.name} at line {line}"
        source = self.query_one(SourceView)
        waiting = self.live and not trace.sources
        source.empty_message = "waiting for the source…" if waiting else "no source recorded"
        source.show(file, trace.sources.get(file) if file else None, line, marks, title)

    # ---- actions --------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "stop_run":
            return self.live
        if action == "back":
            return self.can_go_back
        return True

    def action_toggle_play(self) -> None:
        self.playback.toggle(time.monotonic())
        if self.playback.playing:
            self._play_timer.resume()
        self._sync()

    def action_step(self, direction: int) -> None:
        if not self.playback.step(direction):
            self.app.bell()
        self._sync()

    def action_home(self) -> None:
        self.playback.home()
        self._sync()

    def action_end(self) -> None:
        self.playback.end_()
        self._sync()

    def action_zoom(self, factor: float) -> None:
        self.query_one(Timeline).zoom(factor)

    def action_fit(self) -> None:
        self.query_one(Timeline).fit_all()

    def action_speed(self, by: int) -> None:
        self.playback.faster(by)
        self._sync()

    def action_lane(self, by: int) -> None:
        timeline = self.query_one(Timeline)
        timeline.select(timeline.selected + by)
        self._sync()

    def action_save(self) -> None:
        path = self.save()
        more = " (the run is still going: this is what arrived so far)" if self.live else ""
        self.notify(f"Saved the trace to {path}{more}.\nOpen it again with: viz show {path}", title="saved",
                    timeout=8)

    def save(self) -> str:
        return str(save_trace(self.trace, self.run_name))

    def action_stop_run(self) -> None:
        if self.feed is not None and self.live:
            self.feed.stop("stopped")
            self.notify("Stopping the program…", timeout=3)

    def action_back(self) -> None:
        if self.can_go_back:
            self.app.pop_screen()

    def action_help(self) -> None:
        from viz.app.help import HelpScreen

        self.app.push_screen(HelpScreen())

    @on(Timeline.Clicked)
    def _clicked(self, event: Timeline.Clicked) -> None:
        timeline = self.query_one(Timeline)
        if event.row is not None:
            timeline.select(event.row)
        if event.time is not None:
            self.playback.seek(event.time)
        self._sync()


def _where(trace: Trace, lane: Lane, t: float) -> tuple[str | None, int | None]:
    """The file and line the task is at, at instant t: its span's line, or the last line it was seen at.

    A task that has ended stays at its last line; one that has not started yet is nowhere.
    """
    i = bisect_right(lane.starts, t) - 1
    if i < 0:
        return None, None
    lines, files = lane.lines, lane.files
    for j in range(i, max(-1, i - 50), -1):
        if lines[j]:
            return trace.string(files[j]) or trace.main_file, lines[j]
    return None, None
