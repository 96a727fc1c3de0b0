"""The binary trace file (`.viztrace`): the records of a JSON Lines trace in blocks of columns, for a cheap write.

The same trace as the JSON Lines file (viz.trace.format), in another encoding: a file head (magic bytes, version),
then length-prefixed, checksummed blocks, each self-contained: the header block first, then blocks of records, each
a batch of state records as columns (times, tasks, state codes, flags, reason / file string ids, lines), the strings
first seen in it, and its other records (task, output, end, note, cause, source, exit) as their JSON Lines text with
the place each stood among the state records. It is written a block per batch as a run goes, so a run cut short
leaves every whole block, as JSON Lines leaves every whole line. docs/trace-format.md gives every byte.

Encoding a batch is one C loop when built (viz/trace/_binary.c, `encode`); `encode_py` here is the reference (and
the path under VIZ_PURE_PYTHON=1), and both give the same bytes. Reading checks every block (its checksum, its
lengths, each record's codes and ids) before anything of it is used: a bad block raises TraceFileError naming the
file, the block and its byte offset; a block cut off at the end of the file is not an error (the run was killed
while writing): reading stops there and says where. `Trace.load` folds the columns straight into the lanes
(`fold_into`, C: Folder.fold_columns) rather than making a record object per span.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
import zlib
from array import array
from typing import IO, Any, Iterable, Iterator

from viz.trace.format import STATES, Form, ReadResult, TraceFileError, encode_other, register_form, validate
from viz.trace.record import Record, StateRecord

MAGIC = b"\x89VIZ\r\n\x1a\n"  # never the start of a JSON Lines file; catches text-mode and 7-bit copies
SUFFIX = ".viztrace"  # a path ending so is written in this form (TraceWriter.open, Trace.save)
VERSION = 1
FILE_HEAD = struct.Struct("<8sII")  # magic, version, reserved (0)
BLOCK_HEAD = struct.Struct("<2sBBIII")  # b"vb", kind, codec, payload size, crc32 of the payload, crc32 of the above
BLOCK_MARK = b"vb"
COLUMNS_HEAD = struct.Struct("<IIII")  # state records, other records, new strings, id of the first new string
KIND_HEADER, KIND_RECORDS = 1, 2
CODEC_NONE, CODEC_ZLIB = 0, 1
BYTES_PER_STATE = 8 + 4 + 4 + 4 + 4 + 1 + 1  # t, task, reason, file, line, state, flags
MAX_BLOCK_RECORDS = 65_536  # a batch larger than this is written as several blocks
MAX_PAYLOAD = 256 * 1024 * 1024  # a batch whose block would be larger is written as several (long output lines)
_I32 = 2**31
_STATE_CODE = {name: code for code, name in enumerate(STATES)}
_SWAP = sys.byteorder != "little"  # the file is little-endian; array's bytes are the machine's

_encode_c = _check_c = None  # viz/trace/_binary.c (optional)
if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._binary import check as _check_c, encode as _encode_c
    except ImportError:  # pragma: no cover - depends on the build
        pass


# ---- writing ----------------------------------------------------------------------------------------------------
def encode_py(records: list, ids: dict, codes: dict = _STATE_CODE) -> tuple[bytes, int, list, list]:
    """A batch of records as the columns of a block: (columns, state records in them, [(position, other record)],
    the new strings). `ids` maps each string written so far to its id (None is 0, not in it) and gets the new
    ones. A state record goes in the columns only if each field has the exact type and range the columns hold
    (a float t, an int task and line in 32 bits, a known state, str or None text, a bool flag); any other record,
    at the number of state records before it, is written as JSON. The reference for _binary.c's encode."""
    ts, tasks, reasons, files, lines = array("d"), array("i"), array("I"), array("I"), array("i")
    states, flags = bytearray(), bytearray()
    others: list = []
    new: list = []
    for rec in records:
        if rec.__class__ is StateRecord:
            _, t, task, state, reason, file, line, blocks = rec
            code = codes.get(state) if state.__class__ is str else None
            if (t.__class__ is float and task.__class__ is int and -_I32 <= task < _I32 and code is not None
                    and (reason is None or reason.__class__ is str) and (file is None or file.__class__ is str)
                    and (line is None or line.__class__ is int and 0 <= line < _I32)
                    and (blocks is True or blocks is False)):
                ts.append(t)
                tasks.append(task)
                states.append(code)
                flags.append(1 if blocks else 0)
                for s, col in ((reason, reasons), (file, files)):
                    if s is None:
                        col.append(0)
                    else:
                        i = ids.get(s)
                        if i is None:
                            i = ids[s] = len(ids) + 1
                            new.append(s)
                        col.append(i)
                lines.append(-1 if line is None else line)
                continue
        others.append((len(ts), rec))
    if _SWAP:  # pragma: no cover - big-endian machines
        for col in (ts, tasks, reasons, files, lines):
            col.byteswap()
    cols = b"".join((ts.tobytes(), tasks.tobytes(), reasons.tobytes(), files.tobytes(), lines.tobytes(),
                     bytes(states), bytes(flags)))
    return cols, len(ts), others, new


def encode(records: list, ids: dict) -> tuple[bytes, int, list, list]:
    """encode_py, in C when built."""
    if _encode_c is not None:
        return _encode_c(records, ids, _STATE_CODE)
    return encode_py(records, ids)


def _u32(values: list[int]) -> bytes:
    a = array("I", values)
    if _SWAP:  # pragma: no cover
        a.byteswap()
    return a.tobytes()


def records_payload(records: list, ids: dict, encoder=encode, limit: int | None = None) -> bytes | None:
    """The payload of one records block (uncompressed) for a batch; `ids` as for encode. With `limit`: None if the
    payload would be larger (and `ids` is as it was)."""
    first = len(ids) + 1
    cols, n, others, new = encoder(records, ids)
    texts = [s.encode("utf-8", "surrogatepass") for s in new]
    jsons = [encode_other(rec) for _, rec in others]
    if limit is not None and len(cols) + sum(map(len, texts)) + sum(map(len, jsons)) + 8 * len(records) > limit:
        for s in new:
            del ids[s]
        return None
    return _payload(cols, n, texts, first, [pos for pos, _ in others], jsons)


def state_payload(records: list, ids: dict) -> tuple[bytes, list]:
    """A batch as the payload of a records block holding its state records alone, and its other records with their
    places, [(state records before it, record)], left as objects: a live run's frames (viz.ingest.process) send
    those pickled, not as JSON. `ids` as for encode."""
    first = len(ids) + 1
    cols, n, others, new = encode(records, ids)
    return _payload(cols, n, [s.encode("utf-8", "surrogatepass") for s in new], first, [], []), others


def _payload(cols: bytes, n: int, texts: list[bytes], first: int, places: list[int], jsons: list[bytes]) -> bytes:
    return b"".join((COLUMNS_HEAD.pack(n, len(jsons), len(texts), first), cols, _u32([len(b) for b in texts]),
                     *texts, _u32(places), _u32([len(b) for b in jsons]), *jsons))


def block(kind: int, payload: bytes, compress: bool = False) -> bytes:
    """A whole block: its head, then the payload (zlib-compressed with `compress`, when that is smaller)."""
    return b"".join(block_parts(kind, payload, compress))


def block_parts(kind: int, payload: bytes, compress: bool = False) -> tuple[bytes, bytes]:
    """A block as its head and its payload as stored (written one after the other, without copying the payload)."""
    codec = CODEC_NONE
    if compress:
        packed = zlib.compress(payload, 1)
        if len(packed) < len(payload):
            payload, codec = packed, CODEC_ZLIB
    head = struct.pack("<2sBBII", BLOCK_MARK, kind, codec, len(payload), zlib.crc32(payload))
    return head + struct.pack("<I", zlib.crc32(head)), payload


def file_head() -> bytes:
    return FILE_HEAD.pack(MAGIC, VERSION, 0)


class BinaryWriter:
    """Appends records to a `.viztrace` file a block per batch, so a run cut short still leaves every whole block.

    The same methods as viz.trace.format.TraceWriter (which `TraceWriter.open` picks by the path's suffix). With
    `exclusive`, the file is created as new (open mode "x"); with `compress`, each block is zlib-compressed (level
    1: about a quarter of the size, at about 0.2 µs a record: worth it for a save, not while a run is recorded)."""

    def __init__(self, path: str | os.PathLike, head: dict, exclusive: bool = False, compress: bool = False):
        self.path = str(path)
        self.compress = compress
        self._ids: dict[str, int] = {}
        self._f: IO[bytes] = open(self.path, "xb" if exclusive else "wb")
        self._f.write(file_head() + block(KIND_HEADER, json.dumps(head, ensure_ascii=False).encode("utf-8",
                                                                                                   "surrogatepass")))

    def write(self, rec: Record) -> None:
        self.write_many([rec])

    def write_many(self, recs: Iterable[Record]) -> None:
        if recs.__class__ is not list:
            recs = list(recs)
        for i in range(0, len(recs), MAX_BLOCK_RECORDS):
            self._write_block(recs[i:i + MAX_BLOCK_RECORDS] if len(recs) > MAX_BLOCK_RECORDS else recs)

    def _write_block(self, recs: list) -> None:
        payload = records_payload(recs, self._ids, limit=MAX_PAYLOAD if len(recs) > 1 else None)
        if payload is None:  # too large for one block (a flood of long lines): halves, each as small as it needs
            half = len(recs) // 2
            self._write_block(recs[:half])
            self._write_block(recs[half:])
            return
        head, payload = block_parts(KIND_RECORDS, payload, self.compress)
        self._f.write(head)
        self._f.write(payload)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


# ---- reading ----------------------------------------------------------------------------------------------------
class Block:
    """One records block, checked: its columns (as arrays, made on first use: the C fold reads the payload itself),
    its new strings, its other records with their places."""

    __slots__ = ("number", "offset", "payload", "n", "strings", "others", "_columns")

    def __init__(self, number: int, offset: int):
        self.number, self.offset = number, offset
        self._columns: tuple | None = None

    def columns(self) -> tuple:
        """(t, task, reason, file, line, state, flags): the state records' columns, arrays and bytes."""
        if self._columns is None:
            cols, pos, n = [], COLUMNS_HEAD.size, self.n
            for code, width in (("d", 8), ("i", 4), ("I", 4), ("I", 4), ("i", 4)):
                cols.append(_array(code, self.payload[pos:pos + n * width]))
                pos += n * width
            self._columns = (*cols, self.payload[pos:pos + n], self.payload[pos + n:pos + 2 * n])
        return self._columns

    t = property(lambda self: self.columns()[0])
    task = property(lambda self: self.columns()[1])
    reason = property(lambda self: self.columns()[2])
    file = property(lambda self: self.columns()[3])
    line = property(lambda self: self.columns()[4])
    state = property(lambda self: self.columns()[5])
    flags = property(lambda self: self.columns()[6])


class _Corrupt(Exception):
    """A block's content does not hold together (turned into TraceFileError with the block and offset)."""


def read_blocks(path: str, f: IO[bytes], result: ReadResult) -> Iterator[Block]:
    """The checked records blocks of an open binary trace (the header goes into result.header).

    Raises TraceFileError naming the file, block and byte offset for a bad block; a cut last block ends the reading
    with result.truncated_at (the block's number, the file head being none and the header block 1) and
    result.truncated_where (words saying where)."""
    raw = f.read(FILE_HEAD.size)
    if len(raw) < FILE_HEAD.size:
        raise TraceFileError(path, None, "the binary trace's file head is cut off (the file is too short)")
    magic, version, _ = FILE_HEAD.unpack(raw)
    if magic != MAGIC:
        raise TraceFileError(path, None, "no binary viz trace magic bytes; is this a viz trace?")
    if version > VERSION:
        raise TraceFileError(path, None, f"written by a newer viz (binary trace version {version}); this viz "
                                         f"reads version {VERSION}")
    if version < 1:
        raise TraceFileError(path, None, f"unknown binary trace version {version}")
    offset, number = FILE_HEAD.size, 0
    strings: list[str | None] = [None]
    while True:
        number += 1
        head = f.read(BLOCK_HEAD.size)
        if not head and number > 1:
            return
        if len(head) < BLOCK_HEAD.size:
            if number == 1:
                raise TraceFileError(path, None, "the header block is missing or cut off")
            _cut(result, number, offset, "in its head")
            return
        mark, kind, codec, size, crc, head_crc = BLOCK_HEAD.unpack(head)
        where = f"block {number} at byte {offset}"
        if mark != BLOCK_MARK or zlib.crc32(head[:-4]) != head_crc:
            raise _error(path, number, offset, f"{where}: the block head is corrupt (not a block's mark or checksum)")
        payload = f.read(size)
        if len(payload) < size:
            if number == 1:
                raise TraceFileError(path, None, "the header block is cut off")
            _cut(result, number, offset, f"after {len(payload):,} of its {size:,} bytes")
            return
        try:
            if zlib.crc32(payload) != crc:
                raise _Corrupt("its checksum does not match its bytes")
            if codec == CODEC_ZLIB:
                try:
                    payload = zlib.decompress(payload)
                except zlib.error as e:
                    raise _Corrupt(f"its compressed bytes do not decompress ({e})") from None
            elif codec != CODEC_NONE:
                raise _Corrupt(f"unknown codec {codec}")
            if number == 1:
                if kind != KIND_HEADER:
                    raise _Corrupt("the first block is not the header")
                result.header = _header(payload)
            elif kind == KIND_RECORDS:
                yield _decode(payload, number, offset, strings, path)
            elif kind == KIND_HEADER:
                raise _Corrupt("a second header block")
            # a block of a kind this viz does not know is skipped, as JSON Lines readers skip unknown kinds
        except _Corrupt as e:
            raise _error(path, number, offset, f"{where}: {e}") from None
        offset += BLOCK_HEAD.size + size


def _cut(result: ReadResult, number: int, offset: int, how: str) -> None:
    result.truncated_at = number
    result.truncated_where = f"block {number} (byte {offset}; the file ends {how})"


def _error(path: str, number: int, offset: int, message: str) -> TraceFileError:
    e = TraceFileError(path, None, message)
    e.block, e.offset = number, offset
    return e


def _header(payload: bytes) -> dict:
    try:
        head = json.loads(payload.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        raise _Corrupt("the header is not a JSON object") from None
    if not isinstance(head, dict):
        raise _Corrupt("the header is not a JSON object")
    return head


def _array(code: str, data: bytes) -> array:
    a = array(code)
    a.frombytes(data)
    if _SWAP:  # pragma: no cover
        a.byteswap()
    return a


def _decode(payload: bytes, number: int, offset: int, strings: list, path: str) -> Block:
    """A records block's payload, checked, as a Block; its new strings are appended to `strings`."""
    size = len(payload)
    if size < COLUMNS_HEAD.size:
        raise _Corrupt("its payload is shorter than its counts")
    n, m, s, first = COLUMNS_HEAD.unpack_from(payload)
    if first != len(strings):
        raise _Corrupt(f"its strings start at id {first}, but {len(strings) - 1} came before")
    pos = COLUMNS_HEAD.size
    end_cols = pos + n * BYTES_PER_STATE
    if end_cols + 4 * s > size:
        raise _Corrupt(f"{n:,} state records and {s:,} strings do not fit in its {size:,} bytes")
    b = Block(number, offset)
    b.payload, b.n = payload, n
    pos = end_cols
    lengths = _array("I", payload[pos:pos + 4 * s])
    pos += 4 * s
    new = []
    for length in lengths:
        if pos + length > size:
            raise _Corrupt("its strings run past its end")
        try:
            new.append(payload[pos:pos + length].decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError:
            raise _Corrupt(f"string {len(strings) + len(new)} is not UTF-8") from None
        pos += length
    if pos + 8 * m > size:
        raise _Corrupt(f"{m:,} other records do not fit in its bytes")
    places = _array("I", payload[pos:pos + 4 * m])
    lengths = _array("I", payload[pos + 4 * m:pos + 8 * m])
    pos += 8 * m
    others = []
    last = 0
    for i, (place, length) in enumerate(zip(places, lengths)):
        if place < last or place > n:
            raise _Corrupt(f"other record {i + 1} stands at {place}, out of order or past the {n:,} state records")
        last = place
        if pos + length > size:
            raise _Corrupt("its other records run past its end")
        text = payload[pos:pos + length]
        pos += length
        try:
            rec = json.loads(text)
        except (ValueError, RecursionError):
            raise _Corrupt(f"other record {i + 1} is not JSON") from None
        try:
            rec = validate(rec, path, 0)
        except TraceFileError as e:
            raise _Corrupt(f"other record {i + 1}: {e.message}") from None
        if rec is not None:
            others.append((place, StateRecord.from_json(rec) if rec["k"] == "state" else rec))
    if pos != size:
        raise _Corrupt(f"{size - pos:,} bytes after its last record")
    strings.extend(new)
    b.strings, b.others = new, others
    bad = (_check_c(payload, COLUMNS_HEAD.size, n, len(strings)) if _check_c is not None
           else check_py(b, len(strings)))
    if bad is not None:
        raise _Corrupt(f"state record {bad[0] + 1}: {bad[1]}")
    return b


def records_block(payload: bytes, strings: list, number: int, source: str) -> Block:
    """A records block's payload (as records_payload makes it), checked, as a Block, its new strings appended to
    `strings`: a live run's blocks (viz.ingest.process). Raises TraceFileError naming `source` and the block."""
    try:
        return _decode(payload, number, 0, strings, source)
    except _Corrupt as e:
        raise _error(source, number, 0, str(e)) from None


def check_py(b: Block, nstrings: int) -> tuple[int, str] | None:
    """The first state record of a block whose columns the model cannot take: (index, what is wrong), or None.
    The reference for _binary.c's check."""
    if not b.n:
        return None
    if max(b.state) < len(STATES) and max(b.flags) <= 1 and max(b.reason) < nstrings and max(b.file) < nstrings \
            and min(b.line) >= -1 and all(map(math.isfinite, b.t)):
        return None
    for i in range(b.n):
        if not math.isfinite(b.t[i]):
            return i, "its time is not a finite number"
        if b.state[i] >= len(STATES):
            return i, f"unknown state code {b.state[i]}"
        if b.flags[i] > 1:
            return i, f"unknown flags {b.flags[i]}"
        if b.reason[i] >= nstrings or b.file[i] >= nstrings:
            return i, f"string id {max(b.reason[i], b.file[i])} is not in the file's {nstrings - 1} strings"
        if b.line[i] < -1:
            return i, f"line {b.line[i]} is out of range"
    return None  # pragma: no cover - the quick check above found something


def block_records(b: Block, strings: list) -> list[Record]:
    """A checked block's records in the order they were written (state records as StateRecord)."""
    st = STATES
    states = [StateRecord("state", t, task, st[c], strings[r], strings[fi], None if ln < 0 else ln, f == 1)
              for t, task, c, f, r, fi, ln in zip(b.t, b.task, b.state, b.flags, b.reason, b.file, b.line)]
    if not b.others:
        return states
    out: list[Record] = []
    at = 0
    for place, rec in b.others:
        out.extend(states[at:place])
        out.append(rec)
        at = place
    out.extend(states[at:])
    return out


def read_batches(path: str, f: IO[bytes], result: ReadResult) -> Iterator[list[Record]]:
    """The records of an open binary trace, a list per block (as format.read_batches gives a JSON Lines file's)."""
    strings: list[str | None] = [None]
    for b in read_blocks(path, f, result):
        strings.extend(b.strings)
        yield block_records(b, strings)


class BlockFolder:
    """Folds checked blocks into `trace`, a viz.trace.model.Trace, one after the other, the strings of each block
    carried over to the next: a file's blocks (fold_into), or a live run's (viz.ingest.process sends its state
    records in blocks). The columns go straight into the lanes in C (Folder.fold_columns) when built, else as
    StateRecords through Trace.add_many; either way the model is the one the same records folded one by one give.
    With `hold`, as Trace.add_many's: call trace.flush() before reading the lanes."""

    def __init__(self, trace: Any):
        self.trace = trace
        self.strings: list[str | None] = [None]  # the blocks' string ids -> strings (without the C fold)
        self.idmap = array("i", [0])  # the blocks' string ids -> the trace's

    def fold(self, b: Block, hold: bool = False) -> None:
        trace = self.trace
        folder = trace._folder
        if folder is None or not hasattr(folder, "fold_columns"):
            self.strings.extend(b.strings)
            trace.add_many(block_records(b, self.strings), hold=hold)
            return
        intern, fold = trace._intern, folder.fold_columns
        self.idmap.extend([intern(s) for s in b.strings])
        at = 0
        try:
            for place, rec in b.others:
                if place > at:
                    fold(trace, b.payload, COLUMNS_HEAD.size, b.n, at, place, self.idmap)
                    at = place
                trace.add(rec)
            if b.n > at:
                fold(trace, b.payload, COLUMNS_HEAD.size, b.n, at, b.n, self.idmap)
        finally:
            if not hold:
                folder.flush()


def fold_into(trace: Any, blocks: Iterable[Block]) -> None:
    """Fold checked blocks (of read_blocks) into `trace` (see BlockFolder)."""
    folder = BlockFolder(trace)
    try:
        for b in blocks:
            folder.fold(b, hold=True)
    finally:
        trace.flush()


register_form(Form(MAGIC, SUFFIX, read_batches, BinaryWriter))  # format.py's readers and TraceWriter.open find it
