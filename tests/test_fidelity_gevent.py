"""gevent's loose ends: a greenlet killed before its timer, ThreadPool workers, what the hub's poll waits for."""

from __future__ import annotations

from conftest import lane, record, spans, streamed_until_signalled


def test_a_greenlet_killed_before_its_timer_ends_at_its_kill_not_at_the_end_of_the_run(script):
    path = script(
        "import gevent\n"
        "def late():\n    print('never')\n"
        "g = gevent.spawn_later(0.5, late)\ngevent.sleep(0.1)\ng.kill()\ngevent.sleep(0.3)\n")
    trace = record(str(path))
    blocked = spans(trace, "late", "blocked")
    assert len(blocked) == 1 and 0.08 <= blocked[0].duration <= 0.2, blocked
    assert blocked[0].end < trace.duration - 0.2  # it did not stay blocked through main's last sleep


def test_a_threadpool_worker_is_a_thread_running_its_work_and_waiting_for_work_between(script):
    path = script(
        "import gevent, gevent.threadpool, time\n"
        "def work(n):\n    time.sleep(0.1)\n    return n\n"
        "pool = gevent.threadpool.ThreadPool(1)\n"
        "print(pool.spawn(work, 1).get())\ngevent.sleep(0.2)\nprint(pool.spawn(work, 2).get())\n")
    trace = record(str(path))
    worker = lane(trace, "ThreadPool worker")
    assert worker.kind == "thread"
    slept = spans(trace, "ThreadPool worker", "blocked")
    assert [s.reason for s in slept if s.reason == "time.sleep(0.1)"] == ["time.sleep(0.1)"] * 2, slept
    idle = [s for s in slept if s.reason == "waiting for work"]
    assert idle and max(s.duration for s in idle) >= 0.15, slept  # between the two pieces of work
    hub_reasons = {s.reason for s in spans(trace, "hub", "idle")}
    assert "polling: 1 other wait" in hub_reasons, hub_reasons  # main waits on the pool's result
    assert not any("nothing to wait for" in r for r in hub_reasons)


def test_greenlets_in_a_thread_other_than_main_are_traced_as_in_main(script):
    """greenlet traces one thread at a time: the recorder sets its switch hook in each thread the script starts, so a
    gevent loop run in a worker thread has its hub lane and its greenlets' waits (they stayed `ready` before)."""
    path = script(
        "import threading\nimport gevent\n"
        "def greenlets():\n    gevent.joinall([gevent.spawn(gevent.sleep, 0.2) for _ in range(2)])\n"
        "t = threading.Thread(target=greenlets, name='gevent thread')\nt.start()\nt.join()\n")
    trace = record(str(path))
    for name in ("sleep", "sleep #2"):
        slept = spans(trace, name, "blocked")
        assert [s.reason for s in slept] == ["gevent.sleep(0.2)"] and slept[0].duration >= 0.18, slept
    assert sum(s.duration for s in spans(trace, "hub", "idle")) >= 0.18
    assert [s.reason for s in spans(trace, "gevent thread", "blocked")][0] == "gevent.joinall(…)"


def test_greenlets_switching_in_a_tight_loop_stream_their_switches_to_the_viewer_while_they_run(script):
    """Ten greenlets passing the hub back and forth keep a waiting thread (the recorder's flusher) from the GIL, as a
    busy asyncio loop does: the C switch hook has the program's thread write the buffer out when it is due, so the
    switches reach the viewer as the program runs, not in a few bursts. The program spins (making no call that lets
    the GIL go) until the test, having received its switches in 40 pieces (about 2 s of a flush every 50 ms),
    signals it to stop, or until its own 5 s are up (the recorder before this flush made about 4 pieces a second)."""
    path = script("import signal, time\n"
                  "import gevent\n"
                  "told = []\n"
                  "signal.signal(signal.SIGUSR1, lambda *_: told.append(1))\n"
                  "def spin(deadline):\n"
                  "    while not told and time.monotonic() < deadline:\n"
                  "        gevent.sleep(0)\n"
                  "deadline = time.monotonic() + 5\n"
                  "gevent.joinall([gevent.spawn(spin, deadline) for _ in range(10)])\n"
                  "print('told to stop' if told else 'ran out of time')\n")
    pieces, out = streamed_until_signalled(path, 40)
    assert out == ["told to stop"], f"the program's switches reached the viewer in {pieces} pieces while it ran"
