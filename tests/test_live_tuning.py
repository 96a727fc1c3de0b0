"""LiveTuning: the interpreter settings of a live run, the periodic freezing of what survived, and putting it back."""

import gc
import sys
import weakref

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
