"""The pipe between the traced child and the viewer: length-prefixed marshal batches of raw events.

Both sides import this module; it imports nothing but the standard library. Raw events are small tuples whose first
item names their kind (see RAW_KINDS), except the C hook's switch events, which come packed (see SWITCH, RUN);
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

# The C hook's switch events, most of a gevent program's events, are packed: H as the bytes SWITCH.pack("H", t, hub,
# task), Y as the pair (SWITCH.pack("Y", t, task, hub), item). A tuple of a float, ints and a string costs the child
# far more to make and marshal. unpack_switch gives back the tuple form.
SWITCH = struct.Struct("<cdqq")
# In the pipe, a run of consecutive switches travels as one event: (RUN, the packed switches back to back, the items of
# the Y ones in order). expand_runs gives the single events back.
RUN = "R"


def pack_switch(kind: str, t: float, a: int, b: int, item: tuple | None = None) -> bytes | tuple:
    packed = SWITCH.pack(kind.encode(), t, a, b)
    return packed if item is None else (packed, item)


def unpack_switch(ev: bytes | tuple) -> tuple:
    """The tuple form of a packed switch event."""
    if type(ev) is bytes:
        kind, t, a, b = SWITCH.unpack(ev)
        return (kind.decode(), t, a, b)
    kind, t, a, b = SWITCH.unpack(ev[0])
    return (kind.decode(), t, a, b, ev[1])


def pack_run(switches: list[tuple]) -> tuple:
    """A run of switch events as the C hook sends it (the inverse of expand_runs, for tests and tools)."""
    packed = [pack_switch(*ev) for ev in switches]
    return (RUN, b"".join(p if type(p) is bytes else p[0] for p in packed),
            [p[1] for p in packed if type(p) is tuple])


def expand_runs(batch: list) -> list:
    """The batch with each run of switches replaced by its switch events (the batch itself if it has none)."""
    if not any(type(ev) is tuple and ev[0] == RUN for ev in batch):
        return batch
    out: list = []
    for ev in batch:
        if type(ev) is tuple and ev[0] == RUN:
            data, items = ev[1], iter(ev[2])
            size = SWITCH.size
            for pos in range(0, len(data) - size + 1, size):
                packed = bytes(data[pos:pos + size])
                out.append((packed, next(items)) if packed[:1] == b"Y" else packed)
        else:
            out.append(ev)
    return out


def count_events(batch: list) -> int:
    """Raw events in a batch, each switch of a run counted."""
    return sum(len(ev[1]) // SWITCH.size if type(ev) is tuple and ev[0] == RUN else 1 for ev in batch)


def kind_of(ev: bytes | tuple) -> str:
    """The kind of a raw event (one of RAW_KINDS), packed or not."""
    if type(ev) is bytes:
        return chr(ev[0])
    first = ev[0]
    return chr(first[0]) if type(first) is bytes else first


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
