"""The live feed against a real ingest process and child, without Textual: frames arrive, the run ends, stopping
works, a feed that is not read holds the program back, and no process is left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from unittest import mock

import pytest

from conftest import gone
from viz.ingest import process as ingest
from viz.app.feed import MAX_FRAMES, LiveFeed
from viz.ingest.session import Session
from viz.scenarios import resolve
from viz.trace.binary import BlockFolder
from viz.trace.model import Trace


class Reader:
    """What the app does with a feed, on a thread: take every frame as it comes and fold it into a trace."""

    def __init__(self, session: Session) -> None:
        self.trace = Trace(session.header)
        self.blocks = BlockFolder(self.trace)
        self.frames: list[tuple[int, bool]] = []
        self.done = threading.Event()
        self._arrived = threading.Event()
        self.feed = LiveFeed(session, self._arrived.set).start()
        threading.Thread(target=self._fold, daemon=True).start()

    def _fold(self) -> None:
        while not self.done.is_set():
            self._arrived.wait(1)
            self._arrived.clear()
            while (got := self.feed.take()) is not None:
                block, last = got
                if block is not None:
                    self.blocks.fold(block)
                self.frames.append((block.n + len(block.others) if block is not None else 0, last))
                if last:
                    self.done.set()


def start(name: str, timeout: float = 30) -> Reader:
    path, display = resolve(name)
    return Reader(Session(path, name=display, timeout=timeout))


def test_a_whole_run_arrives_in_frames_ending_with_the_exit_record_and_both_processes_end():
    reader = start("greenlet_switch")
    assert reader.done.wait(30)
    reader.feed.close()
    trace = reader.trace
    assert trace.finished and trace.exit["outcome"] == "finished"
    assert [last for _, last in reader.frames].count(True) == 1 and reader.frames[-1][1]
    assert all(n <= ingest.FRAME_RECORDS for n, _ in reader.frames)
    assert {lane.name for lane in trace.lanes} >= {"test1", "test2"}
    assert reader.feed.proc.returncode == 0 and gone(reader.feed.child_pid)


def test_stopping_midway_ends_the_child_and_still_delivers_how_it_ended():
    reader = start("sleepers_unpatched")
    deadline = time.monotonic() + 20
    while not reader.trace.lanes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reader.feed.clock() is not None
    reader.feed.stop()
    assert reader.done.wait(10)
    reader.feed.close()
    assert reader.trace.exit["outcome"] == "stopped"
    assert gone(reader.feed.child_pid)


def test_closing_without_reading_ends_the_ingest_process_and_the_child():
    path, display = resolve("sleepers_unpatched")
    feed = LiveFeed(Session(path, name=display, timeout=30), lambda: None).start()
    deadline = time.monotonic() + 20
    while feed.child_pid is None and time.monotonic() < deadline:
        feed.take()
        time.sleep(0.02)
    feed.close()
    assert feed.proc.returncode is not None and gone(feed.child_pid)


def test_the_clock_never_runs_ahead_of_the_program():
    reader = start("gevent_sleepers")
    readings = []
    while not reader.done.is_set():
        now = reader.feed.clock()
        if now is not None:
            readings.append(now)
        time.sleep(0.05)
    reader.feed.close()
    assert readings and readings == sorted(readings)
    assert max(readings) <= reader.trace.duration + 0.05


def test_a_feed_nobody_reads_holds_the_program_back_and_the_timeout_still_ends_the_run(script):
    path = script("import gevent\nwhile True:\n    gevent.sleep(0)\n")  # switches until stopped
    arrivals = threading.Event()
    feed = LiveFeed(Session(path, timeout=1.5), arrivals.set).start()
    started = time.monotonic()
    while time.monotonic() - started < 3:  # past the timeout, reading nothing
        arrivals.wait(0.1)
    state = (len(feed._frames), feed._ended, feed.proc.poll(), feed._last_words() if feed._ended else "")
    assert MAX_FRAMES <= len(feed._frames) < 2 * MAX_FRAMES, state  # it filled up, then waited for the app to take some
    records, last = [], False
    while not last:
        got = feed.take()
        if got is None:
            arrivals.wait(1)
            arrivals.clear()
            continue
        records += [rec for _, rec in got[0].others]  # (the dicts: exit among them)
        last = got[1]
    feed.close()
    exits = [r for r in records if type(r) is dict and r["k"] == "exit"]
    assert [e["outcome"] for e in exits] == ["timeout"]
    assert gone(feed.child_pid)


def test_when_the_app_dies_the_ingest_process_ends_the_program_and_itself(script):
    path = script("import gevent\nwhile True:\n    gevent.sleep(0)\n")  # switches until stopped: a backlog builds
    feed = LiveFeed(Session(path, timeout=60), lambda: None).start()
    deadline = time.monotonic() + 20
    while feed.child_pid is None and time.monotonic() < deadline:
        feed.take()
        time.sleep(0.02)
    feed.proc.stdin.close()  # as when the app's process ends: no `stop`, then the end of its input
    feed.proc.wait(10)  # at once, not after deriving what was read ahead for nobody
    assert gone(feed.child_pid)


def test_an_ingest_process_that_dies_ends_the_run_with_an_error_and_leaves_no_program_behind():
    reader = start("sleepers_unpatched")
    deadline = time.monotonic() + 20
    while reader.feed.child_pid is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(reader.feed.proc.pid, signal.SIGKILL)
    assert reader.done.wait(10)  # the run ends for the app...
    reader.feed.close()
    assert reader.feed.error == "the ingest process ended (-9)"  # ...saying why
    assert gone(reader.feed.child_pid)


@pytest.mark.parametrize("pure", [False, True], ids=["c-fold", "python-fold"])
def test_frames_carry_a_recorded_runs_records_into_the_same_model_as_folding_them_directly(pure):
    """The ingest process sends state records as blocks of columns (their strings numbered across frames) and the
    rest as dicts; the app, folding the frames, builds the model the records themselves build."""
    import viz.trace.model as model
    path, name = resolve("gevent_sleepers")
    records: list = []
    session = Session(path, name=name, timeout=30)
    session.start()
    try:
        session.run(records.extend)
    finally:
        session.close()
    writer, reader = ingest.FrameWriter(), ingest.FrameReader()
    step = max(1, len(records) // 10)  # ten frames or so
    frames = [writer.encode({"done": False}, records[i:i + step]) for i in range(0, len(records), step)]
    with mock.patch.object(model, "_Folder", None) if pure else contextlib.nullcontext():
        direct = Trace(session.header)
        direct.add_many(records)
        framed = Trace(session.header)
        blocks = BlockFolder(framed)
        blocked = 0
        for frame in frames:
            info, block = reader.decode(frame[ingest.HEADER.size:])
            assert info == {"done": False}
            blocked += block.n > 0  # its state records as columns
            blocks.fold(block, hold=True)
        framed.flush()

    def model_of(trace: Trace) -> tuple:
        lanes = [(ln.task, ln.name, ln.kind, ln.created, ln.ended, list(ln.starts), bytes(ln.states), bytes(ln.flags),
                  [trace.string(i) for i in ln.reasons], [trace.string(i) for i in ln.files], list(ln.lines))
                 for ln in trace.lanes]
        return trace.end_time, lanes, trace.outputs, trace.notes, trace.exit, trace.sources

    assert len(frames) > 3 and blocked >= len(frames) - 1
    assert model_of(framed) == model_of(direct)
