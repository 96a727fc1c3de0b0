"""The protocol between the traced child (viz.recorder) and the viewer (viz.ingest): named events, and how they
travel over the pipe -- length-prefixed marshal batches.

Both sides import this module and nothing else of each other; it imports only the standard library. An event is a
plain tuple on the wire (marshal takes nothing else, and the child's hot path cannot afford more): its first item is
its kind, one of the names below, the rest its fields in the order of the event's named type. The named types are the
schema (`decode(ev)` gives one back; tests and tools build events with `TaskSpawned(...).wire()`). The vocabulary
follows trio's Instrument: a task is spawned, steps between states, is scheduled by the loop, exits; the loop waits
for I/O (before / after its poll). The C hook's switches travel packed in runs (SWITCH_RUN).
"""

from __future__ import annotations

import marshal
import struct
import sys
from typing import Any, NamedTuple

MAX_TEXT_CHARS = 64 * 1024  # an output line longer than this travels (and is kept) in pieces of this size

# The interpreters the recorder is tested on. It reads frames (f_lasti, the instruction there, the interpreter's
# frames from C) in ways that change between versions: on any other it refuses rather than record wrongly.
PYTHONS = ((3, 11), (3, 12), (3, 13))


class UnsupportedPython(RuntimeError):
    """Recording was asked of an interpreter the recorder has not been tested on."""


def check_python(version: tuple = tuple(sys.version_info[:2])) -> None:
    """Raise UnsupportedPython (with a message for the user) unless `version` is one of PYTHONS."""
    if tuple(version[:2]) not in PYTHONS:
        tested = ", ".join(f"{a}.{b}" for a, b in PYTHONS)
        raise UnsupportedPython(f"viz records programs on Python {tested}; this is Python {version[0]}.{version[1]}, "
                                f"which it has not been tested on (saved traces still open: viz show FILE)")

_LEN = struct.Struct("<I")

# The kinds of event (first item of each tuple on the wire).
TASK_SPAWNED = "T"      # a task appears (or is renamed)
TASK_STATE = "S"        # a task steps into a state: running, ready, blocked (with why), idle
TASK_OUTPUT = "O"       # a task printed a whole line
TASK_EXITED = "E"       # a task finished
SOURCE_TEXT = "F"       # the text of a source file the program runs
RECORDER_NOTE = "N"     # a message from the recorder itself
LOOP_BEFORE_POLL = "P"  # an event loop is about to run its callbacks and wait for I/O
LOOP_AFTER_POLL = "C"   # the loop's wait for I/O returned
PROGRAM_EXITED = "X"    # the script ended (the child's own account of how)
HUB_TO_TASK = "H"       # the loop (gevent's hub) switched to a task: the task is scheduled and runs
TASK_TO_HUB = "Y"       # a task switched to the loop: it waits (Wait says for what)
SWITCH_RUN = "R"        # consecutive HUB_TO_TASK / TASK_TO_HUB events packed together (see below)
TASK_CAUSE = "W"        # what woke a task: the task (or nothing) and the event behind its step to ready or running


class Wait(NamedTuple):
    """Why a task that switched to the hub waits (the last field of TaskToHub)."""

    reason: str               # in the program's words: "gevent.sleep(2)", "recv() on fd 7 (127.0.0.1:51234)"
    state: str                # "blocked", or "ready" (it yielded, and the loop will come back to it)
    seconds: float | None     # a timer's length, when it waits on one
    file: str | None
    line: int | None          # where it waits
    info: dict | None         # {"fd": 7, "io": "read"}, {"fds": [...]}, {"until": t}, ...


class TaskSpawned(NamedTuple):
    t: float
    task: int
    name: str
    kind: str                 # "main", "thread", "greenlet", "loop", "generator", "asyncio", "connection", ...
    parent: int | None
    file: str | None
    line: int | None


class TaskState(NamedTuple):
    t: float
    task: int
    state: str
    reason: str | None
    file: str | None
    line: int | None
    info: dict | None         # {"blocks_loop": True}, {"fd": 7, "io": "read"}, {"until": t}, {"gil": True} (the end
                              # of a wait for the GIL, ready "waiting for the GIL": viz/recorder/gil.py), ...


class TaskOutput(NamedTuple):
    t: float
    task: int
    stream: str               # "stdout" or "stderr"
    text: str
    file: str | None
    line: int | None


class TaskExited(NamedTuple):
    t: float
    task: int


class SourceText(NamedTuple):
    file: str
    text: str


class RecorderNote(NamedTuple):
    t: float
    level: str
    text: str


class LoopBeforePoll(NamedTuple):
    t: float
    task: int                 # the loop's task (gevent's hub)


class LoopAfterPoll(NamedTuple):
    t: float
    task: int


class ProgramExited(NamedTuple):
    t: float
    status: int
    outcome: str              # "returned", "exception", "sys.exit", "os._exit", "signal", ...
    detail: Any


class HubToTask(NamedTuple):
    t: float
    hub: int
    task: int


class TaskToHub(NamedTuple):
    t: float
    task: int
    hub: int
    wait: tuple               # a Wait, as a plain tuple


class TaskCause(NamedTuple):
    t: float                  # the instant of the step it explains (the start of the task's ready or running span)
    task: int                 # the task woken
    by: int | None            # the task that woke it, None when none did (the OS, a timer no task stands behind)
    what: str                 # the event in the program's words: "Event.set() by worker-2", "select() returned fd 10"


EVENTS: dict[str, type] = {}
for _kind, _type in ((TASK_SPAWNED, TaskSpawned), (TASK_STATE, TaskState), (TASK_OUTPUT, TaskOutput),
                     (TASK_EXITED, TaskExited), (SOURCE_TEXT, SourceText), (RECORDER_NOTE, RecorderNote),
                     (LOOP_BEFORE_POLL, LoopBeforePoll), (LOOP_AFTER_POLL, LoopAfterPoll),
                     (PROGRAM_EXITED, ProgramExited), (HUB_TO_TASK, HubToTask), (TASK_TO_HUB, TaskToHub),
                     (TASK_CAUSE, TaskCause)):
    _type.KIND = _kind  # every named event has its kind, and its form on the wire: (KIND, *fields)
    _type.wire = lambda self: (self.KIND, *self)
    EVENTS[_kind] = _type


def decode(ev: tuple):
    """The named event of a tuple from the wire (not for runs: expand_runs first)."""
    return EVENTS[ev[0]]._make(ev[1:])


# The C hook's switch events, most of a gevent program's events, travel in runs: a run of consecutive switches is one
# event (SWITCH_RUN, the switches packed back to back, the items of the Y ones in order), each switch SWITCH.pack(kind, t,
# first task, second task): ("H", t, hub, task) or ("Y", t, task, hub) with the next item. Making and marshalling a
# tuple of a float, ints and a string per switch costs the child far more. expand_runs gives the tuples back.
SWITCH = struct.Struct("<cdqq")


def pack_run(switches: list[tuple]) -> tuple:
    """A run of switch events as the C hook sends it (the inverse of expand_runs, for tests and tools)."""
    return (SWITCH_RUN, b"".join(SWITCH.pack(ev[0].encode(), *ev[1:4]) for ev in switches),
            [ev[4] for ev in switches if len(ev) == 5])


def expand_runs(batch: list) -> list:
    """The batch with each run of switches replaced by its switch events (the batch itself if it has none)."""
    if not any(ev[0] == SWITCH_RUN for ev in batch):
        return batch
    out: list = []
    for ev in batch:
        if ev[0] != SWITCH_RUN:
            out.append(ev)
            continue
        items = iter(ev[2])
        for kind, t, a, b in SWITCH.iter_unpack(ev[1]):
            out.append((TASK_TO_HUB, t, a, b, next(items)) if kind == b"Y" else (HUB_TO_TASK, t, a, b))
    return out


def split_runs(batch: list, most: int) -> list[list]:
    """The batch as consecutive pieces of about `most` events at most, a run of more switches cut into runs of `most`
    (each with the items of its own Y switches): the same events in the same order, for a viewer to derive and pass
    on a piece at a time (a child's flush holds up to 50 ms of switches: tens of thousands)."""
    if count_events(batch) <= most:
        return [batch]
    pieces: list[list] = []
    piece: list = []
    weight = 0
    step = most * SWITCH.size
    for ev in batch:
        if ev[0] == SWITCH_RUN and len(ev[1]) > step:
            if piece:
                pieces.append(piece)
                piece, weight = [], 0
            packed, items, used = ev[1], ev[2], 0
            for at in range(0, len(packed), step):
                part = packed[at:at + step]
                waits = part[0::SWITCH.size].count(b"Y")  # a switch's kind is its first byte
                pieces.append([(SWITCH_RUN, part, items[used:used + waits])])
                used += waits
            continue
        piece.append(ev)
        weight += len(ev[1]) // SWITCH.size if ev[0] == SWITCH_RUN else 1
        if weight >= most:
            pieces.append(piece)
            piece, weight = [], 0
    if piece:
        pieces.append(piece)
    return pieces


def count_events(batch: list) -> int:
    """Raw events in a batch, each switch of a run counted."""
    return sum(len(ev[1]) // SWITCH.size if ev[0] == SWITCH_RUN else 1 for ev in batch)


def encode(batch: list) -> tuple[bytes, bytes]:
    """A batch on the wire: its length, then its marshalled events (two pieces: a writev sends them without first
    copying a megabyte of events behind four bytes)."""
    payload = marshal.dumps(batch)
    return _LEN.pack(len(payload)), payload


class CorruptStream(Exception):
    """The event pipe carried bytes that are not our batches (something else wrote into it)."""


class FrameDecoder:
    """Feed it bytes from the pipe; it hands back whole batches."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[list]:
        self._buf += data
        out = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 4:
            (n,) = _LEN.unpack_from(buf, pos)
            if len(buf) - pos - 4 < n:
                break
            try:
                with memoryview(buf) as view:  # read in place: no copy of a batch of a megabyte, or two
                    batch = marshal.loads(view[pos + 4:pos + 4 + n])
            except (ValueError, EOFError, TypeError):
                batch = None
            if not isinstance(batch, list):
                raise CorruptStream(f"unreadable event batch of {n} bytes")
            out.append(batch)
            pos += 4 + n
        if pos:
            del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete batch (lost if the child died mid-write)."""
        return len(self._buf)
