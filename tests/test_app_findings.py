"""The findings list in the app: `!` lists what went wrong, and enter takes the playhead and the selection there."""

from __future__ import annotations

import asyncio
from pathlib import Path

from viz.app.app import VizApp
from viz.app.findings import FindingsScreen
from viz.app.timeline import Timeline
from viz.trace.model import Trace

DATA = Path(__file__).parent / "data"


def test_enter_on_a_finding_moves_the_playhead_to_it_and_selects_the_task_that_held_the_loop():
    async def run():
        app = VizApp(trace=Trace.load(DATA / "sleepers_unpatched.jsonl"), trace_name="sleepers_unpatched")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("end", "exclamation_mark")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, FindingsScreen)
            assert [f.kind for f in screen.findings][:3] == ["loop-blocked"] * 3, screen.findings
            first = screen.findings[0]
            assert first.task_name == "fun" and first.text.startswith("time.sleep(2)")
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, FindingsScreen)
            timeline = app.screen.query_one(Timeline)
            assert timeline.selected_lane.name == "fun"
            assert abs(app.screen.playback.t - first.t) < 1e-9
    asyncio.run(run())


def test_a_run_without_findings_says_so_and_esc_closes_the_list():
    async def run():
        app = VizApp(trace=Trace.load(DATA / "gevent_sleepers.jsonl"), trace_name="gevent_sleepers")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press("exclamation_mark")
            await pilot.pause()
            assert isinstance(app.screen, FindingsScreen) and app.screen.findings == []
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, FindingsScreen)
    asyncio.run(run())
