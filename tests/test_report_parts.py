"""The text report's parts that read whole lanes (each lane's label, the totals, the long-span findings) give what the
plain rule says, also where their fast paths take a shortcut: a longest wait without a reason, ties, a lane whose
time in a state is under a finding's threshold, a table wider than the console."""

from __future__ import annotations

import io
import re

from rich.console import Console

from viz.trace.format import header
from viz.trace.model import Trace
from viz.views.diagnostics import diagnose
from viz.views.text import lane_labels, totals_table
from viz.views.thresholds import parse_thresholds


def lane_trace(spans: list[tuple[float, str, str | None]], end: float, kind: str = "greenlet") -> Trace:
    """One task `t1` with spans (start, state, reason), ending at `end`, beside a gevent hub."""
    trace = Trace(header(target="test", file="t.py"))
    trace.add({"k": "task", "t": 0.0, "task": 9, "name": "hub", "kind": "loop"})
    trace.add({"k": "state", "t": 0.0, "task": 9, "state": "idle"})
    trace.add({"k": "task", "t": 0.0, "task": 1, "name": "t1", "kind": kind})
    for t, state, reason in spans:
        trace.add({"k": "state", "t": t, "task": 1, "state": state, "reason": reason, "line": 3})
    trace.add({"k": "end", "t": end, "task": 1})
    trace.add({"k": "end", "t": end, "task": 9})
    return trace


def test_the_label_is_the_longest_wait_that_has_a_reason_the_first_of_equals():
    trace = lane_trace([(0.0, "running", None), (0.1, "blocked", None), (0.9, "running", None),  # 0.8 s, no reason
                        (1.0, "blocked", "a"), (1.5, "running", None), (1.6, "ready", "b"), (2.1, "running", None)],
                       end=2.2)
    assert lane_labels(trace)[1] == "a"  # a and b both last 0.5 s: the first; the longer wait says nothing


def test_a_lane_that_only_runs_has_no_label():
    assert lane_labels(lane_trace([(0.0, "running", None)], end=1.0))[1] == ""


def test_a_run_of_running_spans_as_long_as_the_threshold_is_a_finding_and_one_just_shorter_is_not():
    spans = [(0.0, "running", None), (0.02, "running", None), (0.05, "blocked", "gevent.sleep(1)")]
    found = diagnose(lane_trace(spans, end=1.0), parse_thresholds(["long-run=50"]))
    assert [(f.kind, round(f.duration, 6)) for f in found if f.task == 1] == [("long-run", 0.05)]
    found = diagnose(lane_trace(spans, end=1.0), parse_thresholds(["long-run=51"]))
    assert not [f for f in found if f.kind == "long-run"]


def test_the_totals_table_wraps_only_headers_to_fit_and_cuts_long_task_names():
    trace = lane_trace([(0.0, "running", None), (0.5, "blocked", "x")], end=2.0)
    trace.lanes[1].name = "a_task_with_a_long_name"
    out = io.StringIO()
    Console(file=out, width=60, color_system=None).print(totals_table(trace))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 60 for line in lines), lines
    head = lines[:next(i for i, line in enumerate(lines) if line.startswith("task "))]
    assert " ".join(" ".join(line.split()) for line in head) + " loop" == "blocks the whole loop"
    row = next(line for line in lines if line.startswith("a_task"))
    assert row.split()[0] == "a_task_with_a_l…" and row.split()[1:] == ["500", "ms", "-", "1.50", "s", "-", "-"]


def test_a_tasks_totals_follow_its_lane_as_it_grows_and_as_the_run_goes_on():
    """The model keeps a lane's totals once taken (a report, its verdict and its findings each ask): spans added
    since, or the end of a span still open moving on, give new totals, the same as a model that never kept any."""
    records = [{"k": "task", "t": 0.0, "task": 1, "name": "t1", "kind": "greenlet"},
               {"k": "state", "t": 0.0, "task": 1, "state": "running"},
               {"k": "state", "t": 1.0, "task": 1, "state": "blocked", "reason": "gevent.sleep(3)"},
               {"k": "note", "t": 3.0, "level": "info", "text": "later"},  # the run goes on: the wait grows
               {"k": "state", "t": 4.0, "task": 1, "state": "ready"},
               {"k": "end", "t": 4.5, "task": 1}]
    expected = [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (1.0, 0.0, 2.0), (1.0, 0.0, 3.0), (1.0, 0.5, 3.0)]
    kept, got = Trace(header(target="test", file="t.py")), []
    for n, rec in enumerate(records):
        kept.add(rec)
        if n:
            totals = kept.totals(kept.lanes[0])
            assert kept.totals(kept.lanes[0]) == totals  # asked again: the same
            fresh = Trace(header(target="test", file="t.py"))
            for r in records[:n + 1]:
                fresh.add(r)
            assert fresh.totals(fresh.lanes[0]) == totals
            got.append((totals["running"], totals["ready"], totals["blocked"]))
    assert got == expected


def test_many_lanes_drawn_alike_print_as_one_row_and_their_totals_as_one_mean(tmp_path):
    """Twenty greenlets that all sleep the same 0.3 s: their rows fold into the first and a line counting the rest,
    and the totals table gives them one row of means, saying so; every task is still counted once."""
    from conftest import viz

    script = tmp_path / "alike.py"
    script.write_text("import gevent\n\n\ndef worker():\n    gevent.sleep(0.3)\n\n\n"
                      "gevent.joinall([gevent.spawn(worker) for _ in range(20)])\n")
    result = viz("record", "--no-color", "--width", "100", str(script))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    folds = [re.search(r"⋮ and (\d+) more drawn alike, (worker #\d+) to (worker #\d+)", line) for line in lines]
    folds = [m for m in folds if m]
    assert folds, result.stdout
    shown = [line for line in lines if re.match(r"worker( #\d+)? +[rRbi]", line)]  # a lane's own row
    assert len(shown) + sum(int(m.group(1)) for m in folds) == 20, result.stdout
    assert all("gevent.sleep(0.3)" in line for line in shown)
    means = [line for line in lines if re.match(r"worker( #\d+)? ×(\d+) ", line)]
    assert means and "A ×N: the mean of N tasks from A on, drawn alike above" in result.stdout
    assert sum(int(re.match(r"worker( #\d+)? ×(\d+)", line).group(2)) for line in means) == \
        sum(int(m.group(1)) + 1 for m in folds)
    blocked = [float(re.findall(r"([\d.]+) ms", line)[-1]) for line in means]  # the blocked column: each slept 0.3 s
    assert all(295 <= ms <= 315 for ms in blocked), means
