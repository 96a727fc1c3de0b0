"""A live run's pace and tuning: when folding and redrawing make way for the user, and the interpreter settings of
a live run (the periodic freezing of what survived, and putting it all back)."""

import gc
import sys
import weakref

import pytest

from viz.app.live import (FOLD_BATCH, FOLD_BUDGET, FOLD_EVERY, FOLD_REST, INPUT_HOLD, INPUT_STREAK, LIVE_REFRESH, LIVE_SPACING,
                          LivePace)
from viz.app.tuning import RELEASE_EVERY, SWITCH_INTERVAL, YOUNG_THRESHOLD, LiveTuning


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the collector frees it


def test_settle_freezes_survivors_and_a_release_collects_frozen_cycles_then_restore_puts_everything_back():
    interval, threshold = sys.getswitchinterval(), gc.get_threshold()
    tuning = LiveTuning()
    tuning.apply(now=100.0)
    try:
        assert sys.getswitchinterval() == SWITCH_INTERVAL and gc.get_threshold()[0] >= YOUNG_THRESHOLD
        cycle = Node()
        ref = weakref.ref(cycle)
        survivors = [[] for _ in range(50)]
        frozen = gc.get_freeze_count()
        tuning.settle(now=101.0)
        assert gc.get_freeze_count() >= frozen + len(survivors)  # out of the young collections from now on
        del cycle
        gc.collect()
        assert ref() is not None  # frozen: not even a full collection looks at it
        tuning.settle(now=100.0 + RELEASE_EVERY)
        assert ref() is None  # handed back and collected once a RELEASE_EVERY
    finally:
        tuning.restore()
    assert (sys.getswitchinterval(), gc.get_threshold()) == (interval, threshold)
    assert gc.get_freeze_count() == 0


def test_settle_does_nothing_when_no_live_run_is_tuned():
    tuning = LiveTuning()
    tuning.settle(now=1e9)
    assert gc.get_freeze_count() == 0


def test_input_that_keeps_coming_holds_folding_only_at_first():
    """A held key repeats every 30 ms: holding the folding for each repeat would stop the records (and, the pipe
    full, the program) for as long as the key is held; only the streak's first INPUT_STREAK seconds hold it."""
    pace = LivePace()

    def held_by(at: float) -> bool:
        before = pace.input_until
        pace.user_input(at)
        return pace.input_until != before

    start = 1000.0
    repeats = [held_by(start + 0.03 * k) for k in range(40)]  # 1.2 s of a repeating key
    streak = int(INPUT_STREAK / 0.03)
    assert all(repeats[:streak]) and not any(repeats[streak + 1:])
    later = start + 0.03 * 40 + 0.2
    assert held_by(later)  # after a pause, the next key is a new streak: it holds again
    assert pace.fold_wait(later) == pytest.approx(INPUT_HOLD) and not pace.redraw_due(later)


def test_folding_rests_as_long_as_it_took_and_redraws_space_out_as_they_get_dearer():
    pace = LivePace()
    assert pace.fold_wait(10.0) == 0 and pace.redraw_due(10.0)
    rest = pace.folded(10.0, 10.0 + FOLD_BUDGET)
    assert rest == pytest.approx(FOLD_BUDGET * FOLD_REST) and pace.fold_wait(10.0 + FOLD_BUDGET) == rest
    pace.redrew(20.0, 20.01, painted=0.0)  # a cheap redraw: the next at LIVE_REFRESH
    assert not pace.redraw_due(20.0 + LIVE_REFRESH - 0.001) and pace.redraw_due(20.0 + LIVE_REFRESH)
    pace.redrew(30.0, 30.05, painted=0.05)  # a dear one: spaced out by LIVE_SPACING times its cost
    assert not pace.redraw_due(30.0 + 0.5) and pace.redraw_due(30.0 + LIVE_SPACING * 0.15)


def test_a_few_frames_wait_for_more_until_fold_every_but_a_batch_of_frames_is_folded_at_once():
    """Each fold ends by writing every lane it touched: with a thousand lanes, folding a frame at a time would cost
    more than the folding itself, so a trickle of frames is folded at most every FOLD_EVERY, a flood at once."""
    pace = LivePace()
    assert pace.fold_wait(10.0, waiting=1) == 0  # the first fold: nothing to wait for
    pace.folded(10.0, 10.001)
    soon = 10.002
    assert pace.fold_wait(soon, waiting=1) == pytest.approx(10.0 + FOLD_EVERY - soon)
    assert pace.fold_wait(soon, waiting=FOLD_BATCH) == 0  # (its rest after the last fold is over by then)
    assert pace.fold_wait(10.0 + FOLD_EVERY, waiting=1) == 0
