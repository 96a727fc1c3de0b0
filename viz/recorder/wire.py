"""The pipe between the traced child and the viewer: length-prefixed marshal batches of raw events.

Both sides import this module; it imports nothing but the standard library. Raw events are small tuples whose first
item names their kind (see RAW_KINDS); the C hook's switch events come packed in runs (see RUN);
`viz.recorder.derive` turns them into trace records in the parent.
"""

from __future__ import annotations

import marshal
import struct

_LEN = struct.Struct("<I")

# Raw event kinds the child sends (first item of each tuple).
TASK = "T"      # (T, t, task, name, kind, parent, file, line)   a task appears, or is renamed
STATE = "S"     # (S, t, task, state, reason, file, line, info)   a task changes state; info: dict or None
OUTPUT = "O"    # (O, t, task, stream, text, file, line)          a whole line printed
END = "E"       # (E, t, task)                                    a task finished
SOURCE = "F"    # (F, file, text)                                 the text of a source file
NOTE = "N"      # (N, t, level, text)                             a message from the recorder itself
PREPARE = "P"   # (P, t, task)                                    the loop is about to run callbacks and poll
CHECK = "C"     # (C, t, task)                                    the loop's poll returned
EXIT = "X"      # (X, t, status, outcome, detail)                 the script ended (child's own account)
HUB_RESUMES = "H"  # (H, t, hub, task)                            the hub switched to a greenlet
TO_HUB = "Y"    # (Y, t, task, hub, (reason, state, seconds, file, line, info))  a greenlet switched to the hub
RAW_KINDS = (TASK, STATE, OUTPUT, END, SOURCE, NOTE, PREPARE, CHECK, EXIT, HUB_RESUMES, TO_HUB)

# The C hook's switch events, most of a gevent program's events, travel in runs: a run of consecutive switches is one
# event (RUN, the switches packed back to back, the items of the Y ones in order), each switch SWITCH.pack(kind, t,
# first task, second task): ("H", t, hub, task) or ("Y", t, task, hub) with the next item. Making and marshalling a
# tuple of a float, ints and a string per switch costs the child far more. expand_runs gives the tuples back.
SWITCH = struct.Struct("<cdqq")
RUN = "R"


def pack_run(switches: list[tuple]) -> tuple:
    """A run of switch events as the C hook sends it (the inverse of expand_runs, for tests and tools)."""
    return (RUN, b"".join(SWITCH.pack(ev[0].encode(), *ev[1:4]) for ev in switches),
            [ev[4] for ev in switches if len(ev) == 5])


def expand_runs(batch: list) -> list:
    """The batch with each run of switches replaced by its switch events (the batch itself if it has none)."""
    if not any(ev[0] == RUN for ev in batch):
        return batch
    out: list = []
    for ev in batch:
        if ev[0] != RUN:
            out.append(ev)
            continue
        items = iter(ev[2])
        for kind, t, a, b in SWITCH.iter_unpack(ev[1]):
            out.append((TO_HUB, t, a, b, next(items)) if kind == b"Y" else (HUB_RESUMES, t, a, b))
    return out


def count_events(batch: list) -> int:
    """Raw events in a batch, each switch of a run counted."""
    return sum(len(ev[1]) // SWITCH.size if ev[0] == RUN else 1 for ev in batch)


def encode(batch: list) -> bytes:
    payload = marshal.dumps(batch)
    return _LEN.pack(len(payload)) + payload


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
                batch = marshal.loads(bytes(buf[pos + 4:pos + 4 + n]))
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
