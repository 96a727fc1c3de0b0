"""Snapshots of the app's main screens, drawn from saved traces (tests/data/*.jsonl) so they are deterministic.

Review changes with `pytest tests/test_app_snapshots.py --snapshot-update` and look at the SVGs it writes.
"""

from __future__ import annotations

from pathlib import Path

from viz.app.app import VizApp
from viz.app.timeline import Timeline
from viz.scenarios import list_scenarios
from viz.trace.model import Trace

DATA = Path(__file__).parent / "data"
PICKED = ("baozi", "gevent_sleepers", "sleepers_unpatched", "select_server")  # the picker's list, fixed for its snapshot


def saved(name: str) -> VizApp:
    return VizApp(trace=Trace.load(DATA / f"{name}.jsonl"), trace_name=name)


async def settled(pilot) -> None:
    """Wait for background work (source highlighting) and the redraw after it."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def steps(n: int) -> list[str]:
    return ["home"] + ["right"] * n


def test_the_picker_shows_scenarios_and_a_preview(snap_compare):
    app = VizApp(picker=True, scenarios=[s for s in list_scenarios() if s.name in PICKED])
    assert snap_compare(app, press=["down", "down"], terminal_size=(120, 40), run_before=settled)


def test_gevent_sleepers_at_the_end_of_the_run(snap_compare):
    assert snap_compare(saved("gevent_sleepers"), terminal_size=(120, 40), run_before=settled)


def test_sleepers_unpatched_while_fun_blocks_the_whole_loop(snap_compare):
    async def one_second_in(pilot) -> None:
        await settled(pilot)
        timeline = pilot.app.screen.query_one(Timeline)
        x = timeline.view.cell_of(1.0)
        await pilot.click(Timeline, offset=(timeline.name_width + x, 3))  # fun's lane, one second in
        await settled(pilot)

    assert snap_compare(saved("sleepers_unpatched"), terminal_size=(120, 40), run_before=one_second_in)


def test_select_server_mid_run_at_80x24(snap_compare):
    assert snap_compare(saved("select_server"), press=steps(40), terminal_size=(80, 24), run_before=settled)


def test_baozi_zoomed_in_on_the_generators(snap_compare):
    assert snap_compare(saved("baozi"), press=steps(12) + ["plus", "plus"], terminal_size=(120, 40),
                        run_before=settled)


def test_the_help_screen(snap_compare):
    assert snap_compare(saved("gevent_sleepers"), press=["question_mark"], terminal_size=(100, 30),
                        run_before=settled)


def test_a_terminal_too_small_shows_a_message(snap_compare):
    assert snap_compare(saved("gevent_sleepers"), terminal_size=(50, 12), run_before=settled)


def test_a_tour_stop_of_sleepers_unpatched_at_80x24(snap_compare):
    assert snap_compare(saved("sleepers_unpatched"), press=["t", "n"], terminal_size=(80, 24), run_before=settled)


def test_predict_mode_after_one_guess_on_gevent_sleepers(snap_compare):
    assert snap_compare(saved("gevent_sleepers"), press=["home", "P", "2"], terminal_size=(100, 30),
                        run_before=settled)


def test_the_compare_screen_with_gevent_sleepers_against_sleepers_unpatched(snap_compare):
    from viz.app.compare import compare_app
    from viz.views.compare import Run

    runs = [Run(name, Trace.load(DATA / f"{name}.jsonl")) for name in ("gevent_sleepers", "sleepers_unpatched")]
    assert snap_compare(compare_app(runs), press=["home"] + ["right"] * 8, terminal_size=(120, 40),
                        run_before=settled)


def test_the_compare_screen_at_80x24_with_a_lane_of_the_second_run_selected(snap_compare):
    # sleepers_unpatched's fun one second in: time.sleep(2) on line 13 holds the loop; its run printed 2 lines so far
    from viz.app.compare import CompareTimeline, compare_app
    from viz.views.compare import Run

    async def fun_of_the_second_run_one_second_in(pilot) -> None:
        await settled(pilot)
        timeline = pilot.app.screen.query_one(CompareTimeline)
        row = next(i for i, lane in enumerate(timeline.rows)
                   if timeline.row_run[i] == 1 and lane is not None and lane.name == "fun")
        await pilot.press(*["down"] * row)
        await pilot.click(CompareTimeline, offset=(timeline.name_width + timeline.view.cell_of(1.0), 0))
        await settled(pilot)

    runs = [Run(name, Trace.load(DATA / f"{name}.jsonl")) for name in ("gevent_sleepers", "sleepers_unpatched")]
    assert snap_compare(compare_app(runs), terminal_size=(80, 24), run_before=fun_of_the_second_run_one_second_in)


def test_a_cause_connector_from_main_releasing_the_lock_to_the_worker_it_woke(snap_compare):
    # lock_handoff: rows main, bystander, worker; worker's 4th event is its run once main released the lock (0.31 s):
    # a connector ╷ │ ╵ in that column from main's row through bystander's to worker's, and the details say why
    assert snap_compare(saved("lock_handoff"), press=["down", "down", "home"] + ["full_stop"] * 4,
                        terminal_size=(120, 40), run_before=settled)
