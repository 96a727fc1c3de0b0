"""The live feed against a real child process, without Textual: batches arrive, the run ends, stopping works."""

from __future__ import annotations

import threading
import time

from viz.app.feed import MAX_BACKLOG, LiveFeed
from viz.ingest.session import Session
from viz.scenarios import resolve
from viz.trace.model import Trace


def start(name: str) -> tuple[LiveFeed, Trace, list, threading.Event]:
    path, display = resolve(name)
    session = Session(path, name=display, timeout=30)
    trace = Trace(session.header)
    batches: list[tuple[int, bool]] = []
    done = threading.Event()
    lock = threading.Lock()

    def deliver(records: list[dict], last: bool) -> None:
        with lock:
            trace.add_many(records)
            batches.append((len(records), last))
        if last:
            done.set()

    return LiveFeed(session, deliver).start(), trace, batches, done


def test_a_whole_run_arrives_in_batches_ending_with_the_exit_record():
    feed, trace, batches, done = start("greenlet_switch")
    assert done.wait(30)
    feed.close()
    assert trace.finished and trace.exit["outcome"] == "finished"
    assert [last for _, last in batches].count(True) == 1 and batches[-1][1]
    assert {lane.name for lane in trace.lanes} >= {"test1", "test2"}
    assert feed.session.proc.poll() is not None


def test_stopping_midway_ends_the_child_and_still_delivers_how_it_ended():
    feed, trace, batches, done = start("sleepers_unpatched")
    deadline = time.monotonic() + 20
    while not trace.lanes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert feed.clock() is not None
    feed.stop()
    assert done.wait(10)
    feed.close()
    assert trace.exit["outcome"] == "stopped"
    assert feed.session.proc.poll() is not None


def test_the_clock_never_runs_ahead_of_the_program():
    feed, trace, batches, done = start("gevent_sleepers")
    readings = []
    while not done.is_set():
        now = feed.clock()
        if now is not None:
            readings.append(now)
        time.sleep(0.05)
    feed.close()
    assert readings and readings == sorted(readings)
    assert max(readings) <= trace.duration + 0.05


def test_the_feed_waits_for_an_app_that_does_not_fold_and_the_timeout_still_ends_the_run(script):
    path = script("import gevent\nwhile True:\n    gevent.sleep(0)\n")  # switches until stopped
    session = Session(path, timeout=1.5)
    delivered: list[tuple[float, list, bool]] = []  # (session time, records, last); never folded
    done = threading.Event()

    def deliver(records: list, last: bool) -> None:
        delivered.append((session.elapsed, records, last))
        if last:
            done.set()

    feed = LiveFeed(session, deliver, backlog=lambda: len(delivered)).start()
    assert done.wait(30)
    feed.close()
    before_timeout = [records for at, records, _ in delivered if at < session.timeout]
    assert 1 <= len(before_timeout) <= MAX_BACKLOG  # it waited for the app instead of piling batches up
    exits = [r for _, records, _ in delivered for r in records if type(r) is dict and r["k"] == "exit"]
    assert [e["outcome"] for e in exits] == ["timeout"]
    assert session.proc.poll() is not None
