"""Where the save key writes a trace: NAME-YYYYmmdd-HHMMSS.trace.jsonl in the current directory, never over a file.

The file is created exclusively (open mode "x", O_CREAT | O_EXCL): if anything is at the path by the time it is
written, even a file that appeared after the name was chosen or a symbolic link (followed or dangling), nothing is
written through it. `save_trace` then takes the next free name; `write_new` says so in one line.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

from viz.trace.model import Trace

SUFFIX = ".trace.jsonl"
TRIES = 100  # names save_trace tries, NAME-STAMP, NAME-STAMP-2, ..., before it gives up


class TraceExists(FileExistsError):
    """The path to save to is taken: viz never writes over a file."""


def default_path(name: str, folder: str | Path = ".", now: float | None = None) -> Path:
    """The first free name for a trace of `name` saved now (a dangling symbolic link takes a name too)."""
    for path in _candidates(name, folder, now):
        if not os.path.lexists(path):
            return path
    raise AssertionError("unreachable: the candidates never end")


def _candidates(name: str, folder: str | Path, now: float | None):
    stem = Path(name).name
    for ext in (".py", SUFFIX, ".jsonl"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "trace"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    yield Path(folder) / f"{stem}-{stamp}{SUFFIX}"
    n = 2
    while True:
        yield Path(folder) / f"{stem}-{stamp}-{n}{SUFFIX}"
        n += 1


def write_new(trace: Trace, path: str | Path) -> Path:
    """Write the trace (as far as it has come) to a new file at `path`; TraceExists if the path is taken.

    It is Trace.save's file, created exclusively.
    """
    try:
        trace.save(path, exclusive=True)
    except FileExistsError:
        raise TraceExists(f"{path} already exists; viz never writes over a file") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)  # ours if it is there (created above): a half-written trace is no use to anyone
        raise
    return Path(path)


def save_trace(trace: Trace, name: str, folder: str | Path = ".") -> Path:
    """Write the trace (as far as it has come) to the first free name and return the path it went to."""
    for i, path in enumerate(_candidates(name, folder, None)):
        if i == TRIES:
            raise TraceExists(f"{path.parent}: no free name for the trace after {TRIES} tries")
        if os.path.lexists(path):
            continue
        try:
            return write_new(trace, path)
        except TraceExists:  # taken between the look and the write: the next name
            continue
    raise AssertionError("unreachable: the candidates never end")
