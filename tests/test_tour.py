"""Guided tours: every scenario's tour finds its stops in a real run, in order; bad tour files get one clear line;
in the app, t starts the tour, n / p move between stops and the playhead follows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conftest import run_session
from viz.app.app import VizApp
from viz.app.run_screen import RunScreen
from viz.app.timeline import Timeline
from viz.app.tour import TourCaption
from viz.scenarios import list_scenarios, read_tour
from viz.trace.model import Trace
from viz.views.tour import TourError, parse, place

DATA = Path(__file__).parent / "data"


def test_every_scenario_has_a_tour_whose_stops_are_all_found_in_a_real_run_in_time_order(scenario_traces):
    for scenario in list_scenarios():
        text = read_tour(scenario.path)
        assert text, f"{scenario.name} has no tour"
        stops = parse(text, scenario.name)
        assert len(stops) >= 3, scenario.name
        placed = place(stops, scenario_traces[scenario.name])
        times = [p.t for p in placed]
        assert None not in times, (scenario.name, [(p.stop.caption[:30], p.t) for p in placed])
        assert times == sorted(times), (scenario.name, times)


def test_a_tour_anchors_to_spans_outputs_and_instants_and_says_when_a_stop_is_not_in_the_run():
    trace = Trace.load(DATA / "sleepers_unpatched.jsonl")
    stops = parse('''
[[stop]]
caption = "fun sleeps"
task = "fun"
state = "blocked"
reason = "time.sleep(2)*"
[[stop]]
caption = "fun wakes"
task = "fun"
state = "blocked"
at = "end"
[[stop]]
caption = "the last line"
output = "time spent*"
[[stop]]
caption = "one second in"
t = 1.0
[[stop]]
caption = "never"
task = "nobody"
state = "running"
''')
    fun_sleep = next(s for ln in trace.lanes if ln.name == "fun" for s in trace.spans(ln) if s.state == "blocked")
    placed = place(stops, trace)
    assert [p.t for p in placed[:2]] == [fun_sleep.start, fun_sleep.end]
    assert placed[2].t == next(o.t for o in trace.outputs if o.text.startswith("time spent"))
    assert placed[3].t == 1.0 and placed[4].t is None


@pytest.mark.parametrize("text, words", [
    ("[[stop]]\ncaption = 'x'\n", "needs an anchor"),
    ("[[stop]]\ntask = 'fun'\n", "needs a caption"),
    ("[[stop]]\ncaption = 'x'\ntask = 'fun'\nstate = 'sleeping'\n", "state must be one of"),
    ("[[stop]]\ncaption = 'x'\ntask = 'fun'\nwhen = 2\n", "unknown key 'when'"),
    ("[[stop]\ncaption = 'x'\n", "the tour"),
    ("title = 'no stops'\n", "no [[stop]]"),
])
def test_a_bad_tour_file_is_refused_with_one_line_naming_the_stop(text, words):
    with pytest.raises(TourError) as e:
        parse(text, "the tour")
    assert words in str(e.value) and "\n" not in str(e.value)


def test_the_tour_beside_a_script_travels_in_its_trace(script):
    path = script("import time\ntime.sleep(0.05)\nprint('done')\n", name="job.py")
    (path.parent / "job.tour.toml").write_text("[[stop]]\ncaption = 'it prints'\noutput = 'done'\n")
    _, trace = run_session(path)
    assert parse(trace.header["tour"])[0].caption == "it prints"


def test_t_starts_the_tour_n_and_p_move_the_playhead_between_stops_and_t_ends_it():
    async def run():
        app = VizApp(trace=Trace.load(DATA / "sleepers_unpatched.jsonl"), trace_name="sleepers_unpatched")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, RunScreen)
            caption = screen.query_one(TourCaption)
            timeline = screen.query_one(Timeline)
            assert not caption.display
            await pilot.press("t")
            assert caption.display and "stop 1 of 4" in str(caption.render())
            assert timeline.selected_lane.name == "fun"
            first = screen.playback.t
            await pilot.press("n")
            assert "stop 2 of 4" in str(caption.render()) and timeline.selected_lane.name == "inner"
            assert screen.playback.t > first + 1.9  # inner sleeps once fun's 2 s are over
            await pilot.press("p")
            assert screen.playback.t == first
            await pilot.press("t")
            assert not caption.display
    asyncio.run(run())
