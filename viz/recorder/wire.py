"""The pipe between the traced child and the viewer: length-prefixed marshal batches of raw events.

Both sides import this module; it imports nothing but the standard library. Raw events are small tuples whose first
item names their kind (see RAW_KINDS), except the C hook's switch events, which come packed (see SWITCH);
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

# The C hook sends its switch events packed, most of a gevent program's events: H as the bytes SWITCH.pack("H", t,
# hub, task), Y as the pair (SWITCH.pack("Y", t, task, hub), item). A tuple of a float, ints and a string costs the
# child a dozen times more to make and marshal than these bytes. unpack_switch gives back the tuple form.
SWITCH = struct.Struct("<cdqq")


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
