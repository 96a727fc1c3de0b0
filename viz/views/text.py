"""Text swimlanes for the terminal without the TUI: a row per task, a legend, a time axis and a totals table.

Drawn with rich from the trace model only. A cell where the task was in several states shows the most important of
them, by the rule of viz.views.cells that the app's timeline follows too (a call that blocks the whole loop first,
so it is never hidden); with colour off, states are letters.
"""

from __future__ import annotations

import math
import os
import re
import textwrap
from itertools import compress, groupby
from operator import sub

from rich.console import Console, Group
from rich.segment import Segment
from rich.text import Text

from viz.trace.model import RUNNING, Lane, Trace
from viz.views.durations import fmt_duration
from viz.views.outcome import outcome_line
from viz.views.verdict import verdict
from viz.views.cells import BLOCKED_V, IDLE_V, LOOP_V, LOOP_WORDS, READY_V, RUNNING_V, WORDS, lane_cells, \
    with_loop_words

CELL = {RUNNING_V: ("█", "green", "R"), READY_V: ("▒", "yellow", "r"), BLOCKED_V: ("░", "red", "b"),
        IDLE_V: ("·", "blue", "i"), LOOP_V: ("▓", "bold magenta", "L")}
LEGEND = [(code, WORDS[code]) for code in (RUNNING_V, READY_V, BLOCKED_V, IDLE_V, LOOP_V)]
TASK_NAME_MAX = 16   # a longer task name is cut with '…' in the totals table
FOLD_AT = 3          # this many lanes in a row drawn alike, of one name, print as the first and a line for the rest
_NUMBERED = re.compile(r"(.*) #\d+")  # a task's name with its number: "worker #12" (viz.recorder.names)
longest_span = None  # viz/trace/_fold.c (VIZ_PURE_PYTHON=1 or a build without a compiler: the Python below)
if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._fold import longest_span
    except ImportError:  # pragma: no cover - depends on the build
        pass
_WAITING = bytes(int(code != RUNNING) for code in range(256))  # state code -> 1 when the task is not running


def swimlanes(trace: Trace, width: int = 80, color: bool = True, groups: list[list[Lane]] | None = None) -> Group:
    """The lanes as rows of cells under a time axis, with the legend. Lanes in a row that share a name (`worker`,
    `worker #2`, ...) and are drawn exactly alike print as the first of them and one line saying how many more: a
    thousand greenlets doing the same thing are one row, not a screenful. `groups`, when given, is filled with the
    lanes by row (one list per row printed), for the totals table to fold the same way."""
    name_w = min(max((len(lane.name) for lane in trace.lanes), default=4), 24)
    labels = lane_labels(trace)
    label_w = min(max((len(v) for v in labels.values()), default=0), 40, max(width // 4, 0))
    bar_w = max(width - name_w - 2 - (label_w + 2 if label_w else 0), 10)
    t_end = trace.duration or 1e-9
    rows = [axis(name_w, bar_w, t_end)]
    run: list[tuple[Lane, Line]] = []  # lanes drawn alike so far, of one name

    def end_run() -> None:
        if len(run) >= FOLD_AT:
            rows.append(run[0][1])
            room = max(width - name_w - 1, 10)
            more = f"⋮ and {len(run) - 1} more drawn alike, {run[1][0].name} to {run[-1][0].name}"
            if len(more) > room:  # their names, when they fit
                more = f"⋮ and {len(run) - 1} more drawn alike"
            rows.append(Line([(" " * (name_w + 1) + clip(more, room), "dim")]))
            if groups is not None:
                groups.append([lane for lane, _ in run])
        else:
            rows.extend(row for _, row in run)
            if groups is not None:
                groups.extend([lane] for lane, _ in run)
        run.clear()

    for lane in trace.lanes:
        row = lane_row(trace, lane, name_w, 0.0, t_end / bar_w, bar_w, color, labels[lane.task], label_w)
        if run and not (_stem(lane.name) == _stem(run[0][0].name) and row.pieces[1:] == run[0][1].pieces[1:]):
            end_run()
        run.append((lane, row))
    end_run()
    rows.extend(legend(name_w, width, color))
    return Group(*rows)


def _stem(name: str) -> str:
    """A task's name without its number: `worker #12` -> `worker`."""
    numbered = _NUMBERED.fullmatch(name)
    return numbered.group(1) if numbered else name


def lane_row(trace: Trace, lane: Lane, name_w: int, t0: float, dt: float, bar_w: int, color: bool,
             label: str = "", label_w: int = 0) -> "Line":
    """One lane as a line of text: its name, its cells from trace time t0 (`dt` seconds each), then its label.
    Several traces drawn on one axis (viz.views.compare) each pass their own t0."""
    row = Line([(lane.name[:name_w].ljust(name_w) + " ", "bold")])
    for code, run in groupby(lane_cells(trace, lane, t0, dt, bar_w)):  # a stretch of like cells at a time
        n = len(list(run))
        if not code:
            row.append(" " * n)
        else:
            ch, style, letter = CELL[code]
            row.append((ch if color else letter) * n, style if color else "")
    if label_w and label:
        row.append("  " + clip(label, label_w), "dim")
    return row


class Line:
    """One line of the report made to fit its width, as (text, style) pieces that go to the terminal as they are: a
    sixth of what a rich Text costs to wrap and measure, for reports of a thousand lanes."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: list[tuple[str, str]] | None = None):
        self.pieces = pieces if pieces is not None else []

    def append(self, text: str, style: str = "") -> None:
        self.pieces.append((text, style))

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.pieces)

    def __rich_console__(self, console, options):
        for text, style in self.pieces:
            yield Segment(text, console.get_style(style) if style else None)
        yield Segment.line()


def lane_labels(trace: Trace) -> dict[int, str]:
    """Each task's label: the reason of its longest wait."""
    return {lane.task: _main_reason(trace, lane) for lane in trace.lanes}


def legend(name_w: int, width: int, color: bool) -> list[Text]:
    """The key to the cells, under the bars if it fits there: a line breaks between two keys, never inside one."""
    keys = []
    for state, words in LEGEND:
        ch, style, letter = CELL[state]
        key = Text((ch * 2) if color else letter, style=style if color else "")
        key.append(f" {words}")
        keys.append(key)
    gap = "   "
    indent = " " * (name_w + 1)
    if len(indent) + sum(k.cell_len for k in keys) + len(gap) * (len(keys) - 1) > width:
        indent = ""
    lines = [Text(indent)]
    for key in keys:
        line = lines[-1]
        if line.cell_len > len(indent):
            if line.cell_len + len(gap) + key.cell_len > width:
                lines.append(Text(indent))
                line = lines[-1]
            else:
                line.append(gap)
        line.append_text(key)
    return lines


def _main_reason(trace: Trace, lane: Lane) -> str:
    """The reason of the task's longest wait (what its lane mostly shows), with the words for a call that blocks the
    whole loop."""
    n = len(lane)
    if not n:
        return ""
    starts = lane.starts
    end = trace.span_end(lane, n - 1)
    if longest_span is not None:  # viz/trace/_fold.c: a thousand lanes of thousands of spans
        best = longest_span(starts, lane.states, end, RUNNING)
        best = None if best < 0 else best
    else:
        durations = list(map(sub, starts[1:], starts[:-1]))
        durations.append(end - starts[n - 1])
        waiting = lane.states.translate(_WAITING)
        longest = max(compress(durations, waiting), default=0.0)
        best = None
        if longest > 0.0:
            best = durations.index(longest)
            while not waiting[best]:
                best = durations.index(longest, best + 1)
    if best is None:
        return ""
    if not (lane.reasons[best] or lane.flags[best]):
        best = _longest_said_wait(trace, lane)  # the longest wait has no reason: look among those with one
        if best is None:
            return ""
    return with_loop_words(trace.string(lane.reasons[best]), bool(lane.flags[best])) or ""


def _longest_said_wait(trace: Trace, lane: Lane) -> int | None:
    """The first of the longest spans that are not running and have a reason or block the loop."""
    best, best_d = None, 0.0
    for i in range(len(lane)):
        d = trace.span_end(lane, i) - lane.starts[i]
        if d > best_d and lane.states[i] != RUNNING and (lane.reasons[i] or lane.flags[i]):
            best, best_d = i, d
    return best


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def axis(name_w: int, bar_w: int, t_end: float) -> Text:
    """Tick labels at round times under which the lanes line up."""
    step = _nice_step(t_end / max(bar_w // 12, 1))
    line = [" "] * bar_w
    t = 0.0
    while t <= t_end + 1e-12:
        x = int(t / t_end * bar_w) if t_end else 0
        label = f"{t:g}s"
        if x + len(label) <= bar_w:
            line[x:x + len(label)] = list(label)
        t += step
    return Text(" " * (name_w + 1) + "".join(line), style="dim")


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def totals_table(trace: Trace, groups: list[list[Lane]] | None = None) -> "TotalsTable":
    """Each task's time per state, in units that fit each figure ('12.3 µs', '501 ms', '2.00 s'); '-' for none.
    `groups` (from swimlanes): lanes printed as one row there are one row here too, named by the first of them and
    how many they are (`worker #2 ×999`), with the mean of their figures (the table then says so under it)."""
    rows, folded = [], False
    for group in groups if groups is not None else [[lane] for lane in trace.lanes]:
        sums = [0.0] * len(TOTALS_COLUMNS)
        for lane in group:
            for i, seconds in enumerate(trace.seconds_by_state(lane)):  # one pass over the lane for all
                sums[i] += seconds
        n = len(group)
        folded |= n > 1
        count = f" ×{n}"  # kept whole: a long name gives way to it
        name = group[0].name if n == 1 else clip(group[0].name, TASK_NAME_MAX - len(count)) + count  # from its first
        rows.append((name, *(fmt_duration(x / n) if x else "-" for x in sums)))
    return TotalsTable(rows, note="A ×N: the mean of N tasks from A on, drawn alike above" if folded else None)


TOTALS_COLUMNS = ("running", "ready", "blocked", "idle", LOOP_WORDS)


class TotalsTable:
    """The totals as rich renders them: a header, then a row per task, laid out for the console's width.

    A figure is never wrapped or cut: each column is at least as wide as its widest figure, headers wrap at spaces
    when the table would not fit otherwise, and a long task name is cut with '…'. At viz.views.MIN_WIDTH columns
    every figure and header word is whole. (Laid out here rather than by rich's Table, which took 0.4 s to lay out
    a thousand tasks' rows.)
    """

    GAP = "  "

    def __init__(self, rows: list[tuple[str, ...]], note: str | None = None):
        self.rows = rows
        self.note = note

    def __rich_console__(self, console, options):
        name_w = min(max([len("task")] + [len(row[0]) for row in self.rows]), TASK_NAME_MAX)
        figures = [max([0] + [len(row[i]) for row in self.rows]) for i in range(1, len(TOTALS_COLUMNS) + 1)]
        least = [max(f, *map(len, col.split())) for f, col in zip(figures, TOTALS_COLUMNS)]
        widths = [max(f, len(col)) for f, col in zip(figures, TOTALS_COLUMNS)]
        over = name_w + sum(widths) + len(self.GAP) * len(widths) - options.max_width
        while over > 0:  # wrap the header with the most room to give
            i = max(range(len(widths)), key=lambda k: widths[k] - least[k])
            give = min(widths[i] - least[i], over)
            if give <= 0:
                break
            widths[i] -= give
            over -= give
        heads = [textwrap.wrap(col, w) for col, w in zip(TOTALS_COLUMNS, widths)]
        depth = max(map(len, heads))
        for r in range(depth):  # headers sit on the bottom row, a wrapped one above it
            line = Line([("task".ljust(name_w) if r == depth - 1 else " " * name_w, "bold")])
            for head, w in zip(heads, widths):
                k = r - (depth - len(head))
                line.append(self.GAP + (head[k] if k >= 0 else "").rjust(w), "bold")
            yield line
        for name, *cells in self.rows:
            name = name if len(name) <= name_w else name[:name_w - 1] + "…"
            yield Line([(name.ljust(name_w), "bold"), ("".join(self.GAP + c.rjust(w) for c, w in zip(cells, widths)),
                                                        "")])
        if self.note:
            yield Line([(self.note, "dim")])


def print_report(trace: Trace, console: Console | None = None, output: bool = True, findings=None) -> None:
    """What `viz record` prints: output lines by task, swimlanes, totals, the findings (viz.views.diagnostics), how
    the run ended."""
    console = console or Console(highlight=False)
    names = {lane.task: lane.name for lane in trace.lanes}
    if output and trace.outputs:
        width = min(max(len(n) for n in names.values()), 20)
        for out in trace.outputs:
            line = Text(f"{names.get(out.task, '?')[:width]:>{width}} │ ", style="dim")
            line.append(Text.from_ansi(out.text))
            console.print(line, soft_wrap=True)
        console.print()
    color = console.color_system is not None and not console.no_color  # else letters: NO_COLOR, not a terminal
    groups: list[list[Lane]] = []
    console.print(swimlanes(trace, console.width, color=color, groups=groups))
    console.print()
    console.print(totals_table(trace, groups))
    for note in trace.notes:
        console.print(Text(f"note: {note['text']}", style="yellow"))
    if trace.truncated_at:
        where = trace.truncated_where or f"line {trace.truncated_at}"
        console.print(Text(f"the trace was cut off at {where}", style="yellow"))
    if findings:
        console.print()
        for finding in findings:
            console.print(finding_text(finding, console.width))
    console.print(Text(outcome_line(trace), style="bold"))


def finding_text(finding, width: int = 80) -> Text:
    """`! loop-blocked · 75 ms · fun · sleepers_unpatched.py:13`, then what happened and the fix, indented."""
    head = " · ".join(x for x in (finding.kind, fmt_duration(finding.t), finding.task_name, finding.where) if x)
    text = Text("! ", style="bold red")
    text.append(head, style="bold")
    for body, style in ((finding.text, ""), (f"fix: {finding.fix}", "dim")):
        for line in textwrap.wrap(body, max(width - 2, 20)):
            text.append("\n  " + line, style=style)
    return text
