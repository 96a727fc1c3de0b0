"""`viz compare`: runs recorded one after another and shown side by side on one time axis.

The command line records real small programs with a known timeline (two 0.3 s sleeps one after the other against
two threads sleeping 0.3 s at once), a scenario by name and a saved trace, and the figures it prints are checked
against that timeline. The compare screen is driven with Pilot on saved traces (tests/data/*.jsonl).
"""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path

import pytest

from conftest import viz
from viz.app.compare import CompareScreen, CompareTimeline, compare_app, step_time
from viz.app.timescale import fmt_instant
from viz.trace.model import Trace
from viz.views.cells import NAMES
from viz.views.compare import Run, compare_report, comparison_tables, task_times
from viz.views.verdict import verdict

DATA = Path(__file__).parent / "data"

SERIAL = """\
import time
time.sleep(0.3)
time.sleep(0.3)
"""

THREADS = """\
import threading, time
workers = [threading.Thread(target=time.sleep, args=(0.3,), name=f"sleeper{i}") for i in range(2)]
for w in workers:
    w.start()
for w in workers:
    w.join()
"""


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """One real `viz compare --text` of a script, another script, a scenario by name and a saved trace, keeping the
    traces in a folder: (completed process, the folder)."""
    folder = tmp_path_factory.mktemp("compare")
    (folder / "serial.py").write_text(SERIAL)
    (folder / "threads.py").write_text(THREADS)
    out = folder / "kept"
    result = viz("compare", str(folder / "serial.py"), str(folder / "threads.py"), "greenlet_switch",
                 str(DATA / "baozi.jsonl"), "--text", "--no-color", "--width", "120", "-o", str(out), timeout=60)
    assert result.returncode == 0, result.stderr
    return result, out


def pilot_test(fn):
    """Run an async test on its own event loop (the project has no asyncio pytest plugin)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return run


UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}


def seconds(text: str) -> float:
    """'609 ms' -> 0.609."""
    value, unit = text.split()
    return float(value) * UNITS[unit]


def _lane_row(text: str, header: str, lane: str) -> str:
    """The cells of `lane` in the block under the run header that starts with `header`."""
    block = text.split("▸ " + header, 1)[1].split("▸ ", 1)[0]
    row = next(line for line in block.splitlines() if line.startswith(lane + " "))
    return row


def test_compare_text_draws_every_run_under_one_shared_axis(compared):
    result, _ = compared
    lines = result.stdout.splitlines()
    axes = [line for line in lines if re.fullmatch(r"\s+0s\s+.*\d(\.\d+)?s\s*", line)]
    assert len(axes) == 1, result.stdout  # one axis for all runs, not one per run
    heads = [line for line in lines if line.startswith("▸ ")]
    names = [h.split(" · ")[0] for h in heads]
    assert names == ["▸ serial.py", "▸ threads.py", "▸ greenlet_switch", "▸ baozi"]
    # each header: the run's wall time and its verdict
    wall = [seconds(re.search(r"wall time ([\d.]+ [µm]?s)", head).group(1)) for head in heads]
    assert 0.58 <= wall[0] <= 1.0 and 0.29 <= wall[1] <= 0.6 and wall[2] < 0.3
    assert wall[3] == pytest.approx(Trace.load(DATA / "baozi.jsonl").duration, rel=0.01)
    # the verdict: two threads' 0.3 s of sleeping done in about 0.3 s
    assert re.search(r"[\d.]+ ms of waiting done in [\d.]+ ms: (1\.[6-9]|2\.[0-2])x$", heads[1]), heads[1]
    assert re.search(r": 1\.0x$", heads[0]), heads[0]


def test_compare_text_lanes_share_the_time_scale(compared):
    """On one axis the threads' 0.3 s sleeps take half the cells of the serial program's 0.6 s of sleeping."""
    result, _ = compared
    serial = _lane_row(result.stdout, "serial.py", "main").count("b")
    sleeper = _lane_row(result.stdout, "threads.py", "sleeper0").count("b")
    assert serial > 20
    assert 0.35 <= sleeper / serial <= 0.65, (sleeper, serial)


def test_compare_text_table_gives_each_run_and_each_task_matched_by_name(compared):
    result, _ = compared
    out = result.stdout
    table = out.split("vs fastest", 1)[1]
    row = {line.split()[0]: re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[1:5]}
    assert list(row) == ["serial.py", "threads.py", "greenlet_switch", "baozi"]
    # run, wall time, counted work, done in, factor, vs fastest
    assert row["serial.py"][4] == "1.0x" and 1.6 <= float(row["threads.py"][4].rstrip("x")) <= 2.2
    assert 0.58 <= seconds(row["serial.py"][2]) <= 0.7  # two sleeps of 0.3 s and a little running
    assert 1.6 <= seconds(row["serial.py"][1]) / seconds(row["threads.py"][1]) <= 2.3
    fastest = min(row, key=lambda name: seconds(row[name][1]))
    assert row[fastest][5] == "1.00x" and row["serial.py"][5] != "1.00x"
    # main is in every run: one row with a cell per run; the serial main blocked about 0.6 s
    main = next(line for line in out.split("each task's time", 1)[1].splitlines() if line.startswith("main "))
    cells = [c.strip() for c in re.split(r"\s{2,}", main.strip())[1:]]
    assert len(cells) == 4, main
    blocked = cells[0].split(" / ")[2]
    assert 0.59 <= seconds(blocked) <= 0.7, blocked


def test_compare_keeps_each_trace_in_the_output_folder(compared):
    result, out = compared
    kept = sorted(p.name for p in out.iterdir())
    assert kept == ["baozi.jsonl", "greenlet_switch.jsonl", "serial.jsonl", "threads.jsonl"]
    serial = Trace.load(out / "serial.jsonl")
    assert 0.55 <= serial.duration <= 1.0
    assert Trace.load(out / "baozi.jsonl").duration == pytest.approx(Trace.load(DATA / "baozi.jsonl").duration)
    # progress went to stderr, a line per recorded run (not a terminal), never for the saved trace
    assert "recording serial.py (1/4)" in result.stderr and "recording greenlet_switch (3/4)" in result.stderr
    assert "recording baozi" not in result.stderr


def test_a_bad_run_among_them_gives_one_line_and_records_nothing(tmp_path):
    marker = tmp_path / "ran"
    good = tmp_path / "good.py"
    good.write_text(f"open({str(marker)!r}, 'w').close()\n")
    out = tmp_path / "kept"
    result = viz("compare", str(good), "no_such_scenario_here", str(DATA / "baozi.jsonl"), "-o", str(out), "--text")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("viz compare: error: unknown scenario")
    assert result.stdout == ""
    assert not marker.exists() and not out.exists()


def test_one_run_is_not_a_comparison(tmp_path):
    result = viz("compare", str(DATA / "baozi.jsonl"), "--text")
    assert result.returncode == 2 and result.stderr == "viz compare: error: give at least two runs to compare\n"


def test_timeout_stops_each_run_and_its_header_says_so(script):
    slow = script("import time\ntime.sleep(5)\n", "slow.py")
    quick = script("import time\ntime.sleep(0.1)\n", "quick.py")
    result = viz("compare", str(slow), str(quick), "--timeout", "0.4", "--text", "--no-color", "--width", "100")
    assert result.returncode == 0, result.stderr
    heads = [line for line in result.stdout.splitlines() if line.startswith("▸ ")]
    slow_wall = seconds(re.search(r"wall time ([\d.]+ [µm]?s)", heads[0]).group(1))
    assert 0.35 <= slow_wall <= 0.8 and heads[0].endswith("· timed out")
    assert not heads[1].endswith("timed out") and 0.09 <= seconds(heads[1].split("wall time ")[1].split(" · ")[0]) < 0.4


def test_a_bad_trace_file_among_them_gives_one_line(tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text("this is not a trace\n")
    result = viz("compare", str(DATA / "baozi.jsonl"), str(bad), "--text")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("viz compare: error: ")


# ---- the views, on saved traces ------------------------------------------------------------------------------------
def _runs(*names: str) -> list[Run]:
    return [Run(name, Trace.load(DATA / f"{name}.jsonl")) for name in names]


def test_tasks_are_matched_by_name_across_runs():
    runs = _runs("gevent_sleepers", "sleepers_unpatched")
    names, times = task_times(runs)
    fun = times[names.index("fun")]
    assert fun[0] is not None and fun[1] is not None
    assert fun[0][2] == pytest.approx(2.0, abs=0.1) and fun[1][2] == pytest.approx(2.0, abs=0.1)
    outer = times[names.index("outer")]  # sleepers_unpatched's outer('alex', 'wupeiqi'): the same function, once in each
    assert outer[0] is not None and outer[1] is not None and "outer('alex', 'wupeiqi')" not in names
    assert outer[1][1] == pytest.approx(3.0, abs=0.2)  # ready while fun and inner held the loop


def test_counting_from_the_work_lines_runs_up_at_their_work_start():
    runs = _runs("gevent_sleepers", "select_server")
    text = compare_report(runs, width=100, color=False, from_work=True)
    from rich.console import Console
    console = Console(width=100, record=True, color_system=None)
    console.print(text)
    assert "time from the start of each run's counted work" in console.export_text()
    assert runs[1].origin(True) == pytest.approx(verdict(runs[1].trace).start)


# ---- the compare screen --------------------------------------------------------------------------------------------
async def _screen(pilot) -> tuple[CompareScreen, CompareTimeline]:
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CompareScreen)
    return screen, screen.query_one(CompareTimeline)


def _cell_state(timeline: CompareTimeline, row: int, t: float) -> str:
    """The state drawn for `row` (a lane) at shared time t: the name of its bar's (or label's) colour."""
    st = timeline.styles_table
    x = timeline.name_width + timeline.view.cell_of(t)
    for seg in timeline._lane_strip(row, st):
        if x < seg.cell_length:
            style = seg.style
            break
        x -= seg.cell_length
    for name, bar, label in zip(NAMES, st.bar, st.label):
        if style in (bar, label) or style.color == bar.color and style.bgcolor == bar.bgcolor:
            return name
    return "?"


def _row_of(timeline: CompareTimeline, run: int, name: str) -> int:
    return next(i for i, lane in enumerate(timeline.rows)
                if lane is not None and timeline.row_run[i] == run and lane.name == name)


@pilot_test
async def test_the_compare_screen_stacks_runs_with_a_header_each_on_one_axis():
    runs = _runs("gevent_sleepers", "sleepers_unpatched", "baozi", "select_server")
    async with compare_app(runs).run_test(size=(120, 50)) as pilot:
        screen, timeline = await _screen(pilot)
        heads = [i for i, lane in enumerate(timeline.rows) if lane is None]
        assert [timeline.row_run[i] for i in heads] == [0, 1, 2, 3]
        assert len(timeline.rows) == 4 + sum(len(r.trace.lanes) for r in runs)
        # one shared axis: the view spans the longest run (sleepers_unpatched, 3.55 s)
        assert timeline.view.t1 >= runs[1].trace.duration - 1e-6
        # one second in, fun sleeps in gevent_sleepers (blocked) but blocks the whole loop in sleepers_unpatched
        assert _cell_state(timeline, _row_of(timeline, 0, "fun"), 1.0) == "blocked"
        assert _cell_state(timeline, _row_of(timeline, 1, "fun"), 1.0) == "loop"
        assert _cell_state(timeline, _row_of(timeline, 1, "inner"), 1.0) == "ready"  # the loop is held
        assert _cell_state(timeline, _row_of(timeline, 0, "fun"), 3.0) == "none"  # gevent_sleepers is over
        assert screen.t == pytest.approx(runs[1].trace.duration)  # the playhead starts at the end, as a saved run's


@pilot_test
async def test_stepping_moves_to_the_next_event_of_any_run():
    runs = _runs("gevent_sleepers", "sleepers_unpatched")
    async with compare_app(runs).run_test(size=(120, 40)) as pilot:
        screen, timeline = await _screen(pilot)
        await pilot.press("home")
        start = screen.t
        await pilot.press("right")
        first = screen.t
        expected = min(r.trace.next_step(start) for r in runs)
        assert first == pytest.approx(expected) and first > start
        for _ in range(5):
            await pilot.press("right")
        assert screen.t > first
        before = screen.t
        await pilot.press("left")
        assert screen.t < before
        assert screen.t == pytest.approx(step_time(runs, timeline.origins, before, -1))


@pilot_test
async def test_play_moves_the_playhead_over_every_run():
    runs = _runs("gevent_sleepers", "sleepers_unpatched")
    async with compare_app(runs).run_test(size=(120, 40)) as pilot:
        screen, timeline = await _screen(pilot)
        await pilot.press("home")
        start = screen.t
        await pilot.press("space")
        assert screen.playing
        for _ in range(200):  # until a frame of the play timer has moved it
            if screen.t > start:
                break
            await pilot.pause(0.01)
        assert screen.t > start and timeline.playhead == screen.t
        await pilot.press("space")
        assert not screen.playing


@pilot_test
async def test_zoom_keeps_the_playhead_in_its_column_and_fit_shows_all_counted_work():
    runs = _runs("gevent_sleepers", "sleepers_unpatched")
    async with compare_app(runs).run_test(size=(120, 40)) as pilot:
        screen, timeline = await _screen(pilot)
        await pilot.press("home", *["right"] * 6)
        x = timeline.view.cell_of(screen.t)
        dt = timeline.view.dt
        await pilot.press("plus")
        assert timeline.view.dt == pytest.approx(dt / 2)
        assert timeline.view.cell_of(screen.t) == x
        await pilot.press("f")
        works = [r.judged for r in runs]
        assert timeline.view.t0 == pytest.approx(min(w.start for w in works))
        assert timeline.view.t1 >= max(w.end for w in works) - 1e-6
        assert timeline.view.t1 <= max(w.end for w in works) + 2 * timeline.view.dt


@pilot_test
async def test_w_counts_time_from_each_runs_counted_work_and_back():
    runs = _runs("gevent_sleepers", "select_server")
    async with compare_app(runs).run_test(size=(120, 40)) as pilot:
        screen, timeline = await _screen(pilot)
        assert timeline.origins == [0.0, 0.0]
        await pilot.press("home", "right", "right")
        moment = timeline.trace_time(timeline.selected, screen.t)  # of the selected row's run (the first)
        await pilot.press("w")
        starts = [verdict(r.trace).start for r in runs]
        assert timeline.origins == pytest.approx(starts)
        assert starts[0] != starts[1] and starts[1] > 0  # select_server's counted work starts after its set-up
        assert timeline.trace_time(timeline.selected, screen.t) == pytest.approx(moment)  # the same moment
        # a lane drawn from its run's origin: the cell of shared time 0 shows the run at its work start
        row = _row_of(timeline, 1, runs[1].trace.lanes[0].name)
        assert timeline.trace_time(row, 0.0) == pytest.approx(starts[1])
        assert "counted work" in str(screen.query_one("#compare-status").render())
        await pilot.press("w")
        assert timeline.origins == [0.0, 0.0]


def test_connections_are_matched_across_runs_whatever_their_ephemeral_port():
    runs = _runs("select_server", "select_server")
    last = runs[1].trace.lanes[-1]
    last.name = last.name.rsplit(":", 1)[0] + ":40001"  # another port
    names, times = task_times(runs)
    connections = [n for n in names if n.startswith("127.0.0.1:")]
    assert connections == ["127.0.0.1:*"]
    first, second = times[names.index("127.0.0.1:*")]
    assert first[2] == pytest.approx(second[2])  # the same connections' blocked time in both runs


@pilot_test
async def test_a_comparison_picked_in_the_picker_records_each_run_then_compares_them(monkeypatch):
    import time as clock

    from viz import scenarios
    from viz.app.app import VizApp
    from viz.app.compare import RecordingScreen
    from viz.app.picker import PickerScreen

    quick = scenarios.Comparison("compare: quick", "two short runs", ("greenlet_switch", "baozi"), "Watch for: both.")
    monkeypatch.setattr(scenarios, "COMPARISONS", [quick])
    picked = [s for s in scenarios.list_scenarios() if s.name in ("greenlet_switch", "baozi")]
    app = VizApp(picker=True, scenarios=picked)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("end")  # the comparisons come after the scenarios
        assert "Records, one after another: greenlet_switch, baozi" in str(
            app.screen.query_one("#watch").render())
        shown: list[RecordingScreen] = []
        mount = RecordingScreen.on_mount
        monkeypatch.setattr(RecordingScreen, "on_mount", lambda self: (shown.append(self), mount(self)))
        await pilot.press("enter")
        deadline = clock.monotonic() + 20
        while not isinstance(app.screen, CompareScreen) and clock.monotonic() < deadline:
            await pilot.pause(0.05)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert [run.name for run in screen.runs] == ["greenlet_switch", "baozi"]
        assert len(shown) == 1 and shown[0].runs == screen.runs  # recorded on the recording screen first
        assert all(run.trace.exit["outcome"] == "finished" and run.trace.lanes for run in screen.runs)
        assert [lane.name for lane in screen.runs[0].trace.lanes][:3] == ["main", "test1", "test2"]
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)


def test_a_narrow_table_has_a_row_per_task_and_state_and_cuts_no_figure():
    from rich.console import Console

    runs = _runs("gevent_sleepers", "sleepers_unpatched", "select_server")
    console = Console(width=80, record=True, color_system=None)
    console.print(comparison_tables(runs, 80))
    text = console.export_text()
    tasks = text.split("each task's time", 1)[1].splitlines()[2:]
    assert all(len(line) <= 80 for line in tasks)
    fun = tasks.index(next(line for line in tasks if line.startswith("fun ")))
    rows = {line.split()[1 if i == 0 else 0]: line for i, line in enumerate(tasks[fun:fun + 3])}
    assert list(rows) == ["running", "ready", "blocked"]
    blocked = re.findall(r"\d[\d.]* [µm]?s", rows["blocked"])
    assert len(blocked) == 2 and all(seconds(b) == pytest.approx(2.0, abs=0.02) for b in blocked)  # whole figures
    console = Console(width=160, record=True, color_system=None)
    console.print(comparison_tables(runs, 160))
    assert "running / ready / blocked" in console.export_text()  # wide enough: a cell per run


def test_question_mark_on_the_compare_screen_lists_its_own_keys():
    async def run():
        from viz.app.help import HelpScreen
        app = compare_app(_runs("gevent_sleepers", "sleepers_unpatched"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            assert any(key == "w" and "counted work" in what for key, what in app.screen.keys)
            assert any(key == "t" and "comparison table" in what for key, what in app.screen.keys)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen)
    asyncio.run(run())


# ---- the panels follow the selected row's run ----------------------------------------------------------------------
# gevent_sleepers and sleepers_unpatched (tests/data): in sleepers_unpatched fun prints "In the function fun!!!" and
# an empty line at 0.047 s, then time.sleep(2) on line 13 blocks the whole loop until 2.05 s; by its end (3.55 s) the
# run has printed 12 lines, the last "time spent: 3.50...". In gevent_sleepers, by 1.0 s, outer has printed "On second
# thought, alex is busy..." (0.55 s), and inner nothing more until 1.05 s.

def _drawn(widget) -> str:
    """The widget's lines as drawn (Line API: render_line), one per row."""
    return "\n".join("".join(seg.text for seg in widget.render_line(y)) for y in range(widget.size.height))


def _words(widget) -> str:
    """What the widget draws as one line of words (a long line wrapped over rows reads whole again)."""
    return " ".join(_drawn(widget).split())


async def _select(pilot, timeline: CompareTimeline, row: int) -> None:
    """Move the selection to `row` with the arrow keys, as a user does."""
    key = "down" if row > timeline.selected else "up"
    await pilot.press(*[key] * abs(row - timeline.selected))
    assert timeline.selected == row


async def _click_time(pilot, timeline: CompareTimeline, t: float) -> None:
    """Click the axis row at shared time t: the playhead moves there, the selection stays."""
    await pilot.click(CompareTimeline, offset=(timeline.name_width + timeline.view.cell_of(t), 0))
    await pilot.pause()


def _panels(screen: CompareScreen):
    from viz.app.compare_panels import ComparePanels, RunDetails
    from viz.app.source import SourceView

    panels = screen.query_one(ComparePanels)
    return panels, panels.query_one(RunDetails), panels.output, panels.query_one(SourceView)


@pilot_test
async def test_a_lane_of_the_second_run_shows_its_span_its_output_and_its_source_line_at_the_playhead():
    runs = _runs("gevent_sleepers", "sleepers_unpatched")
    async with compare_app(runs).run_test(size=(120, 40)) as pilot:
        screen, timeline = await _screen(pilot)
        await _select(pilot, timeline, _row_of(timeline, 1, "fun"))
        await _click_time(pilot, timeline, 1.0)
        assert screen.t == pytest.approx(1.0, abs=2 * timeline.view.dt)
        panels, details, output, source = _panels(screen)
        assert output.trace is runs[1].trace and output.display and output.count == 2
        shown = _words(output)
        assert "In the function fun!!!" in shown and "Come back" not in shown
        text = str(details.render())
        assert text.startswith("fun") and "blocks the whole loop" in text and "time.sleep(2)" in text
        span = re.search(r"line 13 · from (\d+\.\d+) ms, for (\d\.\d+) s", text)
        assert span and float(span[1]) == pytest.approx(47, abs=5) and float(span[2]) == pytest.approx(2.0, abs=0.05)
        assert source.current == 13 and "fun at line 13" in source.border_title
        assert "time.sleep(2)" in next(row for row in _drawn(source).splitlines() if row.startswith("▶"))
        assert details.border_title.startswith("sleepers_unpatched")
        # the playhead moves on (end: 3.55 s): fun has ended, every line is printed, the source is at fun's last line
        await pilot.press("end")
        assert output.count == 12 and "time spent: 3.50" in _words(output)
        assert "ended at 2.05" in str(details.render())
        assert source.current == 14


@pilot_test
async def test_a_runs_header_row_shows_its_output_and_what_its_tasks_do_and_no_task():
    runs = _runs("gevent_sleepers", "sleepers_unpatched")
    async with compare_app(runs).run_test(size=(120, 40)) as pilot:
        screen, timeline = await _screen(pilot)
        await _click_time(pilot, timeline, 1.0)
        head = timeline.rows.index(None, 1)  # sleepers_unpatched's header
        await _select(pilot, timeline, head)
        panels, details, output, source = _panels(screen)
        assert output.trace is runs[1].trace and output.count == 2
        text = str(details.render())
        assert text.startswith("sleepers_unpatched  run 2 of 2")
        # at 1.0 s: main blocked in joinall, fun holds the loop, hub, inner and outer wait for their turn
        assert "1 ready" not in text and "3 ready · 1 blocked · 1 blocks the whole loop" in text
        assert source.current is None and source.file == runs[1].trace.main_file
        assert [name for name, _ in source.marks[13]] == ["fun"]  # every task is marked; fun is at line 13
        # up to the first run's last lane: its output, drawn by its own view (the other one hidden)
        await pilot.press("up")
        assert timeline.row_run[timeline.selected] == 0
        assert panels.output is not output and not output.display and panels.output.display
        assert panels.output.count == 7 and "On second thought, alex" in _words(panels.output)
        assert str(details.render()).startswith(timeline.rows[timeline.selected].name)


@pilot_test
async def test_with_time_from_the_work_start_the_panels_show_the_runs_own_moment():
    runs = _runs("gevent_sleepers", "select_server")
    async with compare_app(runs).run_test(size=(120, 40)) as pilot:
        screen, timeline = await _screen(pilot)
        await _select(pilot, timeline, _row_of(timeline, 1, "main"))
        await pilot.press("w")
        origin = timeline.origins[1]
        assert origin > 0.005
        # step to select_server's first line printed after 0.25 s of its own time (0.308 s): shared time 0.302 s
        printed = next(out.t for out in runs[1].trace.outputs if out.t > 0.25)
        await _click_time(pilot, timeline, 0.28)
        for _ in range(50):
            if screen.t + origin >= printed - 1e-9:
                break
            await pilot.press("right")
        assert screen.t + origin == pytest.approx(printed)
        _, details, output, _ = _panels(screen)
        outputs = runs[1].trace.outputs
        assert output.count == sum(1 for out in outputs if out.t <= printed)
        assert output.count > sum(1 for out in outputs if out.t <= screen.t)  # shared time would not show it yet
        main = runs[1].trace.lanes[0]
        span = runs[1].trace.span(main, runs[1].trace.span_index_at(main, screen.t + origin))
        assert f"from {fmt_instant(span.start)}," in str(details.render())  # its span at the run's own moment


@pilot_test
async def test_t_shows_the_comparison_table_in_place_of_the_panels_and_back():
    runs = _runs("gevent_sleepers", "sleepers_unpatched")
    async with compare_app(runs).run_test(size=(80, 24)) as pilot:
        screen, timeline = await _screen(pilot)
        panels = screen.query_one("#compare-panels")
        table = screen.query_one("#compare-table")
        assert panels.display and not table.display
        assert timeline.size.height >= 12  # most of the height stays the timeline's
        assert not screen.check_action("table", (1,))  # pgdn does not scroll a hidden table
        await pilot.press("t")
        assert table.display and not panels.display and table.size.height >= 4
        await pilot.press("pagedown")
        assert table.scroll_y > 0
        await pilot.press("t", "down")
        assert panels.display and str(_panels(screen)[1].render()).startswith("main")


@pilot_test
async def test_o_puts_the_selected_runs_output_over_the_screen_and_it_follows_the_selection_to_another_run():
    runs = _runs("gevent_sleepers", "sleepers_unpatched")
    async with compare_app(runs).run_test(size=(80, 24)) as pilot:
        screen, timeline = await _screen(pilot)
        await _click_time(pilot, timeline, 1.0)
        await pilot.press("o")
        panels = _panels(screen)[0]
        first = panels.output
        assert screen.maximized is first and first.trace is runs[0].trace and first.size.height > 12
        assert first.count == 7 and "On second thought, alex" in _words(first)  # gevent_sleepers' 7 lines by 1.0 s
        await _select(pilot, timeline, timeline.rows.index(None, 1))  # onto sleepers_unpatched's header
        assert screen.maximized is panels.output and panels.output is not first
        assert panels.output.count == 2 and "In the function fun!!!" in _words(panels.output)
        await pilot.press("escape")  # esc brings it back first (the screen cannot go back: it is the app's only one)
        assert screen.maximized is None and panels.output.size.height < 10
        await pilot.press("e", "e")
        assert screen.maximized is None
        await pilot.press("e", "t")  # the table takes the panels' place: nothing stays over the screen
        assert screen.maximized is None and screen.query_one("#compare-table").display


@pilot_test
async def test_w_at_the_end_keeps_the_playhead_at_the_new_end_in_sight():
    # at the end (2.05 s, gevent_sleepers' end) with a select_server lane selected: that run's moment 2.05 s counted
    # from its work's start is past every run's end; the playhead goes to the new end, inside the fitted view
    runs = _runs("gevent_sleepers", "select_server")
    async with compare_app(runs).run_test(size=(120, 40)) as pilot:
        screen, timeline = await _screen(pilot)
        await _select(pilot, timeline, _row_of(timeline, 1, "main"))
        await pilot.press("end", "w")
        assert screen.t == pytest.approx(screen.end)
        assert screen.end == pytest.approx(max(r.trace.duration - r.origin(True) for r in runs))
        assert timeline.view.t0 <= screen.t <= timeline.view.t1
