"""The app as a new user first meets it, at 80x24, 100x30, 120x40 and 200x50 (issue 17): lane names that can be
told apart, panels that fit, fitting and stepping that show something, the scenarios a key away, the palette found."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

from viz.app.app import VizApp
from viz.app.picker import PickerScreen
from viz.app.run_screen import RunScreen
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
