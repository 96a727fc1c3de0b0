"""A thread that wants the CPU but does not hold the GIL is `ready`, "waiting for the GIL", not `running` (issue 13,
item 2).

Each test records a small program with a known timeline in a real child process: CPU-bound threads of pure-Python
arithmetic (which take turns at the GIL every switch interval, 5 ms), next to a thread asleep in time.sleep, in C
code that lets the GIL go (hashlib on a large buffer), or in a lock. The programs order their threads with events;
the only sleeps are the waits being drawn.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from conftest import run_session, spans, texts
from viz.ingest.session import Session
from viz.trace.record import StateRecord

pytest.importorskip("viz.recorder._cpuclock", reason="the GIL sampler is not built")

GIL = "waiting for the GIL"
SPIN = 4_000_000  # iterations of `x += i * i`: about 0.25 s alone on the test machine


def record(script, source: str):
    return run_session(script(textwrap.dedent(source)), timeout=20)[1]


def gil_waits(trace, lane: str):
    return [s for s in spans(trace, lane, "ready") if s.reason == GIL]


def running(trace, lane: str) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in spans(trace, lane, "running")]


def together(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Seconds during which both lists of intervals (each sorted, not overlapping itself) cover the same instant."""
    i = j = 0
    both = 0.0
    while i < len(a) and j < len(b):
        both += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return both


def lifetime(trace, lane: str) -> tuple[float, float]:
    all_spans = spans(trace, lane)
    return all_spans[0].start, all_spans[-1].end


TWO_SPINNERS = f"""\
    import threading
    go = threading.Event()
    def spin():
        go.wait()
        x = 0
        for i in range({SPIN}):
            x += i * i
    threads = [threading.Thread(target=spin, name=name) for name in ("A", "B")]
    for t in threads: t.start()
    go.set()
    for t in threads: t.join()
    """


def test_two_cpu_bound_threads_take_turns_and_each_waits_for_the_gil_about_half_the_time(script):
    trace = record(script, TWO_SPINNERS)
    a, b = running(trace, "A"), running(trace, "B")
    start = min(a[0][0], b[0][0])
    end = max(a[-1][1], b[-1][1])
    assert together(a, b) < 0.1 * (end - start), "both drawn running at once: the GIL lets only one run"
    for name in ("A", "B"):
        waits = gil_waits(trace, name)
        first, last = lifetime(trace, name)
        waited = sum(s.duration for s in waits)
        assert len(waits) >= 5, f"{name} never waited for the GIL"
        assert 0.2 * (last - first) <= waited <= 0.8 * (last - first), (name, waited, last - first)
        lengths = sorted(s.duration for s in waits)
        assert 0.002 <= lengths[len(lengths) // 2] <= 0.03, lengths  # turns of about one switch interval (5 ms)
    # the summary's sum of task time is the wall time again, not twice it ("1.9x the wall time in parallel")
    assert trace.work_time() < 1.15 * trace.duration


def test_a_cpu_bound_thread_next_to_a_sleeping_thread_runs_without_waiting_for_the_gil(script):
    """The sleeper holds no GIL while it sleeps; waking, it takes the GIL for a moment to finish (on a busy machine
    that moment can pass the 1 ms under which waits are not recorded)."""
    trace = record(script, f"""\
        import threading, time
        go = threading.Event()
        def spin():
            go.wait()
            x = 0
            for i in range({SPIN}):
                x += i * i
        def nap():
            go.wait()
            time.sleep(0.3)
        threads = [threading.Thread(target=spin, name="spinner"), threading.Thread(target=nap, name="sleeper")]
        for t in threads: t.start()
        go.set()
        for t in threads: t.join()
        """)
    naps = [s for s in spans(trace, "sleeper", "blocked") if s.reason == "time.sleep(0.3)"]
    assert len(naps) == 1 and 0.28 <= naps[0].duration <= 0.5
    assert gil_waits(trace, "sleeper") == []
    # the sleeper needs the GIL back to finish: the spinner may wait for it then, briefly, never while it sleeps
    waits = gil_waits(trace, "spinner")
    assert all(s.start >= naps[0].end - 0.001 for s in waits), [(s.start, s.duration) for s in waits]
    assert sum(s.duration for s in waits) < 0.01, [(s.start, s.duration) for s in waits]
    work = max(spans(trace, "spinner", "running"), key=lambda s: s.duration)
    assert work.duration >= 0.1, "the spinner's work is one running span"


def test_c_code_that_releases_the_gil_runs_alongside_python_code_and_neither_waits_for_the_gil(script):
    """hashlib lets the GIL go while it hashes a large buffer: both threads really run at once. The Python thread
    spins for less time than the hashing takes, so it is done before the hasher wants the GIL back. A few milliseconds, now
    and then, while the recorder's own flusher thread holds the GIL to write its events are real waits, and drawn;
    two Python threads wait about half the time each."""
    trace = record(script, """\
        import hashlib, threading, time
        data = bytes(160 << 20)
        go = threading.Event()
        def digest():
            go.wait()
            print("hashing")
            hashlib.sha256(data).hexdigest()
            print("hashed")
        def spin():
            go.wait()
            print("spinning")
            x, end = 0, time.perf_counter() + 0.08
            while time.perf_counter() < end:
                x += 1
            print("spun")
        threads = [threading.Thread(target=digest, name="hasher"), threading.Thread(target=spin, name="spinner")]
        for t in threads: t.start()
        go.set()
        for t in threads: t.join()
        """)
    out = {o.text: o.t for o in trace.outputs}
    hashing, hashed, spinning, spun = out["hashing"], out["hashed"], out["spinning"], out["spun"]
    assert hashing < spun < hashed, "the spinner's work lies within the hashing (the buffer is large enough)"
    both = together(running(trace, "hasher"), running(trace, "spinner"))
    assert both >= 0.7 * (spun - max(spinning, hashing)), (both, spun - spinning)  # both run at once
    for name in ("hasher", "spinner"):
        waits = [(s.start - hashing, s.duration) for s in gil_waits(trace, name)]
        assert sum(d for _, d in waits) < 0.1 * (spun - spinning), (name, waits, spun - spinning)


def test_a_thread_asleep_in_a_lock_is_not_waiting_for_the_gil(script):
    """Off the CPU while another thread runs, but not waking every switch interval as a GIL waiter does."""
    trace = record(script, f"""\
        import threading
        lock, held = threading.Lock(), threading.Event()
        def holder():
            with lock:
                held.set()
                x = 0
                for i in range({SPIN}):
                    x += i * i
        def waiter():
            held.wait()
            with lock:
                pass
        threads = [threading.Thread(target=holder, name="holder"), threading.Thread(target=waiter, name="waiter")]
        for t in threads: t.start()
        for t in threads: t.join()
        """)
    first, last = lifetime(trace, "holder")
    assert last - first >= 0.1
    assert sum(s.duration for s in gil_waits(trace, "waiter")) < 0.015
    # the holder may wait a moment for the GIL while the waiter, set free by held.set(), runs to the lock: no more
    assert sum(s.duration for s in gil_waits(trace, "holder")) < 0.015


def test_gil_waits_keep_each_tasks_events_in_time_order(script):
    """The sampler finds a wait after it began; the wait still reaches the viewer before the thread's next state."""
    path = script(textwrap.dedent("""\
        import threading, time
        def burst():
            for _ in range(8):
                x = 0
                for i in range(150_000):
                    x += i * i
                time.sleep(0.005)
        threads = [threading.Thread(target=burst, name=f"t{n}") for n in range(3)]
        for t in threads: t.start()
        for t in threads: t.join()
        print("done")
        """))
    records: list = []
    session = Session(path, [], timeout=20)
    session.start()
    try:
        session.run(records.extend)
    finally:
        session.close()
    last: dict[int, float] = {}
    waits = 0
    for rec in records:
        if type(rec) is StateRecord:
            assert rec.t >= last.get(rec.task, 0.0) - 0.0005, rec  # a few hundred microseconds of clock race at most
            last[rec.task] = max(rec.t, last.get(rec.task, 0.0))
            waits += rec.reason == GIL
    assert waits >= 3
    assert any(rec.get("text") == "done" for rec in records if type(rec) is dict)


def test_without_the_sampler_a_note_says_gil_waits_are_not_shown(script, monkeypatch):
    monkeypatch.setenv("VIZ_PURE_PYTHON", "1")
    trace = record(script, TWO_SPINNERS.replace(str(SPIN), "1000"))
    assert gil_waits(trace, "A") == [] and gil_waits(trace, "B") == []
    assert [n["text"] for n in trace.notes if "GIL" in n["text"]] == [
        "GIL waits are not shown: the C sampler (viz.recorder._cpuclock) is turned off by VIZ_PURE_PYTHON, so a thread "
        "waiting for the GIL shows as running"]
    assert texts(trace) == []


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("the GIL sampler reads Linux's per-thread CPU clocks")


def test_the_deriver_lays_a_gil_wait_over_a_running_span_only():
    """The sampler finds a wait after the fact and may name a task that stopped running meanwhile (a hook recorded
    the stop straight into the buffer): that wait and its end are dropped, and a wait whose task stopped during it
    ends with the stop, not with a running span."""
    from viz import protocol
    from viz.ingest.derive import Deriver

    def state(t, task, st, reason=None, info=None):
        return protocol.TaskState(t, task, st, reason, None, None, info).wire()

    d = Deriver()
    out = d.feed([protocol.TaskSpawned(0.0, 1, "A", "thread", None, "s.py", 3).wire(),
                  protocol.TaskSpawned(0.0, 2, "B", "thread", None, "s.py", 3).wire(),
                  state(0.0, 1, "running"), state(0.0, 2, "blocked", "Event.wait()"),
                  state(0.01, 1, "ready", GIL), state(0.015, 1, "running", info={"gil": True}),  # over running: kept
                  state(0.02, 2, "ready", GIL), state(0.025, 2, "running", info={"gil": True}),  # B is blocked
                  state(0.03, 1, "ready", GIL), state(0.032, 1, "blocked", "Event.wait()"),
                  state(0.035, 1, "running", info={"gil": True})])  # A stopped during the wait: its end goes
    got = [(r.t, r.task, r.state, r.reason) for r in out if type(r) is StateRecord]
    assert got == [(0.0, 1, "running", None), (0.0, 2, "blocked", "Event.wait()"),
                   (0.01, 1, "ready", GIL), (0.015, 1, "running", None),
                   (0.03, 1, "ready", GIL), (0.032, 1, "blocked", "Event.wait()")]
    assert [r.file for r in out if type(r) is StateRecord and r.t == 0.015] == ["s.py"]  # resumes where it was
