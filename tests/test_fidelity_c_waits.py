"""A wait in C code nobody wrapped is a wait: `blocked`, "asleep in C code", with the call when it can be read, not
`running`.

The recorder wraps the blocking calls it knows (sleep, sockets, select, locks, queues, processes...); a call it does
not know (a C function through ctypes, fcntl.flock, a C extension's blocking read) used to show as work. The GIL
sampler (viz/recorder/_cpuclock.c) sees such a thread take no CPU time at all, without being runnable, for longer
than a thread waiting for the GIL ever sleeps between its wakes, and the recorder's drain thread reads what it calls
meanwhile. Each test records a small program with a known timeline in a real child process: the only sleeps are the
waits being drawn.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from conftest import run_session, spans
from viz.trace.record import StateRecord

pytest.importorskip("viz.recorder._cpuclock", reason="the sampler is not built")
if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("the sampler reads Linux's per-thread CPU clocks")

ASLEEP = "asleep in C code"


def record(script, source: str):
    return run_session(script(textwrap.dedent(source)), timeout=20)[1]


def asleep(trace, lane: str):
    """The lane's waits in C code that the recorder could describe: `call (asleep in C code)`."""
    return [s for s in spans(trace, lane, "blocked") if s.reason and s.reason.endswith(f"{ASLEEP})")]


def seconds(trace, lane: str, state: str) -> float:
    return sum(s.duration for s in spans(trace, lane, state))


def test_a_thread_asleep_in_a_c_function_called_through_ctypes_is_blocked_there_with_the_call_as_its_reason(script):
    trace = record(script, """\
        import ctypes, threading
        libc = ctypes.CDLL(None)
        def napper():
            libc.usleep(300000)
        t = threading.Thread(target=napper, name="napper")
        t.start()
        t.join()
        """)
    waits = asleep(trace, "napper")
    assert [(s.reason, s.line) for s in waits] == [(f"libc.usleep(300000) ({ASLEEP})", 4)], waits
    assert 0.27 <= waits[0].duration <= 0.4, waits
    assert seconds(trace, "napper", "running") < 0.05  # was 0.3 s of "work"


def test_a_single_threaded_script_waiting_for_a_file_lock_another_process_holds_is_blocked_in_flock(script, tmp_path):
    lock = tmp_path / "lock"
    lock.write_text("")
    trace = record(script, f"""\
        import fcntl, subprocess, sys
        holder = subprocess.Popen([sys.executable, "-c", "import fcntl, time; f = open({str(lock)!r}); "
                                   "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(0.3)"],
                                  stdout=subprocess.PIPE)
        holder.stdout.readline()
        with open({str(lock)!r}) as f:
            fcntl.flock(f, fcntl.LOCK_EX)
        holder.wait()
        """)
    flock = [s for s in asleep(trace, "main") if "fcntl.flock" in s.reason]
    assert [(s.reason, s.line) for s in flock] == [(f"fcntl.flock(f, fcntl.LOCK_EX) ({ASLEEP})", 7)], \
        spans(trace, "main")
    assert 0.15 <= flock[0].duration <= 0.4, flock  # what is left of the holder's 0.3 s once it has said so


def test_c_code_that_computes_is_running_not_asleep(script):
    """hashlib works on the CPU for a quarter of a second in one call: that is work, in a thread and in main."""
    trace = record(script, """\
        import hashlib, threading
        data = bytes(120 << 20)
        def digest():
            hashlib.sha256(data).hexdigest()
        t = threading.Thread(target=digest, name="hasher")
        t.start()
        t.join()
        digest()
        """)
    assert not asleep(trace, "hasher") and not asleep(trace, "main")
    assert seconds(trace, "hasher", "running") >= 0.05


def test_an_event_loops_polls_are_its_idle_time_not_waits_in_c_code(script):
    """The hub's and asyncio's loops sleep in epoll between rounds: the recorder draws that as the loop's idle time,
    and the sampler leaves such a thread's sleeps alone (viz.recorder: loop_thread_hooks)."""
    trace = record(script, """\
        import asyncio, threading
        import gevent
        def greenlets():
            gevent.joinall([gevent.spawn(gevent.sleep, 0.2) for _ in range(2)])
        async def tasks():
            await asyncio.gather(asyncio.sleep(0.2), asyncio.sleep(0.2))
        t = threading.Thread(target=greenlets, name="gevent thread")
        t.start()
        asyncio.run(tasks())
        t.join()
        """)
    sleeps = [(ln.name, s.reason) for ln in trace.lanes for s in trace.spans(ln) if s.reason and ASLEEP in s.reason]
    assert sleeps == []
    assert seconds(trace, "hub", "idle") >= 0.15 and seconds(trace, "asyncio loop", "idle") >= 0.15


def test_the_deriver_lays_a_wait_in_c_code_over_the_running_span_it_interrupts_only():
    """The sampler finds a wait in C code after the fact: one that begins before the task's running span (the
    sampler's idea of the task was stale) is dropped with its end; one inside it is kept, where it sleeps."""
    from viz import protocol
    from viz.ingest.derive import Deriver

    def state(t, task, st, reason=None, info=None, file=None, line=None):
        return protocol.TaskState(t, task, st, reason, file, line, info).wire()

    asleep_info = {"asleep": True}
    d = Deriver()
    out = d.feed([protocol.TaskSpawned(0.0, 1, "A", "thread", None, "s.py", 3).wire(),
                  state(0.0, 1, "running", file="s.py", line=3),
                  state(0.1, 1, "blocked", "Event.wait()"), state(0.2, 1, "running"),
                  state(0.15, 1, "blocked", ASLEEP, asleep_info),  # began before the running span: dropped
                  state(0.18, 1, "running", info={"gil": True}),  # ... and its end
                  state(0.25, 1, "blocked", f"f() ({ASLEEP})", asleep_info, "s.py", 9),
                  state(0.4, 1, "running", info={"gil": True})])
    got = [(r.t, r.state, r.reason, r.line) for r in out if type(r) is StateRecord]
    assert got == [(0.0, "running", None, 3), (0.1, "blocked", "Event.wait()", None), (0.2, "running", None, 3),
                   (0.25, "blocked", f"f() ({ASLEEP})", 9), (0.4, "running", None, 9)]
