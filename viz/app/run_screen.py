"""The run screen: one trace (live or saved) as swimlanes, with the playhead's details, output, source and summary.

It owns the model side of a run: the Trace, the Playback, and (for a live run) the LiveFeed whose ready-made records
it folds into the Trace on the app thread, when and as long as its LivePace says (viz.app.live). Widgets only draw;
`_sync` tells each of them where the playhead is.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left, bisect_right

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static

from viz.app.breakpoints import Breakpoints
from viz.app.details import DetailsPanel, shown_span
from viz.app.feed import LiveFeed
from viz.app.lanes import LanePainter
from viz.app.legend import Legend
from viz.app.live import KEEP_HEIGHT, LIVE_PANELS, LIVE_REFRESH, LivePace
from viz.app.messages import RecordsWaiting
from viz.app.output import OutputView
from viz.app.palette import TaskColors
from viz.app.playback import Playback
from viz.app.predict import Predict, PredictBar
from viz.app.theme import HIGH_CONTRAST
from viz.app.saving import save_trace
from viz.app.source import SourceView
from viz.trace.totals import Totals
from viz.app.status import StatusBar
from viz.app.summary import SummaryPanel
from viz.app.timeline import Timeline
from viz.app.tour import Tour, TourCaption, TourError, tour_of
from viz.app.tuning import LiveTuning
from viz.app.where import Whereabouts, source_at
from viz.ingest.session import Session
from viz.scenarios import list_scenarios
from viz.trace.binary import BlockFolder
from viz.trace.model import Lane, Trace
from viz.views.causes import link_of
from viz.views.durations import fmt_duration
from viz.views.verdict import helper_tasks

FRAME = 1 / 30           # playback timer
MANY_LANES = 12          # lanes past which the timeline takes less of the screen and the summary more (app.tcss)
PANEL_REFRESH = 0.1      # details / summary redraws while playing
PANEL_SPACING = 10       # ...and with light syncs at most one per 10x the time the last one took
MIN_SIZE = (60, 16)


class RunScreen(Screen):
    BINDINGS = [  # in the footer's order: what a first look needs first (a narrow footer cuts the last ones)
        Binding("space", "toggle_play", "play", priority=True),
        Binding("right", "step(1)", "step", key_display="←→", priority=True),
        Binding("left", "step(-1)", "step back", show=False, priority=True),
        Binding("down", "lane(1)", "lane", key_display="↑↓", priority=True),
        Binding("up", "lane(-1)", "lane up", show=False, priority=True),
        Binding("plus,equals_sign", "zoom(0.5)", "zoom", key_display="+-", priority=True),
        Binding("minus,underscore", "zoom(2)", "zoom out", show=False, priority=True),
        Binding("f", "fit", "fit"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("escape,b", "back", "scenarios", key_display="esc"),
        Binding("s", "save", "save"),
        Binding("exclamation_mark", "findings", "findings", key_display="!"),
        Binding("h", "helper", "helper", show=False),
        Binding("H", "hide_helpers", "hide helpers", show=False),
        Binding("left_parenthesis", "range('since')", "range from", show=False, key_display="("),
        Binding("right_parenthesis", "range('until')", "range to", show=False, key_display=")"),
        Binding("t", "tour", "tour"),
        Binding("B", "breakpoints", "breakpoints", show=False),
        Binding("P", "predict", "predict", show=False),
        *(Binding(str(n), f"guess({n})", show=False) for n in range(1, 10)),
        Binding("m", "bookmark", "bookmark", show=False),
        Binding("apostrophe", "next_bookmark", "go to bookmark", show=False, key_display="'"),
        Binding("o", "maximize('output')", "maximise output", show=False),
        Binding("e", "maximize('source')", "maximise source", show=False),
        Binding("c", "contrast", "high contrast", show=False),
        Binding("n,pagedown", "tour_step(1)", "next stop", show=False),
        Binding("p,pageup", "tour_step(-1)", "previous stop", show=False),
        Binding("x", "stop_run", "stop run"),
        Binding("right_square_bracket", "speed(1)", "speed", key_display="[]", priority=True),
        Binding("left_square_bracket", "speed(-1)", "slower", show=False, priority=True),
        Binding("home", "home", "start", show=False, priority=True),
        Binding("w", "cause", "cause", show=False),
        Binding("W,backspace", "cause_back", "back from cause", show=False, key_display="W"),
        Binding("full_stop", "lane_step(1)", "lane's next event", show=False, key_display="."),
        Binding("comma", "lane_step(-1)", "lane's previous event", show=False, key_display=","),
        Binding("end", "end", "end", show=False, priority=True),
    ]
    AUTO_FOCUS = None
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (MIN_SIZE[0], "-narrow"), (110, "-wide"), (160, "-wider"),
                              (200, "-widest")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (MIN_SIZE[1], "-short"), (30, "-tall")]

    def __init__(self, trace: Trace, name: str, session: Session | None = None, can_go_back: bool = False):
        super().__init__()
        self._size_classes()
        self.trace = trace
        self.run_name = name
        self.session = session
        self.live = session is not None
        self._tour: Tour | None = None  # the guided tour, read when first asked for (t)
        self._breakpoints = Breakpoints()
        self._predict: Predict | None = None  # the predict game, while it is on (P)
        self._bookmarks: list[float] = []
        self._theme_before_contrast = "textual-dark"
        self.can_go_back = can_go_back
        self.painter = LanePainter(trace)
        self.totals = Totals(trace)
        self.whereabouts = Whereabouts(trace)
        self.playback = Playback(trace, live=self.live)
        self.feed: LiveFeed | None = None  # started on mount, or before (live_run's `feed`)
        self._blocks = BlockFolder(trace)  # the live run's blocks of state records, folded into the trace
        self.pace = LivePace()
        self._nudge_pending = False  # a drain is asked for through the event loop
        self._nudged = False
        self._tuning = LiveTuning()  # interpreter settings while a live run streams records in
        self._dirty = False
        self._next_panels = 0.0  # with light syncs, the panels wait until then
        self._colors: TaskColors | None = None
        self._pinned: tuple[int, float, int] | None = None  # (task, t, span): the waker's span after a jump (w)
        self._causes_walked: list[tuple[float, int, tuple | None]] = []  # where each w came from, for W

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
                 can_go_back: bool = False, feed: LiveFeed | None = None) -> "RunScreen":
        """A live run of the script; with `feed`, the run it started already (its session describes it)."""
        session = feed.session if feed is not None else Session(script, args or [], name=name, timeout=timeout)
        screen = cls(Trace(session.header), name, session=session, can_go_back=can_go_back)
        screen.feed = feed
        return screen

    # ---- layout ---------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(self.trace, self.run_name, id="status")
        yield TourCaption(id="tour-caption")
        yield PredictBar(id="predict-bar")
        yield Timeline(self.trace, self.painter, id="timeline")
        yield Legend(id="legend")
        with Grid(id="panels"):
            yield DetailsPanel(self.trace, self.totals, id="details")
            yield SourceView(id="source")
            yield OutputView(self.trace, id="output")
            yield SummaryPanel(self.trace, self.totals, id="summary")
        yield Footer(compact=True)
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
            where = self.trace.truncated_where or f"line {self.trace.truncated_at}"
            self.notify(f"The trace file was cut off at {where}: the run ended before it was written whole. "
                        "Showing everything before that.", severity="warning", timeout=10)
        if self.session is None:
            self._tell_notes(self.trace.notes)
        if self.session is not None:
            self._tuning.apply(time.monotonic())  # interpreter settings for a flood of records (viz.app.tuning)
            if self.feed is None:
                self.feed = LiveFeed(self.session, self._records_arrived).start()
            else:  # started before the app loaded: what came meanwhile is drained now
                self.feed.arrived = self._records_arrived
                self._records_arrived()
            self._live_timer = self.set_interval(LIVE_REFRESH, self._live_tick)
        self._sync()

    def on_unmount(self) -> None:
        self.close_run()

    # ---- the live feed --------------------------------------------------------------------------------------
    def _records_arrived(self) -> None:
        """Called on the feed's reader thread: wake the screen (once until it drains; at the end of the run even
        while a wake-up is already set for later: the last frames are folded now, not after FOLD_EVERY)."""
        if not self._nudged or (self.feed is not None and self.feed.ended):
            self._nudged = True
            try:
                self.post_message(RecordsWaiting())
            except RuntimeError:  # the app's loop is gone: nobody to tell
                pass

    def on_records_waiting(self, message: RecordsWaiting) -> None:
        started = time.monotonic()
        wait = self.pace.fold_wait(started, self.feed.waiting() if self.feed is not None else 0)
        if wait > 0:  # folded a moment ago, or a key came: keys and redraws go first
            self._nudge_later(wait)
            return
        more = self._drain(deadline=self.pace.fold_deadline(started))
        rest = self.pace.folded(started, time.monotonic())
        if more:
            self._nudge_later(rest)

    def user_input(self) -> None:
        """The app is about to handle a key press or click: while records stream in, folding and redrawing wait a
        moment so what it asks for is drawn at once, and the timeline keeps its height for a while."""
        if self.live and self.feed is not None:
            self.pace.user_input(time.monotonic())
            for timeline in self.query(Timeline):
                timeline.keep_height(KEEP_HEIGHT)

    def _nudge_later(self, delay: float) -> None:
        """Ask for a drain after `delay` s through the event loop, not straight into this screen's queue: a screen
        repaints only once its queue runs empty (Textual's idle)."""
        self._nudged = True  # the feed need not ask meanwhile
        if not self._nudge_pending:
            self._nudge_pending = True
            asyncio.get_running_loop().call_later(delay, self._nudge)

    def _nudge(self) -> None:
        self._nudge_pending = False
        try:
            self.post_message(RecordsWaiting())
        except RuntimeError:  # the app's loop is gone: nobody to tell
            pass

    def _drain(self, redraw: bool = True, deadline: float | None = None) -> bool:
        """Fold the frames the feed has into the trace (on the app thread); redraw unless the screen is going away.

        With a deadline (time.monotonic()), it stops then and says True: more is waiting, to be folded after
        whatever else is waiting (a key press, a repaint), so a flood of records slows the catching up, not the app."""
        self._nudged = False
        finished = more = False
        while self.feed is not None:
            if deadline is not None and time.monotonic() >= deadline:
                more = True
                break
            got = self.feed.take()
            if got is None:
                break
            block, done = got
            if block is not None and (block.n or block.others):
                notes_before = len(self.trace.notes)
                self._blocks.fold(block, hold=True)  # the lanes' columns are written once, below
                self._dirty = True
                self._tell_notes(self.trace.notes[notes_before:])
            finished = finished or done
        self.trace.flush()
        if self._dirty and self.live and self.pace.catch_up_due(time.monotonic()):
            self.totals.catch_up()  # the summary's running totals grow with the records, not all at once later
        if finished and self.live:
            self.live = False
            self._tuning.restore()
            self.playback.run_ended()
            self._dirty = True
            if not redraw:
                return more
            self._live_tick()
            self.refresh_bindings()
            if self.feed is not None and self.feed.error is not None:
                self.notify(f"The recorder failed: {self.feed.error}", severity="error", timeout=10)
        return more

    def _tell_notes(self, notes: list[dict]) -> None:
        """What the recorder says about the run itself (a flood was cut, a hook failed) is shown, not buried."""
        for note in notes:
            severity = "error" if note.get("level") == "error" else "warning"
            self.notify(note["text"], title="recorder", severity=severity, timeout=12)

    def _live_tick(self) -> None:
        started = time.monotonic()
        if self.live and not self.pace.redraw_due(started):
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
        self.pace.redrew(started, time.monotonic(), painted)
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
        before = pb.t
        if pb.tick(time.monotonic()):
            if self._breakpoints.any and pb.t > before and not pb.following:
                hit = self._breakpoints.first_hit(self.trace, before, pb.t, self.query_one(Timeline).selected_lane)
                if hit is not None:
                    pb.pause()
                    pb.seek(hit[0])
                    self.notify(f"breakpoint: {hit[1]}", title="paused", timeout=6)
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
        changes = self.query_one(DetailsPanel).changes(t) if pb.stepped is not None else None
        self.query_one(StatusBar).show(pb, self.live, changes[0] if changes else None)
        self.query_one(OutputView).show_until(t)
        now = time.monotonic()
        if light and now < self._next_panels:
            return
        lane = timeline.selected_lane
        index = self._selected_span(lane, t)
        link = link_of(self.trace, lane, index) if index is not None else None
        timeline.set_link(None if link is None or link.waker is None else (link.cause.t, link.waker, link.woken))
        self.query_one(DetailsPanel).show(lane, t, self.live, index if self._pinned else None)
        self.query_one(SummaryPanel).show(t)
        self._show_source(lane, t)
        # panels that take long to update (a thousand tasks' totals) are updated less often, not the keys slowed
        self._next_panels = now + max(every, PANEL_SPACING * (time.monotonic() - now))

    def _selected_span(self, lane: Lane | None, t: float) -> int | None:
        """The selected span: the selected lane's span at the playhead, or the waker's span a jump to a cause pinned
        (while the playhead and the selection stay there)."""
        if lane is None:
            return None
        pinned = self._pinned
        if pinned is not None:
            if pinned[0] == lane.task and pinned[1] == t:
                return pinned[2]
            self._pinned = None
        return shown_span(self.trace, lane, t)  # the span the details panel shows (after its end: its last)

    def _show_source(self, lane: Lane | None, t: float) -> None:
        trace = self.trace
        if self._colors is None:
            self._colors = TaskColors(trace, self.app.theme_variables)
        file, line, marks, title = source_at(self.whereabouts, lane, t, self._colors.style)
        source = self.query_one(SourceView)
        waiting = self.live and not trace.sources
        source.empty_message = "waiting for the source…" if waiting else "no source recorded"
        source.show(file, trace.sources.get(file) if file else None, line, marks, title)

    # ---- actions --------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "stop_run":
            return self.live
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

    def action_cause(self) -> None:
        """Jump to what woke the selected span: the playhead to the cause's instant, the waker's lane selected with
        its span that woke it (W goes back along the chain walked)."""
        timeline = self.query_one(Timeline)
        lane, t = timeline.selected_lane, self.playback.t
        index = self._selected_span(lane, t)
        link = link_of(self.trace, lane, index) if index is not None else None
        if link is None or link.waker is None or link.waker not in timeline.rows:
            self.app.bell()
            if link is None:
                self.notify(f"No cause recorded for {lane.name}'s span here." if lane is not None else
                            "No lane selected.", timeout=3)
            else:
                self.notify(f"{link.cause.what}: no task woke {lane.name}." if link.waker is None else
                            f"{link.waker.name}'s lane is hidden (H shows it).", timeout=3)
            return
        self._causes_walked.append((t, lane.task, self._pinned))
        self._go_to(link.cause.t, link.waker.task)
        self._pinned = (link.waker.task, self.playback.t, link.waker_index) if link.waker_index is not None else None
        self._sync()

    def action_cause_back(self) -> None:
        """Back along the chain of causes walked with w: the playhead and the lane where the last w was pressed."""
        if not self._causes_walked:
            self.app.bell()
            return
        t, task, pinned = self._causes_walked.pop()
        self._go_to(t, task)
        self._pinned = pinned
        self._sync()

    def action_lane_step(self, direction: int) -> None:
        """To the selected lane's next (+1) or previous (-1) event: a change of its state, or its end."""
        lane = self.query_one(Timeline).selected_lane
        pb = self.playback
        if lane is None:
            self.app.bell()
            return
        starts, ended, t = lane.starts, lane.ended, pb.t
        if direction > 0:
            i = bisect_right(starts, t)
            to = starts[i] if i < len(starts) else ended if ended is not None and ended > t else None
        elif ended is not None and ended < t:
            to = ended
        else:
            i = bisect_left(starts, t) - 1
            to = starts[i] if i >= 0 else None
        if to is None:
            self.app.bell()
            return
        pb.pause()
        pb.seek(to)
        pb.stepped = abs(to - t)
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
        try:
            path = self.save()
        except OSError as e:  # a read-only folder, a taken name: say so, lose nothing (the run goes on)
            self.notify(f"Could not save the trace: {e}", title="not saved", severity="error", timeout=8)
            return
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
        """Back to the scenarios this run was picked from (the run stops); a run opened from the command line
        opens them on top of itself, and esc there comes back to it."""
        if self.maximized is not None:  # esc first brings a maximised panel back
            self.minimize()
            return
        if self.can_go_back:
            self.app.pop_screen()
            return
        from viz.app.picker import PickerScreen  # only needed once asked for

        self.app.push_screen(PickerScreen(list_scenarios(), over_run=True))

    def action_predict(self) -> None:
        """Start the game at the playhead (the future hidden), or end it."""
        timeline = self.query_one(Timeline)
        bar = self.query_one(PredictBar)
        if self._predict is not None:
            self._predict = None
            timeline.hide_future = False
            bar.display = False
            timeline.refresh()
            return
        self.playback.pause()
        self._predict = Predict()
        timeline.hide_future = True
        timeline.refresh()
        self._ask()

    def _ask(self, verdict: Text | None = None) -> None:
        game, bar = self._predict, self.query_one(PredictBar)
        if game.ask(self.trace, self.playback.t, self.query_one(Timeline).rows):
            bar.show_question(game, verdict)
        else:
            bar.show_over(game, verdict)
        self._sync()

    def action_guess(self, number: int) -> None:
        game = self._predict
        if game is None:
            return
        result = game.guess(number)
        if result is None:
            self.app.bell()
            return
        right, lane, t = result
        verdict = Text(f"✔ right: {lane.name}", style="bold green") if right else \
            Text(f"✘ it was {lane.name}", style="bold red")
        self._go_to(t, lane.task)
        self._ask(verdict)

    def action_breakpoints(self) -> None:
        from viz.app.breakpoints import BreakpointsScreen

        def chosen(breakpoints: Breakpoints | None) -> None:
            if breakpoints is not None:
                self._breakpoints = breakpoints
                what = [w for w, on in (("a loop blocked", breakpoints.loop_blocked),
                                        ("the selected lane changing state", breakpoints.state_change),
                                        (f"output containing {breakpoints.output!r}", bool(breakpoints.output))) if on]
                self.notify("Playing pauses at " + ", ".join(what) if what else "No breakpoints.", timeout=4)
        self.app.push_screen(BreakpointsScreen(self._breakpoints), chosen)

    def action_bookmark(self) -> None:
        """Bookmark the playhead's moment (m again on a bookmark removes it)."""
        t = self.playback.t
        if t in self._bookmarks:
            self._bookmarks.remove(t)
            self.notify(f"Bookmark at {fmt_duration(t)} removed.", timeout=3)
            return
        self._bookmarks = sorted(self._bookmarks + [t])
        self.notify(f"Bookmark {self._bookmarks.index(t) + 1} at {fmt_duration(t)}: ' jumps back to it.", timeout=3)

    def action_next_bookmark(self) -> None:
        """To the next bookmark after the playhead, or round to the first."""
        if not self._bookmarks:
            self.notify("No bookmarks yet: m bookmarks the playhead's moment.", timeout=3)
            return
        t = next((b for b in self._bookmarks if b > self.playback.t), self._bookmarks[0])
        self.playback.pause()
        self.playback.seek(t)
        self._sync()

    def action_maximize(self, panel: str) -> None:
        """The output or the source panel over the whole screen (the same key again, or esc, brings it back)."""
        widget = self.query_one(f"#{panel}")
        if self.maximized is widget:
            self.minimize()
        else:
            self.maximize(widget, container=False)

    def action_contrast(self) -> None:
        """The high-contrast theme (viz.app.theme), or back to the theme before it."""
        app = self.app
        if app.theme == HIGH_CONTRAST.name:
            app.theme = self._theme_before_contrast
        else:
            self._theme_before_contrast = app.theme
            app.theme = HIGH_CONTRAST.name

    def action_tour(self) -> None:
        """Start the guided tour at its first stop, or end it."""
        if self._tour is None:
            try:
                self._tour = Tour(tour_of(self.trace, self.run_name))
            except TourError as e:
                self._tour = Tour([])
                self.notify(str(e), title="tour", severity="error", timeout=10)
                return
        if not self._tour.stops:
            self.notify(f"{self.run_name} has no guided tour. A script can have one in NAME.tour.toml beside it "
                        "(see docs/tours.md).", title="tour", timeout=6)
            return
        if self._tour.on:
            self._tour.end()
            self.query_one(TourCaption).display = False
            return
        self.action_tour_step(0)

    def action_tour_step(self, by: int) -> None:
        if self._tour is None or not self._tour.on and by != 0:
            return
        went = self._tour.go(self.trace, by)
        if went is None:
            self.app.bell()
            return
        placed, index = went
        self.query_one(TourCaption).show_stop(placed, index, len(self._tour.stops))
        if placed.t is not None:
            self._go_to(placed.t, placed.task)
        self._sync()

    def action_helper(self) -> None:
        """Mark the selected task as a helper (left out of the verdict, with the tasks it started), or count it
        again."""
        lane = self.query_one(Timeline).selected_lane
        if lane is None:
            return
        summary = self.query_one(SummaryPanel)
        marked = set(summary.helpers) ^ {lane.task}
        summary.helpers = frozenset(marked)
        summary.refresh_all()
        words = "a helper: left out of the verdict" if lane.task in marked else "counted in the verdict again"
        self.notify(f"{lane.name} is {words} (h again to undo)", timeout=4)
        self._sync()

    def action_hide_helpers(self) -> None:
        """Hide the helpers' lanes (those VIZ_HELPERS names, those h marked, and what they started), or show all."""
        timeline = self.query_one(Timeline)
        if timeline.hidden:
            timeline.hide(set())
            self.notify("Every lane is shown again.", timeout=3)
        else:
            helpers = helper_tasks(self.trace, self.query_one(SummaryPanel).helpers)
            if not helpers:
                self.notify("No helpers to hide: h marks the selected task as one (a script can list them in "
                            "VIZ_HELPERS).", timeout=5)
                return
            timeline.hide(helpers)
            self.notify(f"{len(helpers)} helper lane{'s' if len(helpers) != 1 else ''} hidden (H shows them).",
                        timeout=3)
        self._sync()

    def action_range(self, end: str) -> None:
        """Mark where the summary's range starts ( or ends ) at the playhead; the same key there again unmarks it."""
        summary = self.query_one(SummaryPanel)
        t = self.playback.t
        current = getattr(summary, end)
        setattr(summary, end, None if current == t else t)
        if summary.since is not None and summary.until is not None and summary.since > summary.until:
            summary.since, summary.until = summary.until, summary.since
        summary.refresh_all()
        if summary.since is None and summary.until is None:
            self.notify("The summary covers the run up to the playhead again.", timeout=3)
        else:
            self.notify(f"The summary covers {fmt_duration(summary.since or 0.0)} to "
                        f"{'the playhead' if summary.until is None else fmt_duration(summary.until)} "
                        "(( and ) again at the same moment unmark).", timeout=4)

    def _go_to(self, t: float, task: int | None) -> None:
        """Pause with the playhead at t and `task`'s lane selected (when it is drawn): a finding's, a tour stop's."""
        self.playback.pause()
        self.playback.seek(t)
        timeline = self.query_one(Timeline)
        rows = [lane.task for lane in timeline.rows]
        if task in rows:
            timeline.select(rows.index(task))

    def action_findings(self) -> None:
        """The findings of the run so far; the one chosen moves the playhead to its moment and selects its lane."""
        from viz.app.findings import FindingsScreen
        from viz.views.diagnostics import diagnose

        def go(finding) -> None:
            if finding is not None:
                self._go_to(finding.t, finding.task)
                self._sync()
        self.app.push_screen(FindingsScreen(diagnose(self.trace), live=self.live), go)

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

