"""The app as a new user first meets it, at 80x24, 100x30, 120x40 and 200x50 (issue 17): lane names that can be
told apart, panels that fit, fitting and stepping that show something, the scenarios a key away, the palette found."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

from conftest import record, run_session
from viz.app.app import VizApp
from viz.app.details import DetailsPanel
from viz.app.output import OutputView
from viz.app.picker import PickerScreen
from viz.app.playback import first_time
from viz.app.run_screen import RunScreen
from viz.app.source import SourceView
from viz.app.summary import SummaryPanel
from viz.app.timeline import Timeline
from viz.scenarios import list_scenarios
from viz.trace.model import Trace

DATA = Path(__file__).parent / "data"
SIZES = [(80, 24), (100, 30), (120, 40), (200, 50)]


def pilot_test(fn):
    """Run an async test on its own event loop (the project has no asyncio pytest plugin)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return run


def screen_text(app) -> str:
    """Everything drawn on screen, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def saved(name: str) -> VizApp:
    return VizApp(trace=Trace.load(DATA / f"{name}.jsonl"), trace_name=name)


@pilot_test
async def test_the_footer_shows_the_command_palette():
    app = saved("baozi")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "palette" in screen_text(app).splitlines()[-1]
        await pilot.press("escape")
        await pilot.pause()
        assert "palette" in screen_text(app).splitlines()[-1]


@pilot_test
async def test_the_picker_shows_whole_titles_on_a_wide_terminal():
    app = VizApp(picker=True)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for scenario in list_scenarios():
            assert scenario.title in text


@pilot_test
async def test_esc_on_a_run_opened_from_the_command_line_opens_the_scenarios_and_esc_comes_back():
    app = saved("baozi")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        run = app.screen
        assert isinstance(run, RunScreen)
        assert "esc" in screen_text(app).splitlines()[-1]  # the footer offers it
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is run


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Scenarios recorded once for this module by the real recorder, each loaded fresh for each app."""
    folder = tmp_path_factory.mktemp("traces")
    paths: dict[str, Path] = {}

    def load(name: str) -> Trace:
        if name not in paths:
            paths[name] = folder / f"{name}.jsonl"
            record(name, out=paths[name])
        return Trace.load(paths[name])

    return load


def lane_names_drawn(app) -> list[str]:
    """The timeline's name column, lane by lane, as drawn."""
    timeline = app.screen.query_one(Timeline)
    lines = screen_text(app).splitlines()
    top = timeline.region.y + 1  # below the axis
    return [lines[top + row][1:timeline.name_width].rstrip() for row in range(min(len(timeline.rows),
                                                                                   timeline.size.height - 1))]


def summary_rows(app) -> list[str]:
    return str(app.screen.query_one(SummaryPanel).render()).splitlines()


@pytest.mark.parametrize("size", SIZES)
@pilot_test
async def test_lanes_whose_names_repeat_are_told_apart_at_every_size(recorded, size):
    for name, parts in (("gevent_echo_server", ["(client(1))", "(client(2))", "(client(3))"]),
                        ("crawler_gevent", ["5248247", "python.org", "jd.com"])):
        trace = recorded(name)
        app = VizApp(trace=trace, trace_name=name)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            drawn = lane_names_drawn(app)
            assert len(set(drawn)) == len(drawn), drawn
            for part in parts:
                assert sum(part in shown for shown in drawn) == 1, (part, drawn)
            summary = summary_rows(app)
            shown = [row.split("  ")[0].strip() for row in summary[2:] if row[:1] not in ("…", "l")]
            assert len(set(shown)) == len(shown), summary
            if size[0] >= 120:  # the full name of the selected task is in its details
                timeline = app.screen.query_one(Timeline)
                await pilot.press(*["down"] * (len(timeline.rows) - 1))
                await pilot.pause()
                assert timeline.selected_lane.name in str(app.screen.query_one(DetailsPanel).render())


@pilot_test
async def test_the_name_column_and_the_summary_grow_with_the_terminal(recorded):
    app = VizApp(trace=recorded("crawler_gevent"), trace_name="crawler_gevent")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        timeline, summary = app.screen.query_one(Timeline), app.screen.query_one(SummaryPanel)
        narrow = timeline.name_width, summary.size.width
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert timeline.name_width > narrow[0] and summary.size.width > narrow[1]
        assert "func('…rticles/5248247.html')" in lane_names_drawn(app)


@pytest.mark.parametrize("size", SIZES)
@pilot_test
async def test_every_panel_keeps_rows_for_its_text_at_every_size(recorded, size):
    app = VizApp(trace=recorded("gevent_echo_server"), trace_name="gevent_echo_server")  # 9 lanes
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        for panel in (DetailsPanel, SourceView, OutputView, SummaryPanel):
            widget = screen.query_one(panel)
            assert widget.display and widget.content_size.height >= 3, (panel, widget.content_size)
        assert "main" in summary_rows(app)[2]  # a task's totals, not only the wall time


@pytest.mark.parametrize("size", SIZES[1:])
@pilot_test
async def test_a_long_task_name_does_not_push_a_summary_column_out(recorded, size):
    app = VizApp(trace=recorded("sleepers_patched"), trace_name="sleepers_patched")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        rows = summary_rows(app)
        assert rows[1].split()[1:] == ["running", "ready", "blocked", "idle"], rows
        hub = next(row for row in rows if row.startswith("hub"))
        assert hub.split()[-2:] == ["2.00", "s"], rows  # the hub idled while the sleepers slept


@pilot_test
async def test_f_fits_the_whole_run_and_the_playhead_stays_in_view_before_the_activity(recorded):
    trace = recorded("greenlet_switch")
    start = first_time(trace)
    app = VizApp(trace=trace, trace_name="greenlet_switch")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        timeline = screen.query_one(Timeline)
        await pilot.press("home")
        for _ in range(20):  # back to the program's first instant, before its tasks switch
            await pilot.press("left")
            await pilot.pause()
            assert timeline.view.shows(screen.playback.t), (timeline.view, screen.playback.t)
            if screen.playback.t <= start:
                break
        assert screen.playback.t == pytest.approx(start)
        await pilot.press("plus", "plus", "end", "f")
        await pilot.pause()
        assert timeline.view.t0 <= start and timeline.view.t1 >= trace.duration
        assert timeline.view.shows(screen.playback.t)  # the playhead (at the end) is drawn
        await pilot.press("home", "minus", "minus", "minus")  # zoomed out as far as it goes: the whole run too
        await pilot.pause()
        assert timeline.view.t0 <= start and timeline.view.t1 >= trace.duration


def status_line(app) -> str:
    return screen_text(app).splitlines()[0]


@pytest.mark.parametrize("name, steps", [("gevent_sleepers", 8), ("select_server", 60)])
@pilot_test
async def test_each_step_at_whole_run_zoom_shows_where_it_landed(name, steps):
    """select_server has steps tens of microseconds apart a tenth of a second in."""
    app = saved(name)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("home")
        await pilot.pause()
        clock = status_line(app).rsplit("·", 1)[1].strip()
        for _ in range(steps):
            await pilot.press("right")
            await pilot.pause()
            line = status_line(app)
            before, clock = clock, line.rsplit("·", 1)[1].strip()
            assert clock != before, line  # the time has the digits to tell this step from the last
            t = screen.playback.t
            events = [f"{lane.name} → {trace_state(screen.trace, lane, t)}" for lane in screen.trace.lanes
                      if t in lane.starts]
            events += [f"{screen.trace.lane_of(out.task).name} prints" for out in screen.trace.outputs if out.t == t]
            words = " ".join(line.split())
            assert events and any(event in words for event in events), (line, events)  # the event it landed on


def trace_state(trace: Trace, lane, t: float) -> str:
    return trace.span(lane, list(lane.starts).index(t)).state


def source_title(app) -> str:
    return str(app.screen.query_one(SourceView).border_title)


async def select(pilot, name: str) -> None:
    timeline = pilot.app.screen.query_one(Timeline)
    await pilot.press(*["down"] * [lane.name for lane in timeline.rows].index(name))
    await pilot.pause()


@pilot_test
async def test_a_task_that_just_started_is_marked_where_it_runs_not_at_its_def():
    trace = Trace.load(DATA / "gevent_sleepers.jsonl")
    source = trace.sources[trace.main_file].splitlines()
    fun = next(lane for lane in trace.lanes if lane.name == "fun")
    first_run = trace.span(fun, next(i for i in range(len(fun.starts)) if trace.span(fun, i).state == "running"))
    assert source[first_run.line - 1].startswith("def fun")  # the trace gives its first run the `def` line
    app = VizApp(trace=trace, trace_name="gevent_sleepers")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await select(pilot, "fun")
        await pilot.press("home")
        while app.screen.playback.t < first_run.start:  # step to the instant it starts to run
            await pilot.press("right")
        await pilot.pause()
        assert app.screen.playback.t == first_run.start
        title = source_title(app)
        line = int(title.rsplit(" ", 1)[1])
        assert "fun at line" in title and not source[line - 1].startswith("def"), title


@pilot_test
async def test_a_task_that_raised_is_marked_at_the_line_that_raised(script, tmp_path):
    path = script('''import gevent


def worker(n):
    gevent.sleep(0.01)
    x = n * 2
    raise ValueError("boom %d" % x)


gevent.joinall([gevent.spawn(worker, 1)])
''', "boom.py")
    trace = run_session(path, name="boom", out=tmp_path / "boom.jsonl")[1]
    app = VizApp(trace=trace, trace_name="boom")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await select(pilot, "worker(1)")
        assert "worker(1) at line 7" in source_title(app), source_title(app)


@pytest.mark.parametrize("size", SIZES)
@pilot_test
async def test_the_footer_at_every_size_offers_help_the_scenarios_and_the_palette(size):
    app = saved("baozi")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "? help" in footer and "esc scenarios" in footer and "^p palette" in footer, footer


@pilot_test
async def test_the_summary_shortens_a_name_as_the_timeline_does_when_its_twins_are_not_listed(recorded):
    app = VizApp(trace=recorded("crawler_gevent"), trace_name="crawler_gevent")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("home", "right", "right", "right")  # before the fetches: the summary lists few of them
        await pilot.pause()
        rows = summary_rows(app)
        fetches = [row.split()[0] for row in rows if any(page in row for page in ("5248247", "python.org", "jd.com"))]
        assert fetches and all(name.endswith("')") for name in fetches), rows  # what differs is kept: the end
