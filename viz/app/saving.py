"""Where the save key writes a trace: NAME-YYYYmmdd-HHMMSS.trace.jsonl in the current directory, never over a file."""

from __future__ import annotations

import re
import time
from pathlib import Path

from viz.trace.model import Trace

SUFFIX = ".trace.jsonl"


def default_path(name: str, folder: str | Path = ".", now: float | None = None) -> Path:
    stem = Path(name).name
    for ext in (".py", SUFFIX, ".jsonl"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "trace"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    path = Path(folder) / f"{stem}-{stamp}{SUFFIX}"
    n = 2
    while path.exists():
        path = Path(folder) / f"{stem}-{stamp}-{n}{SUFFIX}"
        n += 1
    return path


def save_trace(trace: Trace, name: str, folder: str | Path = ".") -> Path:
    """Write the trace (as far as it has come) and return the path it went to."""
    path = default_path(name, folder)
    trace.save(path)
    return path
