"""The trace file: JSON Lines with a versioned header, written as a run goes and read back with clear errors.

One JSON object per line. The first line is the header (`{"viz_trace": 1, ...}`); every other line has a kind `k`
(`source`, `task`, `state`, `output`, `end`, `note`, `exit`, `cause`). docs/trace-format.md documents every field.
Readers ignore fields and kinds they do not know, so an older viz reads a newer minor addition; a newer *version*
number is refused with a message saying so. Reading uses orjson when it is installed (a dependency; several times
faster than the json module), and reads the same without it.
"""

from __future__ import annotations

import json
import math
import os
from itertools import islice
from typing import IO, Any, Callable, Generator, Iterable, Iterator, NamedTuple

from viz.trace.record import Record, StateRecord

try:  # parses and writes the lines of a trace several times faster; without it the json module does the same
    from orjson import dumps as _orjson_dumps, loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = _orjson_dumps = None
if os.environ.get("VIZ_NO_ORJSON"):  # (the tests' way to check the json module's path gives the same file)
    _orjson_loads = _orjson_dumps = None
_scan = None  # viz/trace/_fold.c: a block's plain state lines read in one C loop (optional)
_lines = None  # viz/trace/_lines.c: state records written as JSON Lines in one C loop (optional)
if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._lines import lines as _lines
    except ImportError:  # pragma: no cover - depends on the build
        pass
if _orjson_loads is not None and not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._fold import scan_block as _scan
    except ImportError:  # pragma: no cover - depends on the build
        pass

VERSION = 1
STATES = ("running", "ready", "blocked", "idle")
MAX_LINE_BYTES = 4 * 1024 * 1024


_NUM = (int, float)
_OPT_STR = (str, type(None))
_OPT_INT = (int, type(None))
# Fields each kind must carry, with the types they may have.
_REQUIRED: dict[str, dict[str, tuple]] = {
    "source": {"file": (str,), "text": (str,)},
    "task": {"t": _NUM, "task": (int,), "name": (str,), "kind": (str,)},
    "state": {"t": _NUM, "task": (int,), "state": (str,)},
    "output": {"t": _NUM, "task": (int,), "text": (str,)},
    "end": {"t": _NUM, "task": (int,)},
    "note": {"t": _NUM, "text": (str,)},
    "exit": {"t": _NUM, "outcome": (str,)},
    "cause": {"t": _NUM, "task": (int,), "what": (str,)},
}
_OPTIONAL: dict[str, tuple] = {
    "reason": _OPT_STR, "file": _OPT_STR, "line": _OPT_INT, "parent": _OPT_INT, "stream": _OPT_STR,
    "blocks_loop": (bool, type(None)), "status": _OPT_INT, "signal": _OPT_STR, "detail": _OPT_STR,
    "level": _OPT_STR, "by": _OPT_INT,
}


class TraceFileError(Exception):
    """A trace file that cannot be read: says which file and which line, in one line."""

    def __init__(self, path: str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        self.block: int | None = None  # the binary form's: the bad block's number and byte offset (viz.trace.binary)
        self.offset: int | None = None
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


def header(**fields: Any) -> dict:
    """The first record of every trace."""
    return {"viz_trace": VERSION, **fields}


def validate(rec: Any, path: str, lineno: int) -> dict | None:
    """Check one decoded line; return it, or None for a kind this viz does not know (skipped)."""
    if not isinstance(rec, dict):
        raise TraceFileError(path, lineno, f"expected a JSON object, found {type(rec).__name__}")
    kind = rec.get("k")
    if not isinstance(kind, str):  # (checked first: a list or object there is not hashable)
        raise TraceFileError(path, lineno, "record has no kind field 'k'")
    if kind not in _REQUIRED:
        return None
    for field, types in _REQUIRED[kind].items():
        value = rec.get(field)
        if value is None or not isinstance(value, types) or isinstance(value, bool) and bool not in types:
            raise TraceFileError(path, lineno, f"{kind} record: field {field!r} is missing or not {_type_words(types)}")
    for field, types in _OPTIONAL.items():
        if field in rec and not isinstance(rec[field], types):
            raise TraceFileError(path, lineno, f"{kind} record: field {field!r} is not {_type_words(types)}")
    t = rec.get("t")
    if t is not None and not _finite(t):
        raise TraceFileError(path, lineno, f"{kind} record: time 't' is not a finite number")
    line = rec.get("line")
    if line is not None and not 0 <= line < 2**31:
        raise TraceFileError(path, lineno, f"{kind} record: line {line} is out of range")
    if kind == "state" and rec["state"] not in STATES:
        raise TraceFileError(path, lineno, f"state record: unknown state {rec['state']!r}")
    return rec


def _finite(x: int | float) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an integer too large for a float
        return False


def _type_words(types: tuple) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


class ReadResult:
    """What `read_records` found besides the records: the header and whether the file ended mid-line."""

    def __init__(self) -> None:
        self.header: dict = {}
        self.truncated_at: int | None = None  # the cut line's number (the binary form: the cut block's)
        self.truncated_where: str | None = None  # that place in words: "line 12", "block 7 at byte 1234, cut ..."


def read_records(path: str | os.PathLike, result: ReadResult | None = None) -> Iterator[dict]:
    """Yield the validated records of a trace file (header first is checked, not yielded).

    Raises TraceFileError naming the file and line for anything unreadable. A last line cut off mid-way (a run
    killed while writing) is not an error: reading stops there and `result.truncated_at` holds its line number.

    The file is read a block of about a MiB at a time (memory stays bounded, whatever the file's size), and each
    block's lines go through a fast path (`_read_block`). The reference is one line at a time, `_decode_line` then
    `validate`: the fast path takes only what the reference would take as it is and hands it everything else, so
    what loads, and what is refused with which line and message, is the same on either path.
    """
    return _read(path, result, False)


def read_batches(path: str | os.PathLike, result: ReadResult | None = None) -> Iterator[list[Record]]:
    """read_records for Trace.load: the same records in lists (one per block), state records as StateRecord
    (viz.trace.record), which with the C scan saves building a dict per line.
    A bad line raises before any record of its block is yielded."""
    return _read(path, result, True)


class Form(NamedTuple):
    """Another form of the trace file than JSON Lines (viz.trace.binary registers its own): a file that starts with
    `magic` is read by `read_batches(path, f, result)` (lists of records, as read_batches gives them); a path that
    ends with `suffix` is written by `writer(path, head, exclusive)` (TraceWriter's methods)."""

    magic: bytes
    suffix: str
    read_batches: Callable[[str, IO[bytes], "ReadResult"], Iterator[list[Record]]]
    writer: Callable[..., Any]


FORMS: list[Form] = []  # filled as the modules of the other forms are imported (viz.trace imports them all)


def register_form(form: Form) -> None:
    FORMS.append(form)


def open_trace(path: str) -> tuple[IO[bytes], Form | None]:
    """The trace file open for reading, and its form: None for JSON Lines, else the registered Form whose magic bytes
    it starts with (its first bytes tell, not its name). Raises TraceFileError if it cannot be opened."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise TraceFileError(path, None, "no such trace file") from None
    except IsADirectoryError:
        raise TraceFileError(path, None, "is a directory, not a trace file") from None
    except OSError as e:
        raise TraceFileError(path, None, f"cannot open: {e.strerror}") from None
    try:
        start = f.read(max((len(form.magic) for form in FORMS), default=0))
        f.seek(0)
    except OSError as e:
        f.close()
        raise TraceFileError(path, None, f"cannot read: {e.strerror}") from None
    return f, next((form for form in FORMS if start.startswith(form.magic)), None)


def _read(path: str | os.PathLike, result: ReadResult | None, batches: bool) -> Iterator[Any]:
    path = str(path)
    result = result if result is not None else ReadResult()
    f, form = open_trace(path)
    with f:
        if form is not None:
            for recs in form.read_batches(path, f, result):
                if batches:
                    yield recs
                else:
                    yield from (r.to_json() if r.__class__ is StateRecord else r for r in recs)
            return
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise TraceFileError(path, None, "the file is empty, not a viz trace")
        result.header = _check_header(_decode_line(raw, path, 1), path)
        lineno = 1  # the lines read so far
        pending = b""  # the start of a line whose end is not read yet
        while data := f.read(_BLOCK_BYTES):
            if pending:
                data = pending + data
            cut = data.rfind(b"\n") + 1
            pending = data[cut:]
            if cut:
                lineno = yield from _read_block(data[:cut] if pending else data, path, lineno, batches)
            if len(pending) > MAX_LINE_BYTES:  # a line with no end in sight: refused before it fills memory
                _decode_line(pending, path, lineno + 1)  # raises "line is longer than ..."
        if pending:  # a last line without its newline: whole, or cut off mid-way
            lineno += 1
            rec = _decode_line(pending, path, lineno)
            if rec is _TRUNCATED:
                result.truncated_at = lineno
                result.truncated_where = f"line {lineno}"
            else:
                rec = validate(rec, path, lineno)
                if rec is not None:
                    yield [rec] if batches else rec


_BLOCK_BYTES = 1024 * 1024
_TRUNCATED = object()  # what _decode_line returns for a last line cut off mid-way
_FAILED = object()  # what the fast parser "returns" for a line it cannot read
_STATE_NAMES = frozenset(STATES)
# A float orjson returns for a time within these bounds came from a float literal (it turns only integers beyond
# 64 bits into floats), so it is the float the json module returns too.
_T_LOW, _T_HIGH = -9.0e18, 9.0e18


def _decode_line(raw: bytes, path: str, lineno: int) -> Any:
    """The reference reading of one line, as read (its newline included, unless it is the last line): its JSON
    value, or _TRUNCATED for a last line cut off mid-way. Raises TraceFileError for a line too long or not JSON."""
    if len(raw) > MAX_LINE_BYTES:
        raise TraceFileError(path, lineno, f"line is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
    try:
        return json.loads(raw)  # from bytes: json detects the encoding (a BOM, UTF-16 / 32) as it always has
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        if not raw.endswith(b"\n") and lineno > 1:
            return _TRUNCATED
        what = ("not valid UTF-8" if isinstance(e, UnicodeDecodeError)
                else "JSON nested too deeply" if isinstance(e, RecursionError) else "not valid JSON")
        raise TraceFileError(path, lineno, f"{what}; is this a viz trace?") from None


_scan_once = json.JSONDecoder().scan_once


def _json_line(line: str) -> Any:
    """The fast parser without orjson: one line's JSON value by the json module's own scanner (no encoding
    detection, no whitespace regex), as json.loads returns it, if the value fills the line; raises otherwise."""
    rec, end = _scan_once(line, 0)
    if end != len(line):
        raise ValueError("not one JSON value filling the line")
    return rec


def _no_fast_parser(line: bytes) -> Any:
    raise ValueError("read by the reference")


def _read_block(block: bytes, path: str, lineno: int, batch: bool = False) -> Generator[Any, None, int]:
    """Yield the records of the lines of `block` (whole lines: it ends with a newline), the first being line
    lineno + 1; return the number of its last line.

    Each line is parsed by orjson (or, without it, by json's scanner on the block decoded at once). A plain state
    record (`_plain_state`), the bulk of a trace, is yielded as it is; any other line is read again by the
    reference `_decode_line` when orjson parsed it (orjson refuses NaN, a BOM, lone surrogates, which json reads,
    and reads integers beyond 64 bits as floats), or when the fast parser failed, and is checked by `validate`."""
    if batch and _scan is not None and _orjson_loads is not None and len(block) <= MAX_LINE_BYTES:
        recs, lineno = _scan_block(block, path, lineno)
        yield recs
        return lineno
    exact = False  # does `parse` return what _decode_line would?
    if len(block) > MAX_LINE_BYTES:  # a line here may be too long: the reference checks each
        lines, parse = block.split(b"\n"), _no_fast_parser
    elif _orjson_loads is not None:
        lines, parse = block.split(b"\n"), _orjson_loads
    else:
        try:
            lines, parse, exact = block.decode("utf-8").split("\n"), _json_line, True
        except UnicodeDecodeError:  # not strict UTF-8 (json reads UTF-8-encoded surrogates): the reference
            lines, parse = block.split(b"\n"), _no_fast_parser
    lines.pop()  # the empty string after the last newline
    if batch:
        recs: list[Record] = []
        lineno = yield from _read_lines(lines, parse, exact, path, lineno, recs)
        yield recs
        return lineno
    return (yield from _read_lines(lines, parse, exact, path, lineno, None))


def _read_lines(lines: list, parse, exact: bool, path: str, lineno: int, into: list | None
                ) -> Generator[dict, None, int]:
    """_read_block's loop: yields each record, or appends it to `into`."""
    for line in lines:
        lineno += 1
        try:
            rec = parse(line)
        except (ValueError, StopIteration, RecursionError):  # StopIteration: json's scanner found no value
            rec = _FAILED
        if not _plain_state(rec):
            if rec is _FAILED or not exact:
                rec = _decode_line((line if line.__class__ is bytes else line.encode("utf-8")) + b"\n", path, lineno)
            rec = validate(rec, path, lineno)
            if rec is None:
                continue
        if into is None:
            yield rec
        else:
            into.append(StateRecord.from_json(rec) if rec.__class__ is dict and rec["k"] == "state" else rec)
    return lineno


def _scan_block(block: bytes, path: str, lineno: int) -> tuple[list[Record], int]:
    """_read_block with the C scan: the records of the block's lines (plain state lines as StateRecord, each
    other line read by the reference, `_decode_line` then `validate`, as in _read_block) and its last line's
    number."""
    recs: list[Record] = []
    pos, size = 0, len(block)
    while pos < size:
        pos, lines, end = _scan(block, pos, _orjson_loads, recs, _STATE_NAMES)
        lineno += lines
        if pos < size:
            lineno += 1
            rec = validate(_decode_line(block[pos:end + 1], path, lineno), path, lineno)
            if rec is not None:
                recs.append(rec)
            pos = end + 1
    return recs, lineno


def _plain_state(rec: Any) -> bool:
    """Is `rec` a state record that `validate` returns as it is, with a time that orjson reads as json does?

    Only the fields a state record may have, each of an exact type (what a JSON parser returns: no subclasses, and
    a bool is no int here), `t` finite and within +-9e18 (see _T_LOW), `line` in range. A record this refuses goes
    to `validate`, the reference, which decides; tests/test_trace_format.py checks the two agree."""
    if rec.__class__ is not dict:
        return False
    try:
        kind, t, task, state = rec["k"], rec["t"], rec["task"], rec["state"]
    except KeyError:
        return False
    if not (kind == "state" and (t.__class__ is float or t.__class__ is int) and _T_LOW < t < _T_HIGH
            and task.__class__ is int and state.__class__ is str and state in _STATE_NAMES):
        return False
    fields = 4
    if "reason" in rec:
        fields += 1
        value = rec["reason"]
        if value is not None and value.__class__ is not str:
            return False
    if "file" in rec:
        fields += 1
        value = rec["file"]
        if value is not None and value.__class__ is not str:
            return False
    if "line" in rec:
        fields += 1
        value = rec["line"]
        if value is not None and (value.__class__ is not int or not 0 <= value < 2**31):
            return False
    if "blocks_loop" in rec:
        fields += 1
        value = rec["blocks_loop"]
        if value is not None and value.__class__ is not bool:
            return False
    return len(rec) == fields  # and no other field


def _check_header(rec: Any, path: str) -> dict:
    if not isinstance(rec, dict) or "viz_trace" not in rec:
        raise TraceFileError(path, 1, "no viz trace header; is this a viz trace?")
    version = rec["viz_trace"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise TraceFileError(path, 1, f"header: version {version!r} is not an integer")
    if version > VERSION:
        raise TraceFileError(path, 1, f"written by a newer viz (trace version {version}); this viz reads version {VERSION}")
    if version < 1:
        raise TraceFileError(path, 1, f"header: unknown trace version {version}")
    return rec


_json_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_json_ascii = json.JSONEncoder(separators=(",", ":")).encode


def encode_other(rec: dict | StateRecord) -> bytes:
    """One record as its JSON Lines text (UTF-8, no newline), as the json module writes it: compact, non-ASCII
    text kept. Text that UTF-8 cannot hold (a lone surrogate, which a JSON file may carry) is written escaped."""
    text = _json_encode(rec.to_json() if rec.__class__ is StateRecord else rec)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _json_ascii(rec.to_json() if rec.__class__ is StateRecord else rec).encode("ascii")


def encode_lines(recs: list[Record]) -> bytes:
    """Records as JSON Lines (each line ends with a newline).

    In C when built (viz/trace/_lines.c): state records, the bulk, byte for byte as the json module writes them,
    about 20x faster. Without it, runs of state records go through orjson when it is installed, a run at a time
    (one call per record costs more than the encoding): the same values read back, though orjson spells some floats
    another way (1e-05 as 0.00001). What neither writes exactly (a time that is not finite, which orjson writes as
    null; text UTF-8 cannot hold; an integer beyond 64 bits) and every other kind of record go through the json
    module (`encode_other`), as does everything without orjson."""
    if _lines is not None:
        return _lines(recs, _other_line)
    if _orjson_dumps is None:
        return b"".join([encode_other(r) + b"\n" for r in recs])
    out: list[bytes] = []
    run: list[dict] = []
    for r in recs:
        if r.__class__ is StateRecord:
            run.append(r.to_json())
        else:
            if run:
                out.append(_orjson_run(run))
                run = []
            out.append(_other_line(r))
    if run:
        out.append(_orjson_run(run))
    return b"".join(out)


def _orjson_run(run: list[dict]) -> bytes:
    """State records' dicts (flat, each starting with its "k" key) as lines, by one orjson call for the list: in its
    output `},{"k":` stands only between two records (a quote inside a string is escaped, and an unescaped quote
    after `{` opens a key), so the list splits there. A time orjson would write as null, or anything it refuses,
    sends the run through the json module."""
    try:
        body = _orjson_dumps(run)
    except TypeError:  # (orjson.JSONEncodeError is a TypeError): a lone surrogate, an integer beyond 64 bits
        body = b":null"
    if b":null" in body:  # a time that is not finite (or text with those bytes: the json module writes it too)
        return b"".join([encode_other(d) + b"\n" for d in run])
    return body[1:-1].replace(b'},{"k":', b'}\n{"k":') + b"\n"


def _other_line(rec: Record) -> bytes:
    return encode_other(rec) + b"\n"


class TraceWriter:
    """Appends records to a trace file line by line, so a run cut short still leaves every whole line.

    With `exclusive`, the file is created as new (open mode "x", O_CREAT | O_EXCL): FileExistsError if anything is at
    the path, a symbolic link included, and nothing is written through it."""

    @staticmethod
    def open(path: str | os.PathLike, head: dict, exclusive: bool = False) -> "TraceWriter":
        """The writer for `path` by its suffix: `.viztrace` gets the binary form (viz.trace.binary.BinaryWriter,
        the same methods: a registered Form), anything else JSON Lines."""
        for form in FORMS:
            if str(path).endswith(form.suffix):
                return form.writer(path, head, exclusive)
        return TraceWriter(path, head, exclusive)

    def __init__(self, path: str | os.PathLike, head: dict, exclusive: bool = False):
        self.path = str(path)
        self._f: IO[bytes] = open(self.path, "xb" if exclusive else "wb")
        self.write(head)

    def write(self, rec: dict) -> None:
        self._f.write(encode_other(rec) + b"\n")

    def write_many(self, recs: Iterable[Record]) -> None:
        it = iter(recs)
        while chunk := list(islice(it, 10_000)):  # a whole trace saved at once is written a piece at a time
            self._f.write(encode_lines(chunk))

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()
