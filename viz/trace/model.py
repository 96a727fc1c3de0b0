"""The trace model every view reads: one lane per task, spans as columns, output lines and the step events.

Records are added one at a time (`Trace.add`), so a live run and a loaded file build the same model. Each lane keeps
its spans as parallel arrays (start times, state codes, reason / file ids, lines) so a million spans stay small and a
view can `bisect` straight to what it draws. A span lasts from its start to the next span's start, the task's end,
or (while the run is live) the latest time seen.
"""

from __future__ import annotations

import gc
import os
import re
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Iterator, NamedTuple

from viz.trace import binary
from viz.trace.format import STATES, ReadResult, TraceWriter, header, open_trace, read_batches
from viz.trace.record import Record, StateRecord

RUNNING, READY, BLOCKED, IDLE = range(4)
LOOP_KIND = "loop"  # the kind of an event loop's own lane (gevent's hub, asyncio's loop): its time is its tasks'
_OLD_LOOP_WORDS = " — blocks the whole loop"  # what reasons ended with before the flag alone said it
STATE_CODE = {name: code for code, name in enumerate(STATES)}

# The C fold (viz/trace/_fold.c) does what Trace._add_many_py does, several times faster; VIZ_PURE_PYTHON=1 or a
# build without a compiler uses the Python code.
_Folder = _prefix_at = None
if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._fold import Folder as _Folder, prefix_at as _prefix_at
    except ImportError:  # pragma: no cover - depends on the build
        pass
_NO_SUMS = [array("d", [0.0]) for _ in range(len(STATES) + 1)]  # prefix_at's starting totals: nothing yet


@dataclass(frozen=True)
class Span:
    """One stretch of one task's time in one state."""

    task: int
    index: int
    state: str
    reason: str | None
    start: float
    end: float
    file: str | None
    line: int | None
    blocks_loop: bool

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def where(self) -> str:
        """`file:line` for display, or '' when the span has no source line."""
        if self.line is None:
            return ""
        return f"{self.file}:{self.line}" if self.file else f"line {self.line}"


class Output(NamedTuple):
    """One line a task printed (a named tuple: a flood of printed lines makes millions of them)."""

    t: float
    task: int
    stream: str
    text: str
    file: str | None
    line: int | None


class Cause(NamedTuple):
    """What woke a task: at time t (the start of the span it explains) task `by` (None: no task) did `what`."""

    t: float
    task: int
    by: int | None
    what: str


CAUSE_MATCH = 1e-6  # a cause explains the span that starts within this of its time


class Lane:
    """A task and its spans, stored column-wise."""

    __slots__ = ("task", "name", "kind", "parent", "created", "ended", "starts", "states", "flags", "reasons",
                 "files", "lines")

    def __init__(self, task: int, name: str, kind: str, parent: int | None, created: float):
        self.task, self.name, self.kind, self.parent, self.created = task, name, kind, parent, created
        self.ended: float | None = None
        self.starts = array("d")
        self.states = bytearray()
        self.flags = bytearray()
        self.reasons = array("i")
        self.files = array("i")
        self.lines = array("i")

    def __len__(self) -> int:
        return len(self.starts)


class Trace:
    """A whole run: header, sources, lanes, output, notes and how it ended."""

    def __init__(self, head: dict | None = None):
        self.header: dict = head if head is not None else header()
        self.sources: dict[str, str] = {}
        self.lanes: list[Lane] = []
        self.outputs: list[Output] = []
        self._output_times = array("d")
        self.notes: list[dict] = []
        self.causes: dict[int, list[Cause]] = {}  # task -> what woke it, in time order
        self.exit: dict | None = None
        self.end_time = 0.0
        self._advanced = False  # end_time was moved on by a live clock estimate (advance), not by a record
        self._steps = array("d")
        self._steps_sorted = True
        self.truncated_at: int | None = None
        self.truncated_where: str | None = None  # where a loaded file was cut off, in words ("line 12", "block 7 ...")
        self.changes = 0
        self._lane_of: dict[int, int] = {}
        self._strings: list[str | None] = [None]
        self._string_id: dict[str | None, int] = {None: 0}
        self._folder = _Folder(STATE_CODE) if _Folder is not None else None
        self._by_state: dict[int, tuple] = {}  # task -> (what its sums were taken over, the sums): seconds_by_state

    # ---- building -------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> "Trace":
        """Read a trace file, JSON Lines or binary (told by its first bytes); raises viz.trace.TraceFileError with
        the file and the line (or block) on bad input."""
        result = ReadResult()
        f, form = open_trace(str(path))
        collecting = gc.isenabled()
        gc.disable()  # a million small tuples made and dropped: no cycles among them for the collector to find
        try:
            if form is not None and form.magic == binary.MAGIC:  # its columns fold straight into the lanes
                with f:
                    blocks = binary.read_blocks(str(path), f, result)
                    first = next(blocks, None)  # (reads the header)
                    trace = cls(result.header)
                    if first is not None:
                        binary.fold_into(trace, chain((first,), blocks))
            else:
                f.close()
                batches = read_batches(path, result)
                first = next(batches, None)  # (reads the header)
                trace = cls(result.header)
                if first is not None:
                    trace.add_many(chain(first, chain.from_iterable(batches)))
        finally:
            if collecting:
                gc.enable()
        trace.truncated_at = result.truncated_at
        trace.truncated_where = result.truncated_where
        trace._drop_old_wording()
        return trace

    def _drop_old_wording(self) -> None:
        """Traces saved before the views phrased `blocks_loop` themselves have the words in the reason too
        ("time.sleep(2) — blocks the whole loop"): the reason is the call alone, the flag says the rest."""
        strings, ids = self._strings, self._string_id
        for i, s in enumerate(strings):
            if s is not None and s.endswith(_OLD_LOOP_WORDS):
                del ids[s]
                strings[i] = s[:-len(_OLD_LOOP_WORDS)]
                ids.setdefault(strings[i], i)

    def advance(self, t: float) -> None:
        """While live: the run has reached time t though no record says so yet (open spans grow to it).

        The viewer calls this with a clock estimate while, say, a blocking call keeps the program silent. The exit
        record, when it comes, sets the run's end: the estimate may have run past it while the last records were on
        their way.
        """
        if t > self.end_time:
            self.end_time = float(t)
            self._advanced = True
            self.changes += 1

    def add_many(self, records: Iterable[Record], hold: bool = False) -> None:
        """Fold records into the model (state records, the bulk of a trace, on a fast path).

        With `hold`, what the C fold buffers may stay pending, to save writing a thousand lanes' columns after
        every small batch: call flush() before reading the lanes."""
        if self._folder is None:
            self._add_many_py(records)
            return
        fold, add, it = self._folder.fold, self.add, iter(records)
        try:
            rec = fold(self, it)  # C folds state records, hands back the first other one
            while rec is not None:
                add(rec)
                for rec in it:  # a run of other records (output lines, say) stays here
                    if type(rec) is StateRecord:
                        rec = fold(self, chain((rec,), it))
                        break
                    add(rec)
                else:
                    break
        finally:
            if not hold:
                self._folder.flush()  # what the C fold still holds goes into the lanes' columns

    def flush(self) -> None:
        """Write what add_many(hold=True) left pending into the lanes' columns."""
        if self._folder is not None:
            self._folder.flush()

    def _add_many_py(self, records: Iterable[Record]) -> None:
        """add_many in Python: the reference for viz/trace/_fold.c."""
        add = self.add
        lane_of, lanes, string_id, intern = self._lane_of, self.lanes, self._string_id, self._intern
        steps = self._steps
        end_time = self.end_time
        n = 0
        state_code = STATE_CODE
        for rec in records:
            if type(rec) is StateRecord:
                _, t, task, state, r, f, line, blocks_loop = rec
            elif rec["k"] == "state":
                _, t, task, state, r, f, line, blocks_loop = StateRecord.from_json(rec)
            else:
                self.end_time = end_time
                add(rec)
                end_time = self.end_time
                continue
            n += 1
            if t > end_time:
                end_time = t
            i = lane_of.get(task)
            lane = lanes[i] if i is not None else self._lane(task, t)
            starts = lane.starts
            if starts and t < starts[-1]:
                t = starts[-1]
            starts.append(t)
            lane.states.append(state_code[state])
            lane.flags.append(1 if blocks_loop else 0)
            rid = string_id.get(r)
            lane.reasons.append(rid if rid is not None else intern(r))
            fid = string_id.get(f)
            lane.files.append(fid if fid is not None else intern(f))
            lane.lines.append(line or 0)
            if steps and t < steps[-1]:
                self._steps_sorted = False
            steps.append(t)
        self.end_time = float(end_time)
        self.changes += n

    def add(self, rec: Record) -> None:
        """Fold one record into the model (a state record may also come as the file's dict form)."""
        if type(rec) is StateRecord:
            self.add_many((rec,))
            return
        kind = rec["k"]
        if kind == "state":
            self.add_many((StateRecord.from_json(rec),))
            return
        t = rec.get("t")
        if t is not None and t > self.end_time:
            self.end_time = float(t)
        self.changes += 1
        if kind == "output":
            t = float(t)
            out = Output(t, rec["task"], rec.get("stream") or "stdout", rec["text"], rec.get("file"), rec.get("line"))
            times = self._output_times
            if times and t < times[-1]:
                i = bisect_right(times, t)
                self.outputs.insert(i, out)
                times.insert(i, t)
            else:
                self.outputs.append(out)
                times.append(t)
            self._step(t)
        elif kind == "task":
            if rec["task"] in self._lane_of:
                lane = self.lanes[self._lane_of[rec["task"]]]
                lane.name, lane.kind = rec["name"], rec["kind"]
            else:
                self._lane_of[rec["task"]] = len(self.lanes)
                self.lanes.append(Lane(rec["task"], rec["name"], rec["kind"], rec.get("parent"), float(t)))
        elif kind == "end":
            self._lane(rec["task"], t).ended = float(t)
        elif kind == "source":
            self.sources[rec["file"]] = rec["text"]
        elif kind == "note":
            self.notes.append(rec)
        elif kind == "cause":
            cause = Cause(float(t), rec["task"], rec.get("by"), rec["what"])
            causes = self.causes.setdefault(cause.task, [])
            if causes and cause.t < causes[-1].t:
                causes.insert(bisect_right([c.t for c in causes], cause.t), cause)
            else:
                causes.append(cause)
        elif kind == "exit":
            self.exit = rec
            if self._advanced and t is not None and t < self.end_time:
                self.end_time = float(t)  # (every record comes before the exit, at its time or earlier)

    def _lane(self, task: int, t: float | None) -> Lane:
        i = self._lane_of.get(task)
        if i is None:
            self._lane_of[task] = i = len(self.lanes)
            self.lanes.append(Lane(task, f"task {task}", "task", None, float(t or 0.0)))
        return self.lanes[i]

    def _intern(self, s: str | None) -> int:
        i = self._string_id.get(s)
        if i is None:
            i = self._string_id[s] = len(self._strings)
            self._strings.append(s)
        return i

    def _step(self, t: float) -> None:
        steps = self._steps
        if steps and t < steps[-1]:
            self._steps_sorted = False
        steps.append(t)

    @property
    def step_count(self) -> int:
        return len(self._steps)

    @property
    def steps(self) -> array:
        """The times of every step event (state change or output line), sorted."""
        if not self._steps_sorted:
            self._steps = array("d", sorted(self._steps))
            self._steps_sorted = True
        return self._steps

    # ---- reading --------------------------------------------------------------------------------------------
    @property
    def duration(self) -> float:
        return self.end_time

    @property
    def finished(self) -> bool:
        return self.exit is not None

    def lane_of(self, task: int) -> Lane | None:
        i = self._lane_of.get(task)
        return None if i is None else self.lanes[i]

    def string(self, sid: int) -> str | None:
        return self._strings[sid]

    def string_ids(self, pattern: re.Pattern) -> set[int]:
        """The ids of the trace's strings (reasons, files) that `pattern` finds something in."""
        return {sid for sid, s in enumerate(self._strings) if s is not None and pattern.search(s)}

    def span_end(self, lane: Lane, i: int) -> float:
        if i + 1 < len(lane.starts):
            return lane.starts[i + 1]
        return lane.ended if lane.ended is not None else self.end_time

    def span(self, lane: Lane, i: int) -> Span:
        return Span(lane.task, i, STATES[lane.states[i]], self._strings[lane.reasons[i]], lane.starts[i],
                    self.span_end(lane, i), self._strings[lane.files[i]], lane.lines[i] or None,
                    bool(lane.flags[i]))

    def cause_of(self, lane: Lane, i: int) -> Cause | None:
        """What woke the task into span i of `lane` (the cause recorded at the span's start), if known."""
        causes = self.causes.get(lane.task)
        if not causes or not 0 <= i < len(lane.starts):
            return None
        start = lane.starts[i]
        j = bisect_left(causes, start - CAUSE_MATCH, key=lambda c: c.t)
        if j < len(causes) and causes[j].t <= start + CAUSE_MATCH:
            return causes[j]
        return None

    def span_index_at(self, lane: Lane, t: float) -> int | None:
        """Index of the span of `lane` that covers time t, or None before its first span / after its end."""
        i = bisect_right(lane.starts, t) - 1
        if i < 0 or (lane.ended is not None and t >= lane.ended and t > lane.starts[i]):
            return None
        return i

    def span_at(self, lane: Lane, t: float) -> Span | None:
        i = self.span_index_at(lane, t)
        return None if i is None else self.span(lane, i)

    def spans(self, lane: Lane, t0: float = 0.0, t1: float | None = None) -> Iterator[Span]:
        """Spans of `lane` overlapping [t0, t1]."""
        t1 = self.end_time if t1 is None else t1
        i = max(0, bisect_right(lane.starts, t0) - 1)
        n = len(lane.starts)
        while i < n and lane.starts[i] <= t1:
            span = self.span(lane, i)
            if span.end >= t0:
                yield span
            i += 1

    def totals(self, lane: Lane) -> dict[str, float]:
        """Seconds the task spent in each state."""
        return dict(zip(STATES, self.seconds_by_state(lane)))

    def loop_blocked_time(self, lane: Lane) -> float:
        """Seconds this task spent in calls that blocked the whole loop."""
        return self.seconds_by_state(lane)[-1]

    def seconds_by_state(self, lane: Lane) -> list[float]:
        """Seconds per state (STATES order), then in calls that block the loop, over the lane's spans: added up in
        span order, in C when built (a report reads these for a thousand lanes of thousands of spans)."""
        starts, states, flags = lane.starts, lane.states, lane.flags
        n = len(starts)
        if not n:
            return [0.0] * (len(STATES) + 1)
        over = (n, starts[n - 1], self.span_end(lane, n - 1))  # lanes only grow: the same spans, the same sums
        kept = self._by_state.get(lane.task)
        if kept is not None and kept[0] == over:  # (a report, its verdict and its findings each ask for them)
            return list(kept[1])
        if _prefix_at is not None:
            sums = _prefix_at(starts, states, flags, _NO_SUMS, 0, 0, n - 1)  # every span but the last
        else:
            sums = [0.0] * (len(STATES) + 1)
            for i in range(n - 1):
                d = starts[i + 1] - starts[i]
                sums[states[i]] += d
                if flags[i]:
                    sums[-1] += d
        d = max(0.0, over[2] - starts[n - 1])  # (a task that ended before its last start: that span is empty)
        sums[states[n - 1]] += d
        if flags[n - 1]:
            sums[-1] += d
        self._by_state[lane.task] = (over, sums)
        return list(sums)

    def work_time(self) -> float:
        """The seconds of work (running + blocked) of every task but the main program and the loop itself.

        Set against the wall time it shows what concurrency bought: 3.5 s of sleeping done in 2.0 s.
        """
        total = 0.0
        for lane in self.lanes:
            if lane.kind in ("main", "loop"):
                continue
            t = self.totals(lane)
            total += t["running"] + t["blocked"]
        return total

    def next_step(self, t: float) -> float | None:
        i = bisect_right(self.steps, t)
        return self.steps[i] if i < len(self.steps) else None

    def prev_step(self, t: float) -> float | None:
        i = bisect_left(self.steps, t) - 1
        return self.steps[i] if i >= 0 else None

    def outputs_until(self, t: float) -> list[Output]:
        """The lines printed up to and including time t."""
        return self.outputs[: bisect_right(self._output_times, t)]

    @property
    def main_file(self) -> str | None:
        return self.header.get("file")

    # ---- writing back ---------------------------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        """The model as trace records again (what `save` writes)."""
        for file, text in self.sources.items():
            yield {"k": "source", "file": file, "text": text}
        for lane in self.lanes:
            yield {"k": "task", "t": lane.created, "task": lane.task, "name": lane.name, "kind": lane.kind,
                   "parent": lane.parent}
        timed: list[tuple[float, int, Record]] = []  # every timed record, written back in time order
        for lane in self.lanes:
            for i in range(len(lane.starts)):
                rec = StateRecord("state", lane.starts[i], lane.task, STATES[lane.states[i]],
                                  self._strings[lane.reasons[i]], self._strings[lane.files[i]], lane.lines[i] or None,
                                  bool(lane.flags[i]))
                timed.append((lane.starts[i], len(timed), rec))
            if lane.ended is not None:
                timed.append((lane.ended, len(timed), {"k": "end", "t": lane.ended, "task": lane.task}))
        for out in self.outputs:
            timed.append((out.t, len(timed), {"k": "output", "t": out.t, "task": out.task, "stream": out.stream,
                                              "text": out.text, "file": out.file, "line": out.line}))
        for note in self.notes:
            timed.append((note.get("t") or 0.0, len(timed), note))
        for causes in self.causes.values():
            for c in causes:
                timed.append((c.t, len(timed), {"k": "cause", "t": c.t, "task": c.task, "by": c.by, "what": c.what}))
        timed.sort(key=lambda x: (x[0], x[1]))
        for _, _, rec in timed:
            yield rec
        if self.exit is not None:
            yield self.exit

    def save(self, path: str | os.PathLike, exclusive: bool = False, form: str | None = None) -> None:
        """Write the model as a trace file: `form` "viztrace" (viz.trace.binary) or "jsonl"; by default the binary
        form if the path ends in `.viztrace`, else JSON Lines (with `exclusive`, only as a new file: see
        TraceWriter)."""
        if form is None:
            form = "viztrace" if str(path).endswith(binary.SUFFIX) else "jsonl"
        if form == "viztrace":  # the binary form, compressed: a save is written once, read often
            w = binary.BinaryWriter(path, self.header, exclusive, compress=True)
        else:
            w = TraceWriter(path, self.header, exclusive)
        try:
            w.write_many(self.records())
        finally:
            w.close()
