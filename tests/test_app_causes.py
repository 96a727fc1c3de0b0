"""Why a task woke, in the app: the details panel names the cause of the selected span, w jumps to the waker's lane and
moment (again: along the chain of causes), W comes back the same way, and . / , step through one lane's events."""

from __future__ import annotations

import asyncio

from conftest import lane, run_session, spans
from viz.app.app import VizApp
from viz.app.details import DetailsPanel
from viz.app.timeline import Timeline

# main holds the lock 0.3 s while worker waits for it; worker takes it, ends; main's join returns.
# Causes: worker's run after the wait <- main (the lock released), main's run after the join <- worker (it ended).
HANDOFF = """\
import threading, time

lock = threading.Lock()

def worker():
    with lock:
        pass

lock.acquire()
t = threading.Thread(target=worker, name="worker")
t.start()
time.sleep(0.3)
lock.release()
t.join()
"""


def handoff(script):
    _, trace = run_session(script(HANDOFF))
    wait = next(s for s in spans(trace, "worker", "blocked") if "Lock.acquire" in (s.reason or ""))
    assert 0.25 <= wait.end - wait.start <= 0.6, wait
    return trace, wait


def details_text(app) -> str:
    panel = app.screen.query_one(DetailsPanel)
    return str(panel.render())


async def select(pilot, name: str) -> None:
    timeline = pilot.app.screen.query_one(Timeline)
    want = [ln.name for ln in timeline.rows].index(name)
    key = "down" if want > timeline.selected else "up"
    await pilot.press(*[key] * abs(want - timeline.selected))
    assert timeline.selected_lane.name == name


def test_the_details_of_a_span_after_a_lock_wait_say_the_lock_holder_woke_it_and_when(script):
    trace, wait = handoff(script)
    worker = lane(trace, "worker")
    cause = trace.cause_of(worker, wait.index + 1)
    assert cause is not None and cause.by == lane(trace, "main").task and abs(cause.t - wait.end) < 1e-6

    async def run():
        app = VizApp(trace=trace, trace_name="handoff")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await select(pilot, "worker")
            app.screen.playback.seek(wait.end)
            app.screen._sync()
            await pilot.pause()
            text = details_text(app)
            assert f"woken by: main at {wait.end:.4f} s — {cause.what}" in text, text
    asyncio.run(run())


def test_w_walks_the_chain_of_causes_back_from_main_joining_and_W_returns_along_it(script):
    trace, wait = handoff(script)
    main, worker = lane(trace, "main"), lane(trace, "worker")
    last_run = len(main) - 1
    joined = trace.cause_of(main, last_run)
    assert joined is not None and joined.by == worker.task, joined
    assert abs(joined.t - wait.end) < 0.05  # worker ran only to release the lock and end

    async def run():
        app = VizApp(trace=trace, trace_name="handoff")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            timeline = screen.query_one(Timeline)
            await pilot.pause()
            await select(pilot, "main")
            await pilot.press("end", "comma")  # main's own last event: its run after the join
            await pilot.pause()
            assert screen.playback.t == main.starts[last_run]
            assert "woken by: worker" in details_text(app)
            await pilot.press("w")  # to worker, which woke main by ending
            await pilot.pause()
            assert timeline.selected_lane is worker and screen.playback.t == joined.t
            assert "woken by: main" in details_text(app)  # worker's own run was woken by main releasing the lock
            assert timeline.link is not None and timeline.link[1] is main and timeline.link[2] is worker
            await pilot.press("w")  # to main, releasing the lock
            await pilot.pause()
            assert timeline.selected_lane is main and screen.playback.t == wait.end
            held = screen._pinned[2]  # main's span that released the lock: its run after the 0.3 s sleep
            assert main.states[held] == 0 and main.states[held - 1] == 2
            assert 0.25 <= main.starts[held] - main.starts[held - 1] <= 0.6
            await pilot.press("W")
            await pilot.pause()
            assert timeline.selected_lane is worker and screen.playback.t == joined.t
            await pilot.press("backspace")
            await pilot.pause()
            assert timeline.selected_lane is main and screen.playback.t == main.starts[last_run]
    asyncio.run(run())


def test_full_stop_and_comma_step_through_the_selected_lanes_own_events_only(script):
    trace, wait = handoff(script)
    worker = lane(trace, "worker")
    own = [*worker.starts, worker.ended]
    others = {t for ln in trace.lanes if ln is not worker for t in ln.starts} - set(own)
    assert any(own[0] < t < own[-1] for t in others)  # main changed state in between: a plain step would stop there

    async def run():
        app = VizApp(trace=trace, trace_name="handoff")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            await pilot.pause()
            await select(pilot, "worker")
            await pilot.press("home")
            own[:] = [t for t in own if t > screen.playback.t]
            visited = []
            for _ in own:
                await pilot.press("full_stop")
                visited.append(screen.playback.t)
            assert visited == own
            await pilot.press("comma", "comma")
            assert screen.playback.t == own[-3]
    asyncio.run(run())


def test_w_on_a_span_no_task_caused_leaves_the_playhead_and_the_lane_where_they_are(script):
    trace, wait = handoff(script)
    main = lane(trace, "main")
    sleep = next(s for s in spans(trace, "main", "blocked") if s.reason == "time.sleep(0.3)")
    assert 0.25 <= sleep.end - sleep.start <= 0.6 and trace.cause_of(main, sleep.index) is None

    async def run():
        app = VizApp(trace=trace, trace_name="handoff")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            timeline = screen.query_one(Timeline)
            await pilot.pause()
            await select(pilot, "main")
            screen.playback.seek((sleep.start + sleep.end) / 2)
            screen._sync()
            await pilot.press("w")
            await pilot.pause()
            assert timeline.selected_lane is main and screen.playback.t == (sleep.start + sleep.end) / 2
            assert timeline.link is None and "woken" not in details_text(app)
            await pilot.press("W")  # nothing walked: nowhere to go back to
            assert screen.playback.t == (sleep.start + sleep.end) / 2
    asyncio.run(run())


def test_w_after_a_lane_ended_walks_from_the_last_span_the_details_panel_shows(script):
    trace, wait = handoff(script)
    worker = lane(trace, "worker")
    last = len(worker.starts) - 1
    link = trace.cause_of(worker, last)
    assert link is not None and worker.ended is not None, "the worker's last run was caused by main's release"

    async def run():
        app = VizApp(trace=trace, trace_name="handoff")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            timeline = screen.query_one(Timeline)
            await pilot.pause()
            await select(pilot, "worker")
            screen.playback.seek(trace.duration)  # past the worker's end: the panel shows how it ended
            screen._sync()
            await pilot.pause()
            assert "woken by: main" in details_text(app)
            await pilot.press("w")
            await pilot.pause()
            assert timeline.selected_lane.name == "main" and screen.playback.t == link.t
    asyncio.run(run())
