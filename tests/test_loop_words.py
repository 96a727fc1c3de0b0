"""A span's `blocks_loop` flag is data; each view says it in the same words, "blocks the whole loop", after the
call's own reason (which no longer carries them)."""

from __future__ import annotations

import io

from rich.console import Console

from viz.app.lanes import LanePainter
from viz.trace.format import header
from viz.trace.model import Trace
from viz.views.cells import LOOP_WORDS, with_loop_words
from viz.views.chrome import to_chrome
from viz.views.text import swimlanes, totals_table


def sleeping_trace(reason: str | None = "time.sleep(2)") -> Trace:
    trace = Trace(header(target="test", file="t.py"))
    trace.add({"k": "task", "t": 0.0, "task": 1, "name": "fun", "kind": "greenlet"})
    trace.add({"k": "state", "t": 0.0, "task": 1, "state": "running"})
    trace.add({"k": "state", "t": 0.1, "task": 1, "state": "blocked", "reason": reason, "blocks_loop": True,
               "line": 3})
    trace.add({"k": "state", "t": 2.1, "task": 1, "state": "running"})
    trace.add({"k": "end", "t": 2.2, "task": 1})
    return trace


def printed(renderable, width: int = 160) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def test_the_words_follow_the_reason_or_stand_alone():
    assert with_loop_words("time.sleep(2)", True) == "time.sleep(2) — blocks the whole loop"
    assert with_loop_words(None, True) == LOOP_WORDS == "blocks the whole loop"
    assert with_loop_words("gevent.sleep(2)", False) == "gevent.sleep(2)"


def test_the_text_view_labels_the_lane_and_heads_the_totals_with_the_words():
    trace = sleeping_trace()
    assert "time.sleep(2) — blocks the whole loop" in printed(swimlanes(trace, 160, color=False))
    assert LOOP_WORDS in printed(totals_table(trace))


def test_the_app_writes_the_words_after_the_reason_inside_the_bar():
    trace = sleeping_trace()
    runs = LanePainter(trace).runs(trace.lanes[0], 0.0, 0.02, 110)
    assert [label for *_, label in runs if label] == [" time.sleep(2) — blocks the whole loop "]


def test_a_call_with_no_reason_that_blocks_the_loop_is_still_labelled():
    trace = sleeping_trace(reason=None)
    runs = LanePainter(trace).runs(trace.lanes[0], 0.0, 0.02, 110)
    assert [label for *_, label in runs if label] == [" blocks the whole loop "]


def test_the_perfetto_export_names_the_slice_and_flags_it_in_category_and_args():
    slices = [e for e in to_chrome(sleeping_trace())["traceEvents"] if e["ph"] == "X"]
    loop = [e for e in slices if e["args"].get("blocks_loop")]
    assert len(loop) == 1
    assert loop[0]["name"] == "blocks the whole loop" and loop[0]["cat"] == "greenlet,blocks_loop"
    assert loop[0]["args"]["reason"] == "time.sleep(2)" and loop[0]["args"]["state"] == "blocked"
    assert [e["name"] for e in slices if e is not loop[0]] == ["running", "running"]
