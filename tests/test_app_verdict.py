"""The verdict in the app: the summary's first line and title, and `h` to leave a task out of it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from viz.app.app import VizApp
from viz.app.summary import SummaryPanel
from viz.app.timeline import Timeline
from viz.trace.model import Trace

DATA = Path(__file__).parent / "data"


def test_h_marks_the_selected_task_as_a_helper_and_the_verdict_leaves_it_out_until_h_again():
    async def run():
        app = VizApp(trace=Trace.load(DATA / "gevent_sleepers.jsonl"), trace_name="gevent_sleepers")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            summary = app.screen.query_one(SummaryPanel)
            assert summary.border_title == "summary · 1.7x"  # 3.5 s of sleeping done in 2.0 s
            timeline = app.screen.query_one(Timeline)
            while timeline.selected_lane.name != "fun":
                await pilot.press("down")
            await pilot.press("h")
            await pilot.pause()
            assert summary.border_title == "summary · 1.5x"  # inner and outer: 1.5 s in 1.0 s
            assert "1.50 s of waiting done in 1.00 s" in str(summary.render())
            await pilot.press("h")
            await pilot.pause()
            assert summary.border_title == "summary · 1.7x"
    asyncio.run(run())


def test_a_marked_range_makes_the_summary_cover_it_and_h_then_shift_h_hides_a_helper_lane():
    async def run():
        app = VizApp(trace=Trace.load(DATA / "gevent_sleepers.jsonl"), trace_name="gevent_sleepers")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            screen = app.screen
            summary = screen.query_one(SummaryPanel)
            screen.playback.seek(1.2)
            await pilot.press("left_parenthesis")
            screen.playback.seek(1.8)
            await pilot.press("right_parenthesis")
            await pilot.pause()
            assert summary.border_title == "summary · 1.20 s–1.80 s · 1.0x"  # only fun sleeps then
            assert "600 ms of waiting done in 600 ms" in str(summary.render())
            await pilot.press("right_parenthesis")  # again at the same moment: the range is open-ended again
            assert summary.until is None
            timeline = screen.query_one(Timeline)
            while timeline.selected_lane.name != "outer":
                await pilot.press("down")
            await pilot.press("h", "H")
            assert "outer" not in [lane.name for lane in timeline.rows]
            await pilot.press("H")
            assert "outer" in [lane.name for lane in timeline.rows]
    asyncio.run(run())
