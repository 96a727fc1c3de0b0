"""Raw child events → trace records, deriving in the viewer what the traced program need not compute.

The child reports only what it sees at the moment: switches, waits, the loop's poll boundaries. Here, in the parent:
- a `running` span with no source line continues at the line where the task last stopped (it resumes there);
- a task that waited on a timer and ran noticeably after the deadline was `ready` from the deadline ("timer fired");
  one that waited on an fd was `ready` from the end of the poll that returned it ("fd 7 readable");
- the hub is `idle` from the moment it last came back to its loop until its poll returned, and the idle span says
  what it was polling for (the fds and timers its blocked tasks wait on);
- a GIL wait (ready "waiting for the GIL", then running with info {"gil": True}), or a wait in C code nobody
  wrapped (blocked "asleep in C code", then the same running), only ever interrupts a running span: the recorder's
  sampler finds it after the fact and may name a task that has stopped running meanwhile (a hook that records the
  stop straight into the buffer does not tell it), and then the wait and its end are dropped;
- causes (who woke a task, and how): a spawned task's first span is its parent's doing, and a hub that resumes a task
  blocked on a timer or an fd woke it (`the timer gevent.sleep(2) set at line 13 fired`, `fd 7 readable, returned
  by the hub's poll`); the recorder's own cause events (threads, generators, asyncio, select loops) pass through;
- repeated identical states are folded, and at exit every task still open is ended.

State records, the bulk of a trace, come out as viz.trace.record.StateRecord; the rest as dicts.
The C hook's switch events (H, Y), most of a gevent program's events, are derived by viz/ingest/_derive.c when it
is built (read where they lie in the runs the hook packs them in), exactly as _hub_resumes and _to_hub do here
(tests/test_derive_fast_path.py checks both agree).
"""

from __future__ import annotations

import os

from viz import protocol
from viz.trace.record import Record, StateRecord

LATE = 0.005  # a wake-up later than this after its cause shows as a ready span
GIL_WAIT = "waiting for the GIL"  # the reason of the recorder's GIL waits (viz/recorder/gil.py)
SAMPLE_SLACK = 0.005  # s: a sampled wait may begin this much before the running span it interrupts (a tick)


def _sampled(state, reason, info) -> bool:
    """A wait the recorder's sampler found (viz/recorder/_cpuclock.c): one for the GIL (ready, GIL_WAIT), or one
    asleep in C code nobody wrapped (blocked, info {"asleep": True}, its reason the call when the recorder could
    read it: `libc.usleep(300000) (asleep in C code)`)."""
    if state == "ready":
        return reason == GIL_WAIT and info is None
    return state == "blocked" and info is not None and info.get("asleep") is True


def _wake_words(task) -> str | None:
    """What a hub's switch to a task blocked on a timer or an fd says woke it (viz/ingest/_derive.c says the same), or
    None for a wait the hub does not see the end of (an event, a queue: the task that set it is not in the events)."""
    info = task.info
    if info.get("until") is not None:
        reason = task.reason
        if not (isinstance(reason, str) and reason):
            return "the timer fired"
        return f"the timer {reason} set at line {task.line} fired" if task.line is not None else \
            f"the timer {reason} fired"
    fd = info.get("fd")
    if fd is not None:
        return f"fd {fd} {'writable' if info.get('io') == 'write' else 'readable'}, returned by the hub's poll"
    if info.get("fds"):
        return "select() returned, in the hub's poll"
    return None


class _PyTask:
    """What the deriver knows of one task: its current state and where it last stopped."""

    __slots__ = ("state", "reason", "t", "file", "line", "info", "ended")

    def __init__(self, file=None, line=None):
        self.state = self.reason = self.info = None
        self.t = 0.0
        self.file, self.line = file, line
        self.ended = False


class _PyHub:
    """A hub's running record held back until a poll says whether the hub was idle, and when it began to poll."""

    __slots__ = ("held", "idle_from")

    def __init__(self):
        self.held = self.idle_from = None


# viz/ingest/_derive.c derives runs of the C hook's switch events (H, Y) as _hub_resumes and _to_hub do, on its
# own Task and Hub; VIZ_PURE_PYTHON=1 or a build without a compiler uses the Python code alone.
_Task, _Hub, _switches, _expand_runs = _PyTask, _PyHub, None, protocol.expand_runs


def _task_id(tid):
    """The object to key task `tid` by: itself here; in C the one its packed switches carry, found by identity."""
    return tid


if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.ingest._derive import Hub as _Hub, Task as _Task  # noqa: F811
        from viz.ingest._derive import switches as _switches, task_id as _task_id  # noqa: F811
    except ImportError:  # pragma: no cover - depends on the build
        pass


class Deriver:
    def __init__(self) -> None:
        self.tasks: dict[int, _Task] = {}
        self._threads: set[int] = set()  # tasks that are threads of their own: a loop's poll does not wait for them
        self.names: dict[int, str] = {}
        self.outputs = 0  # output records made so far (the viewer counts them against its limit)
        self.exit: tuple | None = None
        self.end_time = 0.0
        self._hubs: dict[int, _Hub] = {}
        self._polled: float | None = None  # when the latest poll of any hub returned (None until there is a hub)
        self._switched_to: dict[int, str] = {}  # task -> "switched to <its name>", the reason of a hub's ready span
        self._idle_told: set[int] = set()  # hubs whose idle span of the current poll went out early (quiet())
        self._gil_dropped: set[int] = set()  # tasks whose GIL wait was dropped: drop its end too
        self._spawns: dict[int, tuple] = {}  # task spawned, no state yet -> (parent, line of its task record)
        self._spawns_ended: dict[int, tuple] = {}  # the same, for tasks that ended in the batch being derived

    def feed(self, batch: list) -> list[Record]:
        """The records of a batch of raw events, in order (and the spawn causes of tasks that took their first step)."""
        out = self._feed(batch)
        if self._spawns or self._spawns_ended:
            self._spawn_causes(out)
        return out

    def _spawn_causes(self, out: list) -> None:
        """A spawned task's first span, ready or running, was caused by its parent: `spawned by main (its code starts
        at line 12)` (the line of the task record: where its function is defined, not the spawn call)."""
        spawns = self._spawns
        if self._spawns_ended:  # a task that ended in this batch may have taken its first step in it too
            spawns = {**spawns, **self._spawns_ended}
            self._spawns_ended.clear()
        for i in range(len(out)):
            rec = out[i]
            if type(rec) is StateRecord and rec[2] in spawns:
                parent, line = spawns.pop(rec[2])
                self._spawns.pop(rec[2], None)
                if rec[3] in ("ready", "running"):
                    where = f" (its code starts at line {line})" if line else ""  # the task record's line
                    out.append({"k": "cause", "t": rec[1], "task": rec[2], "by": parent,
                                "what": f"spawned by {self.names.get(parent, '?')}{where}"})
                if not spawns:
                    return

    def _feed(self, batch: list) -> list[Record]:
        out: list[Record] = []
        one = self._one
        if _switches is None:
            for ev in _expand_runs(batch):
                one(out, ev)
            return out
        i = j = 0
        tasks, hubs, reasons = self.tasks, self._hubs, self._switched_to
        while True:  # C takes the switch events (read in their runs), Python each event C stops at
            i, j, self.end_time, ev = _switches(batch, i, j, out, tasks, hubs, reasons, self.end_time, self._polled)
            if ev is None:
                return out
            one(out, ev)

    def _one(self, out: list, ev: tuple) -> None:
        """Derive one raw event (any kind)."""
        kind = ev[0]
        if kind == protocol.HUB_TO_TASK:
            self._hub_resumes(out, ev)
        elif kind == protocol.TASK_TO_HUB:
            self._to_hub(out, ev)
        elif kind == protocol.TASK_STATE:
            self._state(out, *ev[1:])
        elif kind == protocol.TASK_OUTPUT:
            self.outputs += 1
            _, t, tid, stream, text, file, line = ev
            self._see(t)
            out.append({"k": "output", "t": t, "task": tid, "stream": stream, "text": text, "file": file,
                        "line": line})
        elif kind == protocol.TASK_SPAWNED:
            _, t, tid, name, kind_, parent, file, line = ev
            tid = _task_id(tid)  # the deriver's and the model's dicts are keyed by it
            self._see(t)
            self.names[tid] = name
            self._switched_to[tid] = "switched to " + name
            if kind_ == "thread":
                self._threads.add(tid)
            if tid not in self.tasks:
                self.tasks[tid] = _Task(file, line)
                if parent is not None:
                    self._spawns[tid] = (parent, line)
            if kind_ == "loop":
                self._hub(tid)
            out.append({"k": "task", "t": t, "task": tid, "name": name, "kind": kind_, "parent": parent})
        elif kind == protocol.TASK_EXITED:
            self._end(out, ev[1], ev[2])
        elif kind == protocol.LOOP_BEFORE_POLL:
            self._prepare(out, ev[1], ev[2])
        elif kind == protocol.LOOP_AFTER_POLL:
            self._check(out, ev[1], ev[2])
        elif kind == protocol.TASK_CAUSE:
            _, t, tid, by, what = ev
            self._see(t)
            out.append({"k": "cause", "t": t, "task": tid, "by": by, "what": what})
        elif kind == protocol.SOURCE_TEXT:
            out.append({"k": "source", "file": ev[1], "text": ev[2]})
        elif kind == protocol.RECORDER_NOTE:
            self._see(ev[1])
            out.append({"k": "note", "t": ev[1], "level": ev[2], "text": ev[3]})
        elif kind == protocol.PROGRAM_EXITED:
            self._see(ev[1])
            self.exit = ev

    def _see(self, t: float) -> None:
        if t > self.end_time:
            self.end_time = t

    # ---- states ---------------------------------------------------------------------------------------------
    def _state(self, out, t, tid, state, reason, file, line, info) -> None:
        self._see(t)
        task = self.tasks.get(tid)
        if task is None:
            task = self.tasks[tid] = _Task()
        if task.ended:
            return
        if _sampled(state, reason, info):
            # the sampler's idea of which task a thread runs may be stale, and its waits come after the fact: a wait
            # counts only inside the running span it interrupts
            if task.state != "running" or tid in self._hubs or t < task.t - SAMPLE_SLACK:
                self._gil_dropped.add(tid)
                return
            t = max(t, task.t)
        elif info is not None and state == "running" and info.get("gil"):
            if tid in self._gil_dropped:
                self._gil_dropped.discard(tid)
                return
            if not _sampled(task.state, task.reason, task.info):
                return  # the task stopped running during the wait: that says more than the wait's end
            info = task.info = None
            t = max(t, task.t)  # (its start may have been moved up to the running span it interrupts)
        hub = self._hubs.get(tid)
        if hub is not None:
            self._hub_state(out, hub, t, tid, state, reason, file, line, info)
            return
        if file is None and (state == "running" or info is not None and info.get("asleep")):
            file, line = task.file, task.line  # it resumes, or sleeps in a call not described, where it last stopped
        if state == "running" and task.state == "blocked" and task.info:
            hid = self._switching_hub(t)  # the Python switch hook's form of a hub's switch: its ready state, then ours
            what = _wake_words(task) if hid is not None else None
            n = len(out)
            self._woke_late(out, task, t, tid)
            if what is not None:
                out.append({"k": "cause", "t": out[-1][1] if len(out) > n else t, "task": tid, "by": hid,
                            "what": what})
        if state == task.state and reason == task.reason and file == task.file and line == task.line:
            return
        self._emit(out, task, t, tid, state, reason, file, line, info)

    def _switching_hub(self, t: float) -> int | None:
        """The hub that switched to a task at time t (it went ready, "switched to ...", at that very instant)."""
        tasks = self.tasks
        for hid in self._hubs:
            htask = tasks[hid]
            if htask.t == t and htask.state == "ready":
                return hid
        return None

    # ---- the C hook's compact switch events, on a fast path ----------------------------------------------------
    def _hub_resumes(self, out, ev) -> None:
        """(H, t, hub, task): the hub is ready (it switched to the task), the task runs where it stopped."""
        _, t, hid, tid = ev
        if t > self.end_time:
            self.end_time = t
        hub = self._hubs.get(hid)
        if hub is None:
            self._state(out, t, hid, "ready", "switched to " + self.names.get(tid, "?"), None, None, None)
        else:
            held = hub.held
            if held is not None:
                out.append(held)
                hub.held = None
            task = self.tasks[hid]
            reason = "switched to " + self.names.get(tid, "?")
            out.append(StateRecord("state", t, hid, "ready", reason, None, None, False))
            task.state, task.reason, task.t, task.info = "ready", reason, t, None
        task = self.tasks.get(tid)
        if task is None or task.ended or tid in self._hubs:
            self._state(out, t, tid, "running", None, None, None, None)
            return
        if task.state == "blocked" and task.info:
            what = _wake_words(task)
            n = len(out)
            self._woke_late(out, task, t, tid)  # what _state does here, then the same running span
            if what is not None:  # the hub resumed it: the cause of its ready span (woke late) or its running span
                out.append({"k": "cause", "t": out[-1][1] if len(out) > n else t, "task": tid, "by": hid,
                            "what": what})
        elif task.state == "running" and task.reason is None:
            return
        out.append(StateRecord("state", t, tid, "running", None, task.file, task.line, False))
        task.state, task.reason, task.t, task.info = "running", None, t, None

    def _to_hub(self, out, ev) -> None:
        """(Y, t, task, hub, (reason, state, seconds, file, line, info)): the task waits, the hub runs."""
        _, t, tid, hid, (reason, st, secs, file, line, info) = ev
        if t > self.end_time:
            self.end_time = t
        if secs:
            info = {"until": t + secs}
        task = self.tasks.get(tid)
        if task is None or task.ended or tid in self._hubs:
            self._state(out, t, tid, st, reason, file, line, info)
        elif not (st == task.state and reason == task.reason and file == task.file and line == task.line):
            if file is not None:
                task.file, task.line = file, line
            out.append(StateRecord("state", t, tid, st, reason, file, line, bool(info and info.get("blocks_loop"))))
            task.state, task.reason, task.t, task.info = st, reason, t, info
        hub = self._hubs.get(hid)
        if hub is None:
            self._state(out, t, hid, "running", None, None, None, None)
            return
        held = hub.held
        if held is not None:
            out.append(held)
        hub.held = StateRecord("state", t, hid, "running", None, None, None, False)
        htask = self.tasks[hid]
        htask.state, htask.reason, htask.t = "running", None, t
        if hub.idle_from is not None:
            hub.idle_from = t

    def _emit(self, out, task, t, tid, state, reason, file, line, info) -> None:
        out.append(StateRecord("state", t, tid, state, reason, file, line, bool(info and info.get("blocks_loop"))))
        task.state, task.reason, task.t, task.info = state, reason, t, info
        if file is not None:
            task.file, task.line = file, line

    def _woke_late(self, out, task, t, tid) -> None:
        info = task.info
        until = info.get("until")
        if until is not None:
            if t - until > LATE and until > task.t:
                self._emit(out, task, until, tid, "ready", "timer fired", task.file, task.line, None)
            return
        fd = info.get("fd")
        if fd is not None or info.get("fds"):
            polled = self._polled
            if polled is not None and polled > task.t and t - polled > LATE:
                what = f"fd {fd} {'writable' if info.get('io') == 'write' else 'readable'}" if fd is not None \
                    else "select() returned"
                self._emit(out, task, polled, tid, "ready", what, task.file, task.line, None)

    def _end(self, out, t, tid) -> None:
        self._see(t)
        spawn = self._spawns.pop(tid, None)
        if spawn is not None:  # its first step may be in this batch's records: the batch's end looks (feed)
            self._spawns_ended[tid] = spawn
        task = self.tasks.get(tid)
        if task is None or task.ended:
            return
        hub = self._hubs.get(tid)
        if hub is not None and hub.held is not None:
            out.append(hub.held)
            hub.held = None
        task.ended = True
        out.append({"k": "end", "t": t, "task": tid})

    # ---- the hub: held running spans become idle when a poll closes them ------------------------------------
    def _hub(self, tid: int) -> _Hub:
        hub = self._hubs.get(tid)
        if hub is None:
            hub = self._hubs[tid] = _Hub()
            if self._polled is None:
                self._polled = 0.0
            self.tasks.setdefault(tid, _Task())
        return hub

    def _prepare(self, out, t, tid) -> None:
        self._see(t)
        hub = self._hub(tid)
        if hub.idle_from is None:
            hub.idle_from = t

    def quiet(self) -> list[Record]:
        """The program has been silent for a while: a hub that began a poll and has not come back is idle now, so
        say so without waiting for the poll to return (a live view would otherwise go on showing what the hub did
        before it polled, for as long as the poll lasts). The poll's end still comes with its check event."""
        out: list = []
        for tid, hub in self._hubs.items():
            if hub.idle_from is None or tid in self._idle_told or self.tasks[tid].ended:
                continue
            held, hub.held = hub.held, None
            if held is not None and held[1] < hub.idle_from:
                out.append(held)
            self._emit(out, self.tasks[tid], hub.idle_from, tid, "idle", self._polling_for(), None, None, None)
            self._idle_told.add(tid)
        return out

    def _check(self, out, t, tid) -> None:
        self._see(t)
        hub = self._hub(tid)
        task = self.tasks[tid]
        idle_from = hub.idle_from
        held = hub.held
        hub.held = None
        told = tid in self._idle_told  # its idle span went out already (quiet())
        self._idle_told.discard(tid)
        if idle_from is None:
            if held is not None:
                out.append(held)
            return
        if held is not None and held[1] < idle_from:
            out.append(held)
        if t - idle_from > 0.0002 and not told:
            self._emit(out, task, idle_from, tid, "idle", self._polling_for(), None, None, None)
        hub.idle_from = None
        if t > self._polled:
            self._polled = t
        self._emit(out, task, t, tid, "running", "poll returned", None, None, None)

    def _hub_state(self, out, hub, t, tid, state, reason, file=None, line=None, info=None) -> None:
        """A loop's own state. Its running spans are held back (a poll that follows turns them idle); they keep what
        the loop said it ran (asyncio's `recv() → 34 bytes` for a task), and a call that blocked the loop keeps its
        mark and line."""
        task = self.tasks[tid]
        if state == "running":
            if hub.held is not None:
                out.append(hub.held)
            hub.held = StateRecord("state", t, tid, "running", reason, None, None, False)
            task.state, task.reason, task.t = "running", reason, t
            if hub.idle_from is not None:
                hub.idle_from = t
        else:
            if hub.held is not None:
                out.append(hub.held)
                hub.held = None
            blocks = info if info and info.get("blocks_loop") else None
            self._emit(out, task, t, tid, state, reason, file if blocks else None, line if blocks else None, blocks)

    def _polling_for(self) -> str:
        """What the loop's blocked tasks wait on: their fds, their timers, and how many wait on anything else (an
        event, a queue, a join, a threadpool's result). A watcher no task waits on (a server's listening socket) is
        not seen from here: with nothing counted, the reason says so rather than that the loop waits for nothing."""
        fds: set[int] = set()
        timers = others = 0
        for tid, task in self.tasks.items():
            if task.state != "blocked" or task.ended or tid in self._hubs or tid in self._threads:
                continue
            info = task.info or {}
            if info.get("until") is not None:
                timers += 1
            if info.get("fd") is not None:
                fds.add(info["fd"])
            fds.update(info.get("fds") or ())
            if not (info.get("until") is not None or info.get("fd") is not None or info.get("fds")):
                others += 1
        parts = []
        if fds:
            parts.append(f"fds {sorted(fds)}")
        if timers:
            parts.append(f"{timers} timer{'s' if timers != 1 else ''}")
        if others:
            parts.append(f"{others} other wait{'s' if others != 1 else ''}")
        return "polling: " + (", ".join(parts) if parts else "no task waits on it")

    # ---- the end --------------------------------------------------------------------------------------------
    def close(self, t: float) -> list[Record]:
        """End every task still open at time t (the run is over)."""
        out: list[Record] = []
        for hub in self._hubs.values():
            if hub.held is not None:
                out.append(hub.held)
                hub.held = None
        for tid, task in self.tasks.items():
            if not task.ended:
                task.ended = True
                out.append({"k": "end", "t": max(t, task.t), "task": tid})
        return out
