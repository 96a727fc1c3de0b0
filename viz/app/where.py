"""Where in its source a task is at an instant, for the source panel's marker and its other tasks' marks.

A span's line is where the task stopped, or where it resumed (viz.ingest.derive); a task that has just started has
its function's first line, the `def`. While it runs, what it printed says more: the line of the last thing it printed
(a print, or the innermost frame of the script in a traceback it printed, which is where an exception was raised). A
task's first run, from its `def`, points at the first thing it did that the trace knows: what it printed first, or
where it stopped.
"""

from __future__ import annotations

import re
from bisect import bisect_right, insort
from itertools import islice

from viz.trace.model import STATES, Lane, Trace

BACK = 50  # spans looked back through for the last line a task was seen at
_TRACEBACK_LINE = re.compile(r'\s*File "(?P<path>.+)", line (?P<line>\d+), in ')

Place = tuple[str | None, int | None]
RUNNING = STATES.index("running")
MARKED_LANES = 200  # other tasks' lines are marked in the source for at most this many lanes


class Whereabouts:
    """The file and line each task is at, at instant t (outputs indexed by task as the trace grows)."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self._done = 0  # outputs indexed so far
        self._printed: dict[int, list[tuple[float, str, int]]] = {}  # task -> (t, file, line) of its printed lines

    def at(self, lane: Lane, t: float) -> Place:
        """Its span's line, or the last line it was seen at, told more precisely by what it printed while running.

        A task that has ended stays at its last line; one that has not started yet is nowhere.
        """
        i = bisect_right(lane.starts, t) - 1
        if i < 0:
            return None, None
        self._index()
        trace = self.trace
        lines, files = lane.lines, lane.files
        seen = next((j for j in range(i, max(-1, i - BACK), -1) if lines[j]), None)
        place: Place = (None, None) if seen is None else (trace.string(files[seen]) or trace.main_file, lines[seen])
        if lane.states[i] != RUNNING and not (lane.ended is not None and t >= lane.ended):
            return place
        start = lane.starts[i]
        printed = self._printed.get(lane.task, ())
        k = bisect_right(printed, (t, "\uffff", 1 << 62))
        if k and printed[k - 1][0] >= start:  # it printed while running: that line
            return printed[k - 1][1], printed[k - 1][2]
        if seen is not None and seen == i and not any(islice(lines, i)):  # its first run, from its `def`
            after = bisect_right(printed, (start, "", -1))
            end = lane.starts[i + 1] if i + 1 < len(lane.starts) else lane.ended
            if after < len(printed) and (end is None or printed[after][0] <= end):
                return printed[after][1], printed[after][2]
            if i + 1 < len(lines) and lines[i + 1]:
                return trace.string(files[i + 1]) or trace.main_file, lines[i + 1]
        return place

    def _index(self) -> None:
        outputs = self.trace.outputs
        if self._done >= len(outputs):
            return
        sources = self.trace.sources
        main = self.trace.main_file
        script = self.trace.header.get("script")
        for out in outputs[self._done:]:
            where: Place = (out.file or main, out.line) if out.line else (None, None)
            if out.stream == "stderr" and (m := _TRACEBACK_LINE.match(out.text)):
                where = _known(m["path"], sources, script, main), int(m["line"])
            if where[0] is not None and where[1]:
                insort(self._printed.setdefault(out.task, []), (out.t, where[0], where[1]))
        self._done = len(outputs)


def _known(path: str, sources: dict[str, str], script: str | None, main: str | None) -> str | None:
    """The source file a traceback's path names, as the trace calls it (None when it is not one the trace holds)."""
    if path == script:
        return main
    return next((name for name in sources if path == name or path.endswith("/" + name)), None)


def source_at(where: Whereabouts, lane: Lane | None, t: float, style_of) -> tuple[str | None, int | None, dict, str]:
    """What the source panel shows at instant t (the run screen's and the compare screen's): (file, the selected
    task's line in it, the other tasks at lines of that file as {line: [(name, style_of(task))]}, the title). With no
    task selected, or one in a file whose text was not recorded: the main file, with every task marked."""
    trace = where.trace
    file, line = where.at(lane, t) if lane is not None else (None, None)
    if file not in trace.sources:
        file, line = trace.main_file, None
    marks: dict = {}
    for other in trace.lanes[:MARKED_LANES]:
        if other is lane or other.ended is not None and other.ended < t:
            continue
        f, ln = where.at(other, t)
        if f == file and ln:
            marks.setdefault(ln, []).append((other.name, style_of(other.task)))
    title = file or "source"
    if lane is not None and line:
        title += f" · {lane.name} at line {line}"
    return file, line, marks, title
