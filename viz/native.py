"""Which of viz's optional C hot paths this copy runs, and what the pure-Python fallback of each one missing costs.

setup.py builds the extensions if it can: without a C compiler the install goes on and viz runs the same code in
Python; VIZ_PURE_PYTHON=1 turns them all off at run time. `viz --version` and the app's help screen print report().
Imports only the extensions themselves (no Textual, no gevent), so the command line stays quick.
"""

from __future__ import annotations

import importlib
import os
from typing import NamedTuple


class Extension(NamedTuple):
    module: str
    what: str
    cost: str  # of its pure-Python fallback, as measured with bench/ (overhead_switch, instructions, load)


EXTENSIONS = (
    Extension("viz.recorder._fasthook", "switch hook", "tracing makes switch-heavy gevent code 4.6x slower, not 1.46x"),
    Extension("viz.ingest._derive", "deriver", "the viewer derives about 4x slower (1,911 vs 438 ns a record)"),
    Extension("viz.trace._fold", "record folding", "a 1 M-line trace loads 5.7x slower (4.9 vs 0.86 s)"),
    Extension("viz.trace._binary", "binary trace writing",
              "`-o run.viztrace` encodes a state record in about 0.7 µs, not 0.04 µs (and loads check blocks in Python)"),
    Extension("viz.trace._lines", "JSON Lines writing",
              "`-o run.jsonl` writes a state record in about 1.0 µs with orjson (4 µs without), not 0.6 µs"),
    Extension("viz.recorder._aiohook", "asyncio step hook",
              "tracing makes switch-heavy asyncio code 2.8x slower, not 1.95x (29.6k vs 17.1k instructions a step)"),
    Extension("viz.recorder._cpuclock", "GIL sampler",
              "no Python fallback: threads waiting for the GIL show as running, not ready (a note says so)"),
)


def missing() -> list[Extension]:
    """The extensions not in use: all of them under VIZ_PURE_PYTHON=1, else those that do not import."""
    if os.environ.get("VIZ_PURE_PYTHON"):
        return list(EXTENSIONS)
    return [e for e in EXTENSIONS if not _imports(e.module)]


def _imports(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def report() -> str:
    """A line saying the C hot paths are in use, or a line per missing one with what its fallback costs."""
    gone = missing()
    if not gone:
        return f"C hot paths in use: {', '.join(e.what for e in EXTENSIONS)}"
    why = "turned off by VIZ_PURE_PYTHON" if os.environ.get("VIZ_PURE_PYTHON") else "not built: no C compiler?"
    lines = [f"pure-Python fallback for {len(gone)} of {len(EXTENSIONS)} C hot paths ({why}); measured costs:"]
    return "\n".join(lines + [f"  {e.what} ({e.module.rpartition('.')[2]}): {e.cost}" for e in gone])
