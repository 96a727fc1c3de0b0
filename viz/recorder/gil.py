"""GIL waits: a thread the recorder shows `running` that waits for the GIL is `ready`, "waiting for the GIL".

Only one thread runs Python code at a time; a CPU-bound thread next to another is off the CPU about half the time,
waiting for the GIL, and without this module both would show `running` at once. The C sampler
(viz/recorder/_cpuclock.c) watches each thread of the script from a native thread of its own that never takes the
GIL, and finds the waits; this module puts it in place:
- the main thread is registered here, and sampling starts; every thread the script starts as it starts
  (`rec.thread_start_hooks`);
- `rec.state` and `rec.end` are wrapped (in C) so the sampler knows which task each thread runs and whether the
  recorder shows it running, and so a thread's finished waits go into the event buffer before any state of its own:
  each task's events stay in time order, which the deriver and the trace model rely on;
- a drain thread emits the other finished waits every DRAIN_EVERY seconds (a CPU-bound thread records nothing of
  its own for a long time), and `rec.close` emits what is left. It waits without the GIL until there are some, so
  it does not make GIL waits of its own in a program whose threads do not contend.
A wait reaches the viewer as two ordinary TASK_STATE events (`ready` at its start, `running` at its end, marked by
info {"gil": True}); the deriver lays them over a running span only, since the sampler's idea of which task a thread
runs goes stale when a hook records a stop straight into the buffer.
The sampler also finds a thread asleep in C code that no hook covers (a ctypes call, flock, a C extension's read): no
CPU time at all for longer than a GIL waiter sleeps. The drain thread, woken for it, reads the thread's user frame
while it sleeps (the call and its line) and the wait goes out `blocked`, "CALL (asleep in C code)", then `running`.
A thread running an event loop tells the sampler so (`rec.loop_thread_hooks`): its sleeps are the loop's polls; and
the recorder's own flushes in a program thread (`rec.quiet`) are not the program's waits. sys.setswitchinterval is
followed: a GIL waiter wakes once per switch interval.
Greenlets and asyncio tasks share their thread: they need no GIL view of their own.
Without the extension (no compiler, or VIZ_PURE_PYTHON=1) nothing is sampled: a note says GIL waits are not shown
once the script starts a thread, and a wait in C code no hook covers shows as running.
"""

from __future__ import annotations

import _thread
import os
import sys

from viz.recorder.core import get_ident

REASON = "waiting for the GIL"  # the reason of the ready spans (set in _cpuclock.c)
ASLEEP = "asleep in C code"  # ... and of the blocked spans of waits in C code nobody wrapped, after the call if known
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
    setswitchinterval = sys.setswitchinterval

    def switch_interval_told(interval):  # a GIL waiter wakes that often: a longer sleep is no GIL wait
        setswitchinterval(interval)
        sampler.switch_interval(sys.getswitchinterval())
    sys.setswitchinterval = switch_interval_told
    rec.state = cpuclock.Wrap(sampler, rec.state)
    rec.end = cpuclock.Wrap(sampler, rec.end, True)
    close = rec.close

    def closing(*args, **kwargs):
        try:
            tid = rec.thread_task.get(get_ident())
            if tid is not None:
                sampler.state(tid, True)  # the closing thread runs: a wait of its own has ended
            sampler.stop()
            sampler.drain()
        except Exception:
            rec.hook_error("GIL sampler at exit")
        close(*args, **kwargs)
    rec.close = closing
    os.register_at_fork(after_in_child=sampler.forget)

    def describe(ident: int, seq: int) -> None:
        """What a thread asleep in C code is calling, and where: its user frame, read while it sleeps there (a C
        call that keeps the GIL while it sleeps is over before this runs, and its wait stays undescribed)."""
        frame = sys._current_frames().get(ident)
        user = rec.sites.user_frame(frame) if frame is not None else None
        if user is None:
            sampler.describe(ident, seq, ASLEEP, None, None)
            return
        call = rec.sites.call_text(user)
        file, line = rec.sites.where(user)
        sampler.describe(ident, seq, f"{call} ({ASLEEP})" if call else ASLEEP, file, line)

    def drain_loop():  # takes the GIL only when there is something to do: it must not make waits of its own
        while not rec._closed:
            if sampler.wait(DRAIN_EVERY, 1.0):
                try:
                    for ident, seq in sampler.asleep():
                        describe(ident, seq)
                except Exception:
                    rec.hook_error("describing a wait in C code")
                sampler.drain()

    def on_thread_start():
        tid = rec.thread_task.get(get_ident())
        if tid is not None:
            sampler.register(tid)
    rec.thread_start_hooks.append(on_thread_start)
    rec.loop_thread_hooks.append(sampler.loop)
    rec.quiet = sampler.quiet
    _thread.start_new_thread(drain_loop, ())
    return sampler
