"""GIL waits: a thread the recorder shows `running` that waits for the GIL is `ready`, "waiting for the GIL".

Only one thread runs Python code at a time; a CPU-bound thread next to another is off the CPU about half the time,
waiting for the GIL, and without this module both would show `running` at once. The C sampler
(viz/recorder/_cpuclock.c) watches each thread of the script from a native thread of its own that never takes the
GIL, and finds the waits; this module puts it in place:
- the main thread is registered here, every thread the script starts as it starts (`rec.thread_start_hooks`);
- `rec.state` and `rec.end` are wrapped (in C) so the sampler knows which task each thread runs and whether the
  recorder shows it running, and so a thread's finished waits go into the event buffer before any state of its own:
  each task's events stay in time order, which the deriver and the trace model rely on;
- a drain thread emits the other finished waits every DRAIN_EVERY seconds (a CPU-bound thread records nothing of
  its own for a long time), and `rec.close` emits what is left. It waits without the GIL until there are some, so
  it does not make GIL waits of its own in a program whose threads do not contend.
A wait reaches the viewer as two ordinary TASK_STATE events (`ready` at its start, `running` at its end, marked by
info {"gil": True}); the deriver lays them over a running span only, since the sampler's idea of which task a thread
runs goes stale when a hook records a stop straight into the buffer. Greenlets and asyncio tasks share their
thread: they need no GIL view of their own.
Without the extension (no compiler, or VIZ_PURE_PYTHON=1) nothing is sampled, and a note says GIL waits are not
shown once the script starts a thread.
"""

from __future__ import annotations

import _thread
import os
import sys

from viz.recorder.core import get_ident

REASON = "waiting for the GIL"  # the reason of the ready spans (set in _cpuclock.c)
DRAIN_EVERY = 0.05
PERIOD = 0.001     # how often the sampler reads the threads' CPU times
MIN_WAIT = 0.001   # shorter waits are not recorded
NOT_SHOWN = ("GIL waits are not shown: the C sampler (viz.recorder._cpuclock) is {why}, so a thread waiting for "
             "the GIL shows as running")


def _extension():
    if os.environ.get("VIZ_PURE_PYTHON"):
        return None, "turned off by VIZ_PURE_PYTHON"
    try:
        from viz.recorder import _cpuclock
    except ImportError:
        return None, "not built"
    return _cpuclock, None


def install(rec):
    """Sample the main thread now and each thread of the script as it starts; the Sampler, or None without it."""
    cpuclock, why = _extension()
    if cpuclock is None:
        told = []

        def note_once():
            if not told:
                told.append(True)
                rec.note(NOT_SHOWN.format(why=why), "warning")
        rec.thread_start_hooks.append(note_once)
        return None
    from viz import protocol

    sampler = cpuclock.Sampler(rec.emit_fast, protocol.TASK_STATE, rec.t0, sys.getswitchinterval(), PERIOD, MIN_WAIT)
    sampler.register(rec.main_task)
    rec.state = cpuclock.Wrap(sampler, rec.state)
    rec.end = cpuclock.Wrap(sampler, rec.end, True)
    close = rec.close

    def closing(*args, **kwargs):
        try:
            sampler.stop()
            tid = rec.thread_task.get(get_ident())
            if tid is not None:
                sampler.state(tid, True)  # the closing thread runs: a wait of its own has ended
            sampler.drain()
        except Exception:
            rec.hook_error("GIL sampler at exit")
        close(*args, **kwargs)
    rec.close = closing
    os.register_at_fork(after_in_child=sampler.forget)
    draining = []

    def drain_loop():  # takes the GIL only when there are waits to emit: it must not make waits of its own
        while not rec._closed:
            if sampler.wait(DRAIN_EVERY, 1.0):
                sampler.drain()

    def on_thread_start():
        tid = rec.thread_task.get(get_ident())
        if tid is not None and sampler.register(tid) and not draining:
            draining.append(True)
            _thread.start_new_thread(drain_loop, ())
    rec.thread_start_hooks.append(on_thread_start)
    return sampler
