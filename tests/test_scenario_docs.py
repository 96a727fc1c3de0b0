"""What each scenario's docstring tells the viewer to watch names lanes the way viz shows them."""

from __future__ import annotations

import re

import pytest

from conftest import record
from viz.scenarios import list_scenarios

# Python's own names for threads; viz names the main thread's lane `main` and other threads by what they run
PYTHON_THREAD_NAME = re.compile(r"\b(?:MainThread|Thread-\d+|Dummy-\d+)\b")


@pytest.mark.parametrize("scenario", list_scenarios(), ids=lambda s: s.name)
def test_no_scenario_names_a_thread_by_pythons_name_for_it(scenario):
    said = f"{scenario.title} {scenario.watch}"
    assert not PYTHON_THREAD_NAME.search(said), f"{scenario.name}: {PYTHON_THREAD_NAME.search(said).group()}"


def test_the_main_lane_the_model_scenarios_speak_of_is_the_one_viz_draws():
    by_name = {s.name: s for s in list_scenarios()}
    for name in ("model_sync", "model_events"):
        assert "the main lane" in by_name[name].watch.lower()
    trace = record("model_events")
    names = [lane.name for lane in trace.lanes]
    assert names[0] == "main" and "MainThread" not in names
