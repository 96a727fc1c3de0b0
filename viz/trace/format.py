"""The trace file: JSON Lines with a versioned header, written as a run goes and read back with clear errors.

One JSON object per line. The first line is the header (`{"viz_trace": 1, ...}`); every other line has a kind `k`
(`source`, `task`, `state`, `output`, `end`, `note`, `exit`). docs/trace-format.md documents every field.
Readers ignore fields and kinds they do not know, so an older viz reads a newer minor addition; a newer *version*
number is refused with a message saying so.
"""

from __future__ import annotations

import json
import math
import os
from typing import IO, Any, Iterator

VERSION = 1
STATES = ("running", "ready", "blocked", "idle")
KINDS = ("source", "task", "state", "output", "end", "note", "exit")
MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_TEXT_CHARS = 64 * 1024

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
}
_OPTIONAL: dict[str, tuple] = {
    "reason": _OPT_STR, "file": _OPT_STR, "line": _OPT_INT, "parent": _OPT_INT, "stream": _OPT_STR,
    "blocks_loop": (bool, type(None)), "status": _OPT_INT, "signal": _OPT_STR, "detail": _OPT_STR,
    "level": _OPT_STR,
}


class TraceFileError(Exception):
    """A trace file that cannot be read: says which file and which line, in one line."""

    def __init__(self, path: str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
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
    if kind not in _REQUIRED:
        if isinstance(kind, str):
            return None
        raise TraceFileError(path, lineno, "record has no kind field 'k'")
    for field, types in _REQUIRED[kind].items():
        value = rec.get(field)
        if value is None or not isinstance(value, types) or isinstance(value, bool) and bool not in types:
            raise TraceFileError(path, lineno, f"{kind} record: field {field!r} is missing or not {_type_words(types)}")
    for field, types in _OPTIONAL.items():
        if field in rec and not isinstance(rec[field], types):
            raise TraceFileError(path, lineno, f"{kind} record: field {field!r} is not {_type_words(types)}")
    t = rec.get("t")
    if t is not None and not math.isfinite(t):
        raise TraceFileError(path, lineno, f"{kind} record: time 't' is not a finite number")
    line = rec.get("line")
    if line is not None and not 0 <= line < 2**31:
        raise TraceFileError(path, lineno, f"{kind} record: line {line} is out of range")
    if kind == "state" and rec["state"] not in STATES:
        raise TraceFileError(path, lineno, f"state record: unknown state {rec['state']!r}")
    return rec


def _type_words(types: tuple) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


class ReadResult:
    """What `read_records` found besides the records: the header and whether the file ended mid-line."""

    def __init__(self) -> None:
        self.header: dict = {}
        self.truncated_at: int | None = None


def read_records(path: str | os.PathLike, result: ReadResult | None = None) -> Iterator[dict]:
    """Yield the validated records of a trace file (header first is checked, not yielded).

    Raises TraceFileError naming the file and line for anything unreadable. A last line cut off mid-way (a run
    killed while writing) is not an error: reading stops there and `result.truncated_at` holds its line number.
    """
    path = str(path)
    result = result if result is not None else ReadResult()
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise TraceFileError(path, None, "no such trace file") from None
    except IsADirectoryError:
        raise TraceFileError(path, None, "is a directory, not a trace file") from None
    except OSError as e:
        raise TraceFileError(path, None, f"cannot open: {e.strerror}") from None
    with f:
        lineno = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            lineno += 1
            if len(raw) > MAX_LINE_BYTES:
                raise TraceFileError(path, lineno, f"line is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
            complete = raw.endswith(b"\n")
            try:
                rec = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                if not complete and lineno > 1:
                    result.truncated_at = lineno
                    break
                what = "not valid UTF-8" if isinstance(e, UnicodeDecodeError) else "not valid JSON"
                raise TraceFileError(path, lineno, f"{what}; is this a viz trace?") from None
            if lineno == 1:
                result.header = _check_header(rec, path)
                continue
            rec = validate(rec, path, lineno)
            if rec is not None:
                yield rec
        if lineno == 0:
            raise TraceFileError(path, None, "the file is empty, not a viz trace")


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


class TraceWriter:
    """Appends records to a trace file line by line, so a run cut short still leaves every whole line."""

    def __init__(self, path: str | os.PathLike, head: dict):
        self.path = str(path)
        self._f: IO[str] = open(self.path, "w", encoding="utf-8")
        self.write(head)

    def write(self, rec: dict) -> None:
        self._f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
        self._f.write("\n")

    def write_many(self, recs: list[dict]) -> None:
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self._f.write("".join(dumps(r) + "\n" for r in recs))

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


def save(path: str | os.PathLike, head: dict, records: list[dict]) -> None:
    """Write a whole trace at once (the app's save key)."""
    w = TraceWriter(path, head)
    try:
        w.write_many(records)
    finally:
        w.close()
