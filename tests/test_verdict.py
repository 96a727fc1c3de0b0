"""The verdict tells the seed's lessons right: the program's own tasks, over the time their work spans."""

from __future__ import annotations

import pytest

from conftest import lane, record, viz
from viz.views.verdict import counted_lanes, declared_helpers, verdict

EXPECTED = {  # scenario: (lowest, highest) factor
    "gevent_sleepers": (1.6, 1.85),      # 3.5 s of sleeping done in 2.0 s
    "sleepers_patched": (1.6, 1.85),
    "sleepers_unpatched": (0.95, 1.1),   # time.sleep holds the loop: they take turns
    "crawler_serial": (0.9, 1.15),       # one page after another
    "crawler_gevent": (1.6, 3.5),        # the fetches overlap
    "model_sync": (0.9, 1.1),
    "model_threads": (2.0, 3.5),
    "model_events": (2.0, 3.5),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_scenarios_verdict_matches_its_lesson(name):
    trace = record(name, timeout=30)
    judged = verdict(trace)
    low, high = EXPECTED[name]
    assert low <= judged.factor <= high, (judged.words(), [ln.name for ln in counted_lanes(trace)])
    assert judged.words().endswith(f": {judged.factor:.1f}x")


def test_helpers_and_the_tasks_they_start_are_left_out_and_the_user_can_mark_more():
    trace = record("crawler_serial", timeout=30)
    assert declared_helpers(trace) == ("http server",)
    counted = {ln.name for ln in counted_lanes(trace)}
    assert "http server" not in counted and not any(n.startswith("process_request") for n in counted), counted
    assert "main" not in counted  # it only waits in joinall for the fetches it spawned
    fetches = [ln for ln in trace.lanes if ln.name.startswith("func(")]
    assert len(fetches) == 3 and counted == {ln.name for ln in fetches}
    fewer = verdict(trace, marked={fetches[0].task})
    assert fewer.tasks == 2 and fewer.work < verdict(trace).work


def test_a_program_of_one_task_is_judged_on_that_task_and_reads_1_0x(script):
    path = script("import time\ntime.sleep(0.2)\nsum(range(10**6))\n")
    trace = record(str(path))
    judged = verdict(trace)
    assert [ln.name for ln in counted_lanes(trace)] == ["main"] and judged.tasks == 1
    assert 0.95 <= judged.factor <= 1.05, judged.words()
    assert lane(trace, "main").kind == "main"


def test_thread_pool_workers_are_helpers_the_tasks_waiting_for_their_jobs_are_counted(script):
    path = script("import asyncio, time\n"
                  "async def main():\n"
                  "    await asyncio.gather(asyncio.to_thread(time.sleep, 0.2), asyncio.sleep(0.2))\n"
                  "    await asyncio.sleep(0.3)  # the executor's worker waits for work meanwhile\n"
                  "asyncio.run(main())\n")
    trace = record(str(path))
    counted = [ln.name for ln in counted_lanes(trace)]
    assert "asyncio_0" in [ln.name for ln in trace.lanes] and "asyncio_0" not in counted, counted
    assert "to_thread(sleep)" in counted, counted


def test_record_and_show_text_end_with_the_same_verdict_and_its_factor(tmp_path):
    out = tmp_path / "t.jsonl"
    recorded = viz("record", "gevent_sleepers", "--no-color", "--width", "100", "-o", str(out))
    last = recorded.stdout.strip().splitlines()[-1]
    assert last.endswith("x") and " of waiting done in " in last, last
    shown = viz("show", str(out), "--text", "--no-color", "--width", "100").stdout.strip().splitlines()[-1]
    assert shown == last


def test_the_whole_runs_verdict_and_totals_count_nothing_for_a_task_that_ended_before_its_last_step():
    """A task's end record can come before its last state's start (events of two threads arrive a little out of
    time order, a file written by hand): that last span is empty. The verdict of the whole run reads each lane's
    totals as the report does, and neither may count it negative; the figures match the verdict at the run's end."""
    from viz.trace.model import Trace
    from viz.trace.totals import Totals

    trace = Trace()
    trace.add({"k": "task", "t": 0.0, "task": 1, "name": "main", "kind": "main"})
    trace.add({"k": "task", "t": 0.0, "task": 2, "name": "worker", "kind": "greenlet", "parent": 1})
    trace.add({"k": "state", "t": 0.0, "task": 2, "state": "running"})
    trace.add({"k": "state", "t": 1.0, "task": 2, "state": "blocked", "reason": "gevent.sleep(1)"})
    trace.add({"k": "end", "t": 0.5, "task": 2})
    trace.add({"k": "state", "t": 2.0, "task": 1, "state": "running"})
    worker = lane(trace, "worker")
    assert trace.seconds_by_state(worker)[:4] == [1.0, 0.0, 0.0, 0.0]
    whole, at_end = verdict(trace), verdict(trace, t=trace.duration, totals=Totals(trace))
    assert (whole.running, whole.blocked) == (at_end.running, at_end.blocked) == (1.0, 0.0)
