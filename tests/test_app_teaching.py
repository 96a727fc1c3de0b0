"""What a teacher at a projector uses: breakpoints while playing, bookmarks, a maximised panel, high contrast."""

from __future__ import annotations

import asyncio
from pathlib import Path

from viz.app.app import VizApp
from viz.app.breakpoints import Breakpoints, BreakpointsScreen
from viz.app.output import OutputView
from viz.app.run_screen import RunScreen
from viz.app.theme import HIGH_CONTRAST
from viz.app.timeline import Timeline
from viz.trace.model import Trace

DATA = Path(__file__).parent / "data"


def app_on(name: str) -> VizApp:
    return VizApp(trace=Trace.load(DATA / f"{name}.jsonl"), trace_name=name)


def pilot(name: str, body) -> None:
    async def run():
        app = app_on(name)
        async with app.run_test(size=(120, 40)) as p:
            await p.pause()
            await body(app, app.screen, p)
    asyncio.run(run())


def test_each_breakpoint_finds_the_first_event_of_its_kind_after_the_playhead():
    trace = Trace.load(DATA / "sleepers_unpatched.jsonl")
    fun = next(ln for ln in trace.lanes if ln.name == "fun")
    blocked = next(s for s in trace.spans(fun) if s.blocks_loop)
    t, words = Breakpoints(loop_blocked=True).first_hit(trace, 0.0, trace.duration, None)
    assert t == blocked.start and words.startswith("fun blocks the whole loop: time.sleep(2)")
    t, words = Breakpoints(state_change=True).first_hit(trace, blocked.start, trace.duration, fun)
    assert t == blocked.end and words.startswith("fun is ")
    t, words = Breakpoints(output="TIME SPENT").first_hit(trace, 0.0, trace.duration, None)
    assert words.startswith("output: time spent")
    assert Breakpoints(loop_blocked=True).first_hit(trace, blocked.start, blocked.start + 0.5, None) is None


def test_playing_pauses_at_a_loop_blocking_breakpoint_set_in_the_dialog():
    async def body(app, screen, p):
        await p.press("home", "B")
        await p.pause()
        assert isinstance(app.screen, BreakpointsScreen)
        await p.click("#bp-loop")
        await p.click("#bp-set")
        await p.pause()
        assert screen._breakpoints == Breakpoints(loop_blocked=True)
        await p.press("right_square_bracket", "right_square_bracket", "space")  # faster, then play
        for _ in range(300):
            await p.pause(0.02)
            if not screen.playback.playing:
                break
        fun = next(ln for ln in screen.trace.lanes if ln.name == "fun")
        first_block = next(s for s in screen.trace.spans(fun) if s.blocks_loop)
        assert not screen.playback.playing and screen.playback.t == first_block.start
    pilot("sleepers_unpatched", body)


def test_m_bookmarks_the_playhead_and_the_apostrophe_goes_back_to_it():
    async def body(app, screen, p):
        await p.press("home", "right", "right")
        marked = screen.playback.t
        await p.press("m", "end", "apostrophe")
        assert screen.playback.t == marked
        await p.press("m", "end", "apostrophe")  # m on the bookmark removed it: nothing to go back to
        assert screen.playback.t == screen.playback.end
    pilot("gevent_sleepers", body)


def test_o_maximises_the_output_esc_brings_it_back_and_c_switches_to_high_contrast_and_back():
    async def body(app, screen, p):
        before = app.theme
        await p.press("o")
        assert screen.maximized is screen.query_one(OutputView)
        await p.press("escape")
        assert screen.maximized is None and isinstance(app.screen, RunScreen)  # still the run, not the picker
        await p.press("e")
        assert screen.maximized is screen.query_one("#source")
        await p.press("e")
        assert screen.maximized is None
        await p.press("c")
        assert app.theme == HIGH_CONTRAST.name
        assert screen.query_one(Timeline).get_component_rich_style("lane--running").color is not None
        await p.press("c")
        assert app.theme == before
    pilot("gevent_sleepers", body)


def test_predict_hides_the_future_asks_who_runs_next_and_keeps_score():
    async def body(app, screen, p):
        from viz.app.predict import PredictBar, next_turn
        timeline = screen.query_one(Timeline)
        await p.press("home", "P")
        bar = screen.query_one(PredictBar)
        assert bar.display and timeline.hide_future
        game = screen._predict
        t, first = next_turn(screen.trace, screen.playback.t)
        assert first.name == "fun"  # spawned first, it runs first
        await p.press(str(game.choices.index(first) + 1))
        assert (game.right, game.asked) == (1, 1) and screen.playback.t == t
        assert "✔ right: fun" in str(bar.render())
        wrong = next(i for i, lane in enumerate(game.choices, 1) if lane is not game.answer[1])
        await p.press(str(wrong))
        assert (game.right, game.asked) == (1, 2) and "✘ it was" in str(bar.render())
        await p.press("P")
        assert not bar.display and not timeline.hide_future
    pilot("gevent_sleepers", body)
