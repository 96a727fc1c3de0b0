"""The app driven as a user would (Textual's Pilot), on real scenario runs and saved traces."""

from __future__ import annotations

import asyncio
import functools
import gc
import random
import sys
import time
import weakref
from pathlib import Path

import pytest

from conftest import gone
from viz.app.app import VizApp
from viz.app.keep import KeepTraceScreen
from viz.app.picker import PickerScreen, ScenarioList
from viz.app.run_screen import RunScreen
from viz.app import timeline as timeline_module
from viz.app.timeline import Timeline
from viz.app.tuning import SWITCH_INTERVAL, YOUNG_THRESHOLD
from viz.scenarios import list_comparisons, list_scenarios, resolve
from viz.trace.model import Trace

DATA = Path(__file__).parent / "data"
SIZE = (120, 40)


def pilot_test(fn):
    """Run an async test on its own event loop (the project has no asyncio pytest plugin)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return run


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "condition") -> None:
    """Let the app run until `condition()` holds (bounded, so a hang fails the test instead of the suite)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def screen_text(app) -> str:
    """Everything drawn on screen, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def processes_gone(screen: RunScreen) -> bool:
    """The live run's ingest process and the traced program have both ended."""
    feed = screen.feed
    return feed.proc.poll() is not None and gone(feed.child_pid)


def run_screen(app) -> RunScreen:
    assert isinstance(app.screen, RunScreen), app.screen
    return app.screen


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pilot_test
async def test_the_picker_lists_every_scenario_and_previews_the_highlighted_one():
    scenarios = list_scenarios()
    app = VizApp(picker=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)
        # every scenario, then the comparisons of them (viz.scenarios.COMPARISONS)
        assert app.screen.query_one(ScenarioList).option_count == len(scenarios) + len(list_comparisons(scenarios))
        text = screen_text(app)
        assert scenarios[0].name in text and "Watch for" in text
        await pilot.press("down")
        await pilot.pause()
        assert f"{scenarios[1].path.name}" in screen_text(app)


@pilot_test
async def test_picker_run_then_play_pause_step_seek_zoom_save_and_quit(in_tmp):
    app = VizApp(picker=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        names = [s.name for s in app.screen.scenarios]
        for _ in range(names.index("gevent_sleepers")):
            await pilot.press("down")
        await pilot.press("enter")
        screen = run_screen(app)
        trace, pb = screen.trace, screen.playback
        await wait_for(pilot, lambda: trace.finished and not screen.live, what="the run to finish")
        await pilot.pause()
        assert "finished in" in screen_text(app)
        assert [lane.name for lane in screen.query_one(Timeline).rows] == ["main", "hub", "fun", "inner", "outer"]
        assert pb.t == pytest.approx(trace.duration)

        await pilot.press("home")
        assert pb.t == pytest.approx(pb.start)
        await pilot.press("right")
        assert pb.t == pytest.approx(trace.next_step(pb.start))
        await pilot.press("right", "right", "left")
        third = pb.t
        assert third == trace.steps[list(trace.steps).index(third)]

        await pilot.press("space")
        assert pb.playing
        await wait_for(pilot, lambda: pb.t > third, what="the playhead to move")
        await pilot.press("space")
        assert not pb.playing
        paused_at = pb.t
        await pilot.pause()
        assert pb.t == paused_at

        timeline = screen.query_one(Timeline)
        await pilot.click(Timeline, offset=(timeline.name_width + 40, 3))
        assert pb.t == pytest.approx(timeline.view.time_at(40))
        assert timeline.selected == 2  # the lane clicked: fun

        await pilot.press("f")  # the whole run, fitted exactly (a finished live run's last refit may still be due)
        dt = timeline.view.dt
        column = timeline.view.cell_of(pb.t)
        await pilot.press("plus")
        assert timeline.view.dt == pytest.approx(dt / 2)
        assert timeline.view.cell_of(pb.t) == column
        await pilot.press("f")
        assert timeline.fitted and timeline.view.dt == pytest.approx(dt)

        await pilot.press("s")
        saved = list(in_tmp.glob("gevent_sleepers-*.trace.jsonl"))
        assert len(saved) == 1
        again = Trace.load(saved[0])
        assert [lane.name for lane in again.lanes] == [lane.name for lane in trace.lanes]
        assert again.exit["outcome"] == "finished"

        await pilot.press("q")
    assert processes_gone(screen)


@pilot_test
async def test_a_live_run_keeps_accepting_keys_while_events_stream_in():
    path, name = resolve("sleepers_unpatched")
    app = VizApp(run=(str(path), name, [], 30.0))
    interval, threshold = sys.getswitchinterval(), gc.get_threshold()
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        trace = screen.trace
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: len(timeline.rows) >= 3, what="the first lanes")
        assert not trace.finished
        assert sys.getswitchinterval() == SWITCH_INTERVAL  # the app's thread gets the interpreter back sooner
        assert gc.get_threshold()[0] >= YOUNG_THRESHOLD  # records are folded before the collector looks at them
        changes_then, duration_then = trace.changes, trace.duration
        await pilot.press("down", "down")
        assert timeline.selected == 2
        pressed = time.monotonic()
        await pilot.press("plus")
        assert not timeline.fitted
        assert screen.pace.input_until > pressed  # the key paused folding, so its redraw had the app's thread
        await pilot.press("left")
        assert not screen.playback.following
        assert not trace.finished, "the keys should have been handled while the program still ran"
        await wait_for(pilot, lambda: trace.changes > changes_then, what="more events")
        await wait_for(pilot, lambda: trace.finished, what="the run to finish")
        assert trace.duration > duration_then + 1.0  # the lanes kept growing after the keys
        assert screen.playback.t < trace.duration  # the user moved the playhead: it stopped following
        await pilot.press("end")
        assert screen.playback.t == pytest.approx(trace.duration)
        await wait_for(pilot, lambda: not screen.live, what="the screen to see the end")
        assert (sys.getswitchinterval(), gc.get_threshold()) == (interval, threshold)  # put back after the run


@pilot_test
async def test_a_run_stopped_midway_says_so_and_leaves_no_process():
    path, name = resolve("sleepers_unpatched")
    app = VizApp(run=(str(path), name, [], 30.0))
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await wait_for(pilot, lambda: any(lane.name == "fun" for lane in screen.trace.lanes), what="fun's lane")
        await pilot.press("x")
        await wait_for(pilot, lambda: not screen.live, what="the run to stop")
        await pilot.pause()
        assert screen.trace.exit["outcome"] == "stopped"
        assert screen.trace.duration < 3.0
        assert processes_gone(screen)
        assert "stopped by you" in screen_text(app)
        assert not screen.check_action("stop_run", ())


@pilot_test
async def test_quitting_during_a_live_run_offers_to_keep_the_trace(in_tmp):
    path, name = resolve("sleepers_unpatched")
    app = VizApp(run=(str(path), name, [], 30.0))
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await wait_for(pilot, lambda: len(screen.trace.lanes) >= 2, what="the first lanes")
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, KeepTraceScreen)
        await pilot.press("s")
    assert processes_gone(screen)
    saved = list(in_tmp.glob("sleepers_unpatched-*.trace.jsonl"))
    assert len(saved) == 1 and app.saved_on_quit
    assert Trace.load(saved[0]).exit["outcome"] == "stopped"


@pilot_test
async def test_going_back_to_the_picker_stops_the_run_and_allows_another():
    app = VizApp(picker=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        names = [s.name for s in app.screen.scenarios]
        for _ in range(names.index("sleepers_unpatched")):
            await pilot.press("down")
        await pilot.press("enter")
        screen = run_screen(app)
        await wait_for(pilot, lambda: len(screen.trace.lanes) >= 1, what="the first lane")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)
        assert processes_gone(screen)
        screen_gone, trace_gone = weakref.ref(screen), weakref.ref(screen.trace)
        del screen
        # the run's screen and trace are freed soon after, not at the collector's next full collection
        await wait_for(pilot, lambda: screen_gone() is None and trace_gone() is None, timeout=10, what="the run to be freed")
        await pilot.press("up", "enter")
        second = run_screen(app)
        assert second.run_name == "gevent_sleepers"
        await pilot.press("escape")


@pilot_test
async def test_a_saved_trace_opens_at_its_end_with_its_output_and_summary():
    trace = Trace.load(DATA / "gevent_sleepers.jsonl")
    app = VizApp(trace=trace, trace_name="gevent_sleepers")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "time spent" in text  # the last output line
        assert "gevent.sleep(2)" in text  # a label written in fun's bar
        assert "3.50 s of waiting done in" in text and "summary · 1.7x" in text
        screen = run_screen(app)
        await pilot.press("home")
        await pilot.pause()
        assert "nothing printed yet" in screen_text(app)  # later lines hidden
        await pilot.press("end")
        await pilot.pause()
        assert "12 of 12 lines" in screen_text(app)
        assert screen.playback.t == pytest.approx(trace.duration)


@pilot_test
async def test_a_panel_redrawn_for_a_style_change_shows_what_was_shown_last_not_what_was_shown_before_it():
    """A style change (the screen's first styles, a theme) redraws the panels a moment later. A show() in between
    (a short live run's last records, folded before the screen's styles settled) must stay: the details panel had
    gone back to "waiting for the first task…" after such a run ended."""
    from viz.app.details import DetailsPanel

    trace = Trace.load(DATA / "baozi.jsonl")
    app = VizApp(trace=trace, trace_name="baozi")
    async with app.run_test(size=SIZE) as pilot:
        panel = app.screen.query_one(DetailsPanel)
        panel.show(None, 0.0, True)
        panel.notify_style_update()  # its redraw waits for the message queue...
        last = trace.lanes[-1]
        panel.show(last, trace.duration, False)  # ...and this comes first
        await pilot.pause()
        await pilot.pause()
        assert panel._shown[0] is last
        assert str(panel.render()).startswith(last.name)


@pilot_test
async def test_the_help_screen_lists_the_keys():
    app = VizApp(trace=Trace.load(DATA / "baozi.jsonl"), trace_name="baozi")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "step to the next / previous event" in text and "blocks the whole loop" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunScreen)


@pilot_test
async def test_a_terminal_too_small_gets_a_message_instead_of_a_broken_layout():
    app = VizApp(trace=Trace.load(DATA / "baozi.jsonl"), trace_name="baozi")
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        assert "viz needs a terminal of at least" in screen_text(app)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        text = screen_text(app)
        assert "viz needs" not in text and "consumer('c1')" in text


@pilot_test
async def test_a_blocking_call_that_silences_the_program_still_shows_time_passing():
    path, name = resolve("sleepers_unpatched")
    app = VizApp(run=(str(path), name, [], 30.0))
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        trace = screen.trace

        def fun_blocks_the_loop():
            lane = next((lane for lane in trace.lanes if lane.name == "fun"), None)
            return lane is not None and len(lane.flags) > 0 and lane.flags[-1] == 1

        await wait_for(pilot, fun_blocks_the_loop, what="fun's time.sleep(2)")
        fun = next(lane for lane in trace.lanes if lane.name == "fun")
        spans, since = len(fun.starts), fun.starts[-1]
        await wait_for(pilot, lambda: trace.duration > since + 0.5, what="the live clock to move on")
        assert len(fun.starts) == spans and not trace.finished  # no record arrived: the clock did it
        await pilot.press("x")


def many_lanes(lanes: int, spans: int, seed: int = 5) -> Trace:
    """A finished run of `lanes` workers taking turns, `spans` state changes each."""
    rnd = random.Random(seed)
    records = []
    for task in range(1, lanes + 1):
        records.append({"k": "task", "t": 0.0, "task": task, "name": f"worker-{task}", "kind": "greenlet"})
        t = rnd.uniform(0, 1)
        for i in range(spans):
            state = ("running", "blocked", "ready")[i % 3]
            records.append({"k": "state", "t": t, "task": task, "state": state,
                            "reason": "gevent.sleep(0.01)" if state == "blocked" else None})
            t += rnd.expovariate(60.0)
    trace = Trace()
    trace.add_many(records)
    trace.add({"k": "exit", "t": trace.end_time, "outcome": "finished", "status": 0})
    return trace


@pilot_test
async def test_a_big_trace_is_drawn_at_once_and_its_lanes_look_the_same_once_summarised(monkeypatch):
    monkeypatch.setattr(timeline_module, "WARM_EVERY", 0.5)  # hold the background build back...
    monkeypatch.setattr(timeline_module, "WARM_BUDGET", 5.0)  # ...then let it do everything at once
    app = VizApp(trace=many_lanes(40, 600), trace_name="big")  # more spans per lane than a frame summarises
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        timeline = run_screen(app).query_one(Timeline)
        lines = [timeline.render_line(y).text for y in range(timeline.size.height)]
        assert timeline.painter.behind  # drawn from the spans, summaries queued
        await wait_for(pilot, lambda: not timeline.painter.behind, what="lane summaries built in the background")
        timeline._lane_cache.clear()
        assert [timeline.render_line(y).text for y in range(timeline.size.height)] == lines


@pilot_test
async def test_with_more_lanes_than_fit_the_lanes_end_left_of_the_scrollbar():
    app = VizApp(trace=many_lanes(60, 30), trace_name="many")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        timeline = run_screen(app).query_one(Timeline)
        assert timeline.show_vertical_scrollbar and not timeline.show_horizontal_scrollbar
        assert timeline.name_width + timeline.cells == timeline.scrollable_content_region.width
        axis = screen_text(app).splitlines()[timeline.region.y]
        assert axis.rstrip().endswith("▼")  # the playhead, at the end of the run, in the last cell shown


GROWING = """
import os, sys, gevent
go = sys.argv[1]
def worker():
    gevent.sleep(0.2)
def wait_for(path):  # until the test says so (at most 30 s)
    for _ in range(1500):
        if os.path.exists(path):
            break
        gevent.sleep(0.02)
tasks = [gevent.spawn(worker) for _ in range(30)]
wait_for(go)
tasks += [gevent.spawn(worker) for _ in range(50)]
wait_for(go + ".end")
gevent.joinall(tasks)
"""


@pilot_test
async def test_lanes_that_keep_appearing_past_the_screenful_stay_reachable_with_the_scrollbar(script, tmp_path):
    go = tmp_path / "go"
    app = VizApp(run=(str(script(GROWING)), "growing", [str(go)], 30.0))
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: len(timeline.rows) >= 30, what="the first 30 lanes")
        # the rows are laid out at the next refresh after they arrive (it failed when checked before it, under load)
        await wait_for(pilot, lambda: timeline.show_vertical_scrollbar, what="the scrollbar")
        assert screen.live
        assert timeline.show_vertical_scrollbar and timeline.virtual_size.height > timeline.size.height
        tall, rows_then = timeline.size.height, timeline.virtual_size.height
        go.write_text("")
        await wait_for(pilot, lambda: len(timeline.rows) >= 80, what="50 more lanes")
        await wait_for(pilot, lambda: timeline.virtual_size.height > len(timeline.rows), what="the rows to grow")
        assert screen.live and timeline.virtual_size.height > rows_then and timeline.size.height == tall
        # grown in place: the scrollbar and the scroll range follow the new rows
        assert timeline.vertical_scrollbar.window_virtual_size == timeline.virtual_size.height
        assert timeline.max_scroll_y == timeline.virtual_size.height - timeline.scrollable_content_region.height
        (tmp_path / "go.end").write_text("")
        await wait_for(pilot, lambda: not screen.live, what="the run to end")
        await pilot.pause()
        assert timeline.virtual_size.height == len(timeline.rows) + 1  # no blank rows once the run is over
        await pilot.press(*["down"] * len(timeline.rows))
        last = timeline.rows[-1]
        assert timeline.selected_lane is last
        assert timeline.scroll_y <= timeline.selected < timeline.scroll_y + timeline.size.height - 1
        assert last.name in screen_text(app)


@pilot_test
async def test_while_the_user_presses_keys_new_lanes_scroll_the_timeline_and_it_grows_once_they_stop(script, tmp_path,
                                                                                                      monkeypatch):
    from viz.app import run_screen as run_screen_module
    monkeypatch.setattr(run_screen_module, "KEEP_HEIGHT", 600.0)  # the user keeps pressing keys until told
    go = tmp_path / "go"
    app = VizApp(run=(str(script(GROWING.replace("range(30)", "range(10)"))), "growing", [str(go)], 30.0))
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: len(timeline.rows) >= 12, what="the first 12 lanes")
        await pilot.pause()
        await pilot.press("down")
        height = timeline.size.height
        assert timeline_module.LIVE_ROW_BY_ROW < height < 20  # past the first lanes, room left to grow
        go.write_text("")
        await wait_for(pilot, lambda: len(timeline.rows) >= 62, what="50 more lanes")
        await wait_for(pilot, lambda: timeline.virtual_size.height > len(timeline.rows), what="the rows to grow")
        await pilot.pause()
        assert screen.live and timeline.size.height == height  # the panels did not move under the user's keys
        assert timeline.show_vertical_scrollbar  # the new lanes are a scroll away
        timeline._keep_height_until = 0.0  # the user lets go
        await wait_for(pilot, lambda: timeline.size.height > height, what="the timeline to grow")
        assert screen.live
        (tmp_path / "go.end").write_text("")
        await wait_for(pilot, lambda: not screen.live, what="the run to end")


@pilot_test
async def test_with_many_tasks_the_summary_gets_room_and_shows_the_busiest_ones():
    from viz.trace.totals import Totals
    trace = many_lanes(60, 30)
    app = VizApp(trace=trace, trace_name="many")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = run_screen(app)
        assert screen.has_class("-many-lanes")
        summary = screen.query_one("#summary")
        text = str(summary.render())
        totals = Totals(trace)
        busiest = sorted(trace.lanes, key=lambda lane: -totals.until(lane, trace.end_time)[0])
        shown = [lane.name for lane in trace.lanes if f"\n{lane.name} " in text]
        assert len(shown) >= 3, text  # room for a few tasks below the timeline
        assert set(shown) == {lane.name for lane in busiest[:len(shown)]}
        assert f"and {60 - len(shown)} more tasks, less busy" in text
