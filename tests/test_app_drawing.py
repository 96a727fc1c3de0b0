"""The app's pure drawing logic, without Textual: time <-> cells, a lane's cells, totals so far, playback."""

from __future__ import annotations

import random

import pytest

from viz.app.lanes import SYNC_SPANS, LanePainter, display_order
from viz.app.playback import SPEEDS, Playback, activity_start, comfortable_speed, speed_label
from viz.app.saving import default_path
from viz.views.verdict import counted_lanes, verdict
from viz.trace.totals import LOOP, Totals
from viz.app.timescale import View, fit, fmt_time, nice_step, ticks
from viz.views.durations import fmt_duration
from viz.trace.format import header
from viz.trace.model import Trace
from viz.views.cells import BLOCKED_V, IDLE_V, LOOP_V, NONE, READY_V, RUNNING_V, exact_row

CODE = {"running": RUNNING_V, "ready": READY_V, "blocked": BLOCKED_V, "idle": IDLE_V}


def make_trace(lanes: dict[str, list[tuple]], end: float | None = None, finished: bool = True) -> Trace:
    """lanes: name -> [(t, state, reason, blocks_loop?), ...]; every lane ends at `end`."""
    trace = Trace(header(target="test", file="t.py"))
    for task, (name, spans) in enumerate(lanes.items(), start=1):
        kind = "main" if task == 1 else "greenlet"
        trace.add({"k": "task", "t": spans[0][0], "task": task, "name": name, "kind": kind})
        for t, state, reason, *flag in spans:
            trace.add({"k": "state", "t": t, "task": task, "state": state, "reason": reason,
                       "blocks_loop": bool(flag and flag[0]), "line": 3})
    if end is not None:
        for task in range(1, len(lanes) + 1):
            trace.add({"k": "end", "t": end, "task": task})
        if finished:
            trace.add({"k": "exit", "t": end, "outcome": "finished", "status": 0})
    return trace


def cells_of(runs) -> list:
    """Expand runs into one entry per cell: a code, or (left, right, eighths) for an edge cell."""
    out = []
    for left, right, eighths, width, _label in runs:
        out.extend([left if eighths == 8 else (left, right, eighths)] * width)
    return out


def reference_cell(trace: Trace, lane, a: float, b: float) -> int:
    """The most important code among the spans overlapping [a, b): the definition the painter must match."""
    best = NONE
    for i in range(len(lane.starts)):
        s, e = lane.starts[i], trace.span_end(lane, i)
        if s < b and (e > a or s == e and s >= a):
            code = LOOP_V if lane.flags[i] else CODE[("running", "ready", "blocked", "idle")[lane.states[i]]]
            best = max(best, code)
    return best


# ---- time on screen ----------------------------------------------------------------------------------------
def test_nice_steps_are_one_two_or_five_times_a_power_of_ten():
    assert nice_step(0.3) == pytest.approx(0.5)
    assert nice_step(0.05) == pytest.approx(0.05)
    assert nice_step(1.2e-3) == pytest.approx(2e-3)
    assert nice_step(7) == pytest.approx(10)


def test_a_view_maps_instants_to_cells_and_clicks_back_to_instants():
    view = View(1.0, 0.1, 50)
    assert view.cell_of(1.0) == 0
    assert view.cell_of(1.25) == 2
    assert view.cell_of(0.95) == -1
    assert view.cell_of(view.time_at(7)) == 7
    assert view.t1 == pytest.approx(6.0)


def test_zooming_keeps_the_instant_under_the_playhead_in_its_column():
    view = View(0.0, 0.1, 80)
    x = view.cell_of(3.0)
    zoomed = view.zoomed(0.5, 3.0)
    assert zoomed.dt == pytest.approx(0.05)
    assert zoomed.cell_of(3.0) == x


def test_fit_shows_the_whole_range_across_the_width():
    view = fit(0.5, 2.5, 101)
    assert view.cell_of(0.5) == 0
    assert view.cell_of(2.5) == 100


def test_axis_ticks_are_round_times_inside_the_view_and_far_enough_apart():
    step, marks = ticks(View(0.0, 0.02, 100), min_gap=12)
    assert step == pytest.approx(0.5)
    assert [round(t, 6) for _, t in marks] == [0.0, 0.5, 1.0, 1.5]
    assert all(b[0] - a[0] >= 12 for a, b in zip(marks, marks[1:]))


def test_times_are_written_in_units_that_suit_their_size():
    assert fmt_time(1.5, 0.5) == "1.5 s"
    assert fmt_time(0.0085, 0.0005) == "8.5 ms"
    assert fmt_duration(2.0) == "2.00 s"
    assert fmt_duration(0.501) == "501 ms"
    assert fmt_duration(12.3e-6) == "12.3 µs"


# ---- a lane as cells ---------------------------------------------------------------------------------------
def test_a_lane_is_blank_before_it_starts_and_after_it_ends():
    trace = make_trace({"main": [(1.0, "running", None), (2.0, "blocked", None)]}, end=3.0)
    cells = cells_of(LanePainter(trace).runs(trace.lanes[0], 0.0, 0.5, 10, labels=False))
    assert cells == [NONE, NONE, RUNNING_V, RUNNING_V, BLOCKED_V, BLOCKED_V, NONE, NONE, NONE, NONE]


def test_a_change_inside_a_cell_is_drawn_as_an_eighth_block_edge():
    trace = make_trace({"main": [(0.0, "running", None), (1.25, "blocked", None)]}, end=3.0)
    cells = cells_of(LanePainter(trace).runs(trace.lanes[0], 0.0, 0.5, 6, labels=False))
    assert cells[2] == (RUNNING_V, BLOCKED_V, 4)  # half the cell running, half blocked
    assert cells[:2] == [RUNNING_V, RUNNING_V] and cells[3:] == [BLOCKED_V, BLOCKED_V, BLOCKED_V]


def test_a_brief_run_inside_a_long_wait_stays_visible_when_zoomed_out():
    trace = make_trace({"main": [(0.0, "blocked", None), (4.0001, "running", None), (4.0002, "blocked", None)]},
                       end=10.0)
    cells = cells_of(LanePainter(trace).runs(trace.lanes[0], 0.0, 1.0, 10, labels=False))
    assert cells[4] == RUNNING_V
    assert cells[3] == BLOCKED_V and cells[5] == BLOCKED_V


def test_a_call_that_blocks_the_loop_has_its_own_look():
    trace = make_trace({"fun": [(0.0, "running", None), (0.5, "blocked", "time.sleep(2)", True)]}, end=2.5)
    cells = cells_of(LanePainter(trace).runs(trace.lanes[0], 0.0, 0.5, 5, labels=False))
    assert cells[1:] == [LOOP_V] * 4


def test_a_wide_span_carries_its_reason_as_a_label():
    trace = make_trace({"fun": [(0.0, "blocked", "gevent.sleep(2)")]}, end=2.0)
    runs = LanePainter(trace).runs(trace.lanes[0], 0.0, 0.05, 40)
    labels = [label for *_, label in runs if label]
    assert labels == [" gevent.sleep(2) "]
    assert sum(run[3] for run in runs) == 40


def test_a_label_too_long_for_its_span_is_cut_short_or_left_out():
    trace = make_trace({"fun": [(0.0, "blocked", "a_rather_long_reason_for_waiting()"), (1.0, "running", None)]},
                       end=2.0)
    painter = LanePainter(trace)
    cut = [label for *_, label in painter.runs(trace.lanes[0], 0.0, 0.05, 40) if label]
    assert cut and cut[0].strip().endswith("…") and len(cut[0]) <= 18
    none = [label for *_, label in painter.runs(trace.lanes[0], 0.0, 0.2, 10) if label]
    assert none == []


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dt", [0.37, 0.05, 0.013])
def test_every_cell_shows_the_most_important_state_among_the_spans_it_covers(seed, dt):
    rnd = random.Random(seed)
    t, spans = 0.3, []
    for _ in range(rnd.randrange(5, 120)):
        state = rnd.choice(["running", "ready", "blocked", "idle"])
        spans.append((t, state, None, state == "blocked" and rnd.random() < 0.2))
        t += rnd.expovariate(8.0)
    trace = make_trace({"lane": spans}, end=t + 0.1)
    lane = trace.lanes[0]
    width, t0 = 60, 0.1234
    cells = cells_of(LanePainter(trace).runs(lane, t0, dt, width, labels=False))
    assert len(cells) == width
    for c, got in enumerate(cells):
        a, b = t0 + c * dt, t0 + (c + 1) * dt
        want = reference_cell(trace, lane, a, b)
        if isinstance(got, tuple):  # an edge: two states, the more important one among them
            assert max(got[0], got[1]) == want
        else:
            assert got == want, (c, a, b)


def test_a_live_lane_grows_and_its_codes_are_only_extended():
    trace = make_trace({"main": [(0.0, "running", None)]})
    painter = LanePainter(trace)
    lane = trace.lanes[0]
    first = painter.codes(lane)
    trace.add({"k": "state", "t": 1.0, "task": 1, "state": "blocked", "blocks_loop": True})
    assert painter.codes(lane) is first
    assert list(first) == [RUNNING_V, LOOP_V]


# ---- dense views: the lane summaries ------------------------------------------------------------------------
def random_lane(rnd: random.Random, n: int, grid: bool) -> list[tuple]:
    """n spans; on a grid of round times (so changes fall exactly on cell and bucket edges) or at random times, with
    some spans of no length and some long waits."""
    t, spans = rnd.choice([0.0, 0.3, 1.0]), []
    for _ in range(n):
        state = rnd.choice(["running", "ready", "blocked", "idle"])
        spans.append((t, state, None, state == "blocked" and rnd.random() < 0.2))
        if rnd.random() < 0.05:
            continue  # a span of no length
        t += rnd.choice([0.125, 0.25, 0.5, 1 / 64]) if grid else (
            rnd.expovariate(8.0) if rnd.random() < 0.9 else rnd.expovariate(0.3))
    return spans


def cell_codes(runs) -> list[int]:
    """One code per cell; an edge cell counts as the more important of its two states."""
    return [max(c[0], c[1]) if isinstance(c, tuple) else c for c in cells_of(runs)]


def reference_row(trace: Trace, lane, t0: float, dt: float, width: int) -> list[int]:
    return [reference_cell(trace, lane, t0 + c * dt, t0 + (c + 1) * dt) for c in range(width)]


def dense_views(rnd: random.Random, end: float, grid: bool, width: int):
    for factor in (1, 2, 5, 13):
        if grid and rnd.random() < 0.5:
            yield rnd.choice([0.0, 0.25, -0.5]), rnd.choice([0.125, 0.25, 0.5, 1.0]) / factor * 4
        else:
            yield rnd.uniform(-1, end / 2), (end + 1) / width / factor * rnd.uniform(0.8, 1.25)


@pytest.mark.parametrize("seed", range(8))
def test_a_dense_view_from_the_summary_shows_the_most_important_state_of_every_cell(seed):
    rnd = random.Random(seed)
    grid = seed % 2 == 1
    spans = random_lane(rnd, rnd.randrange(300, 700), grid)
    trace = make_trace({"lane": spans}, end=spans[-1][0] + 0.5)
    lane = trace.lanes[0]
    painter = LanePainter(trace)
    painter.warm(10.0, [lane])
    assert painter.summary(lane, now=False) is not None
    width = 60
    for t0, dt in dense_views(rnd, painter.lane_end(lane), grid, width):
        want = reference_row(trace, lane, t0, dt, width)
        assert cell_codes(painter.runs(lane, t0, dt, width, labels=False)) == want, (t0, dt)
        assert list(exact_row(lane.starts, painter.codes(lane), painter.lane_end(lane),
                              [t0 + c * dt for c in range(width + 1)])) == want


def test_a_lane_drawn_before_its_summary_is_built_looks_the_same_after():
    rnd = random.Random(7)
    spans = random_lane(rnd, SYNC_SPANS * 3, grid=False)
    trace = make_trace({"lane": spans}, end=spans[-1][0] + 0.5)
    lane = trace.lanes[0]
    painter = LanePainter(trace)
    t0, dt, width = 0.0, painter.lane_end(lane) / 50, 50
    before = painter.runs(lane, t0, dt, width)
    assert painter.behind  # too many spans to summarise inside a frame: drawn from the spans, summary queued
    assert not painter.warm(10.0)
    assert not painter.behind and painter.summary(lane, now=False) is not None
    assert painter.runs(lane, t0, dt, width) == before
    assert cell_codes(before) == reference_row(trace, lane, t0, dt, width)


def test_a_live_lane_keeps_its_summary_up_to_date_and_exact():
    rnd = random.Random(3)
    trace = make_trace({"main": [(0.0, "running", None), (0.0, "blocked", None)]})  # all at one instant at first
    lane = trace.lanes[0]
    painter = LanePainter(trace)
    t = 0.0
    for batch in range(12):
        if batch == 6:
            t += 500.0  # a long quiet stretch: the finest level gets coarser rather than huge
        for _ in range(rnd.randrange(20, 150)):
            t += rnd.expovariate(20.0)
            trace.add({"k": "state", "t": t, "task": 1, "state": rnd.choice(["running", "blocked", "ready"])})
        trace.advance(t + 0.05)
        painter.warm(10.0, [lane])
        summary = painter.summary(lane, now=False)
        finest = summary.levels[summary.k0][1]
        assert len(finest) <= 16 * len(lane.starts) + 4096
        end = painter.lane_end(lane)
        for t0, dt, width in ((0.0, end / 40, 40), (t - 2.0, 2.0 / 40, 40), (end - 0.3, 0.5 / 60, 60)):
            assert cell_codes(painter.runs(lane, t0, dt, width, labels=False)) == \
                reference_row(trace, lane, t0, dt, width), (batch, t0, dt)


def test_a_dense_view_still_writes_a_long_waits_reason():
    spans = [(i * 0.01, "running" if i % 2 else "ready", None) for i in range(200)]
    spans.append((2.0, "blocked", "gevent.sleep(3)"))
    spans.append((5.0, "running", None))
    trace = make_trace({"fun": spans}, end=5.5)
    lane = trace.lanes[0]
    painter = LanePainter(trace)
    painter.warm(10.0, [lane])
    t0, dt, width = 0.0, 5.5 / 60, 60
    assert painter.row(lane, t0, dt, width) is not None  # dense: 200 changes in 60 cells
    runs = painter.runs(lane, t0, dt, width)
    assert [label for *_, label in runs if label] == [" gevent.sleep(3) "]
    assert sum(run[3] for run in runs) == width


def test_lanes_are_ordered_main_first_then_the_loop_then_the_rest():
    trace = Trace(header())
    for task, (name, kind) in enumerate([("fun", "greenlet"), ("main", "main"), ("inner", "greenlet"),
                                         ("hub", "loop")], start=1):
        trace.add({"k": "task", "t": 0.0, "task": task, "name": name, "kind": kind})
    assert [lane.name for lane in display_order(trace.lanes)] == ["main", "hub", "fun", "inner"]


# ---- totals so far -----------------------------------------------------------------------------------------
def test_totals_up_to_the_end_match_the_models_totals():
    trace = make_trace({"main": [(0.0, "running", None), (0.5, "blocked", "join"), (2.0, "running", None)],
                        "fun": [(0.1, "ready", None), (0.3, "running", None), (0.4, "blocked", "sleep", True)]},
                       end=2.5)
    totals = Totals(trace)
    for lane in trace.lanes:
        sums = totals.until(lane, 99.0)
        model = trace.totals(lane)
        assert sums[:4] == pytest.approx([model[s] for s in ("running", "ready", "blocked", "idle")])
        assert sums[LOOP] == pytest.approx(trace.loop_blocked_time(lane))
    judged = verdict(trace, 99.0, totals)
    assert judged.work == pytest.approx(sum(trace.totals(ln)["running"] + trace.totals(ln)["blocked"]
                                            for ln in counted_lanes(trace)))


def test_totals_at_an_instant_count_only_the_time_before_it():
    trace = make_trace({"main": [(0.0, "running", None), (1.0, "blocked", "join")]}, end=3.0)
    sums = Totals(trace).until(trace.lanes[0], 1.5)
    assert sums[0] == pytest.approx(1.0) and sums[2] == pytest.approx(0.5)


# ---- playback ----------------------------------------------------------------------------------------------
def sleepers() -> Trace:
    return make_trace({"main": [(0.0, "running", None), (0.2, "blocked", "join")],
                       "fun": [(0.2, "running", None), (0.3, "blocked", "sleep(2)"), (2.3, "running", None)]},
                      end=2.4)


def test_playing_moves_the_playhead_by_real_time_times_speed_and_stops_at_the_end():
    pb = Playback(sleepers())
    pb.home()
    pb.speed_index = SPEEDS.index(1.0)
    pb.play(100.0)
    start = pb.t
    assert pb.tick(100.5)
    assert pb.t == pytest.approx(start + 0.5)
    pb.tick(200.0)
    assert pb.t == pytest.approx(2.4) and not pb.playing


def test_playing_again_at_the_end_starts_over():
    pb = Playback(sleepers())
    pb.play(0.0)
    assert pb.t == pytest.approx(pb.start)


def test_stepping_visits_every_state_change_in_order_and_back():
    trace = sleepers()
    pb = Playback(trace)
    pb.home()
    seen = [pb.t]
    while pb.step(+1):
        seen.append(pb.t)
    assert seen == sorted(set(seen))
    assert seen[-1] == pytest.approx(2.3)
    pb.step(-1)
    assert pb.t == pytest.approx(seen[-2])


def test_a_live_playback_follows_the_newest_time_until_the_user_moves_it():
    trace = make_trace({"main": [(0.0, "running", None)]})
    pb = Playback(trace, live=True)
    trace.add({"k": "state", "t": 1.0, "task": 1, "state": "blocked"})
    pb.tick(0.0)
    assert pb.t == pytest.approx(1.0) and pb.following
    pb.step(-1)
    trace.add({"k": "state", "t": 2.0, "task": 1, "state": "running"})
    pb.tick(0.1)
    assert pb.t == pytest.approx(0.0) and not pb.following
    pb.end_()
    assert pb.following


def test_a_short_run_replays_slowly_enough_to_watch():
    trace = make_trace({"main": [(0.0, "running", None), (0.001, "blocked", None)]}, end=0.003)
    speed = SPEEDS[comfortable_speed(trace)]
    assert (0.003 - activity_start(trace)) / speed >= 2.0
    assert speed_label(0.001) == "1/1000x" and speed_label(2.0) == "2x"


def test_saving_picks_a_fresh_name_in_the_folder(tmp_path):
    first = default_path("gevent_sleepers.py", tmp_path, now=0)
    first.write_text("x")
    second = default_path("gevent_sleepers.py", tmp_path, now=0)
    assert first.name.startswith("gevent_sleepers-") and first.name.endswith(".trace.jsonl")
    assert second != first


def test_advancing_a_live_trace_grows_its_open_spans():
    trace = make_trace({"main": [(0.0, "running", None), (0.5, "blocked", "time.sleep(2)", True)]})
    lane = trace.lanes[0]
    trace.advance(1.5)
    assert trace.duration == pytest.approx(1.5)
    assert trace.span_at(lane, 1.2).duration == pytest.approx(1.0)
    trace.advance(1.0)  # never backwards
    assert trace.duration == pytest.approx(1.5)


def test_the_exit_record_ends_a_live_trace_the_clock_estimate_ran_past():
    """The app's clock moves the end on while the last records are on their way; the program's exit sets it."""
    trace = make_trace({"main": [(0.0, "running", None), (0.3, "blocked", "gevent.joinall(…)")]})
    trace.advance(0.55)
    trace.add({"k": "state", "t": 0.33, "task": trace.lanes[0].task, "state": "running"})
    trace.add({"k": "end", "t": 0.334, "task": trace.lanes[0].task})
    assert trace.duration == pytest.approx(0.55)
    trace.add({"k": "exit", "t": 0.334, "outcome": "finished", "status": 0, "signal": None, "detail": None})
    assert trace.duration == pytest.approx(0.334)
    assert trace.span_at(trace.lanes[0], 0.333).state == "running"
