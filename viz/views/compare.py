"""Runs side by side (`viz compare`): several traces stacked on one shared time axis, and a table comparing them.

Each run is a trace with a name. Time on the shared axis counts from each run's start, or from the start of its
counted work (`viz.views.verdict`), so runs that take turns differently line up where their work begins. The
comparison table gives, per run, its wall time, its counted work and the factor concurrency bought, and per task
matched by name across runs its running / ready / blocked time in each run. Drawn with rich from the trace model
only (the text view's lane rows and axis, viz.views.text); the app's compare screen uses the same figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table
from rich.text import Text

from viz.trace.model import Trace
from viz.views.durations import fmt_duration
from viz.views.text import axis, clip, lane_labels, lane_row, legend
from viz.views.verdict import Verdict, verdict

STATES = ("running", "ready", "blocked")  # a task's time in each run, as the table gives it
MAX_TASKS = 40  # the table lists at most this many tasks (the rest are counted)
TASK_NAME_MAX = 24  # a longer task name is cut with '…'
NARROW_NAME_MAX = 16  # ...and where the table has a row per task and state (to leave room for the runs' names)
ENDINGS = {"raised": "raised an exception", "exited": "exited", "os._exit": "called os._exit", "timeout": "timed out",
           "stopped": "was stopped", "killed": "was killed", "crashed": "crashed", "interrupted": "was interrupted"}


@dataclass
class Run:
    """One run of a comparison: its name (the scenario's, the script's or the trace file's) and its trace."""

    name: str
    trace: Trace
    judged: Verdict | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.judged = verdict(self.trace) if self.trace.lanes else None

    @property
    def wall(self) -> float:
        return self.trace.duration

    @property
    def work_start(self) -> float:
        """When the run's counted work starts (its start when nothing is counted)."""
        return self.judged.start if self.judged is not None else 0.0

    def origin(self, from_work: bool) -> float:
        """The trace time that is 0 on the shared axis."""
        return self.work_start if from_work else 0.0

    def verdict_words(self) -> str:
        return self.judged.words() if self.judged is not None and self.judged.span > 0 else "no counted work"

    @property
    def ending(self) -> str:
        """How the run ended when it did not simply finish: ' · timed out', ' · raised an exception'."""
        outcome = (self.trace.exit or {}).get("outcome")
        if outcome == "finished":
            return ""
        return " · " + ENDINGS.get(outcome, outcome or "did not finish")

    def header(self, width: int | None = None) -> str:
        """`gevent_sleepers · wall time 2.01 s · 3.50 s of waiting done in 2.00 s: 1.7x` (then how it ended, if it did
        not finish); where that is wider than `width`, `gevent_sleepers · wall 2.01 s · 1.7x`, so the factor stays
        in sight."""
        full = f"{self.name} · wall time {fmt_duration(self.wall)} · {self.verdict_words()}{self.ending}"
        if width is None or len(full) <= width or self.judged is None or self.judged.span <= 0:
            return full
        return f"{self.name} · wall {fmt_duration(self.wall)} · {self.judged.factor:.1f}x{self.ending}"


def unique_names(names: list[str]) -> list[str]:
    """The names, with ` #2`, ` #3` added to a name given more than once (the same scenario twice)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


def shared_span(runs: list[Run], from_work: bool = False) -> float:
    """The length of the shared axis: the longest run, counted from its origin."""
    return max((run.wall - run.origin(from_work) for run in runs), default=0.0)


def compare_lanes(runs: list[Run], width: int = 80, color: bool = True, from_work: bool = False) -> Group:
    """Every run's header and lanes under one time axis, then the legend."""
    lanes = [lane for run in runs for lane in run.trace.lanes]
    name_w = min(max((len(lane.name) for lane in lanes), default=4), 24)
    labels = {id(run): lane_labels(run.trace) for run in runs}
    label_w = min(max((len(v) for ls in labels.values() for v in ls.values()), default=0), 40, max(width // 4, 0))
    bar_w = max(width - name_w - 2 - (label_w + 2 if label_w else 0), 10)
    span = shared_span(runs, from_work) or 1e-9
    dt = span / bar_w
    rows = [axis(name_w, bar_w, span)]
    for run in runs:
        head = Text("▸ ", style="bold cyan" if color else "")
        head.append(clip(run.header(), max(width - 2, 10)), style="bold")
        rows.append(head)
        origin = run.origin(from_work)
        for lane in run.trace.lanes:
            rows.append(lane_row(run.trace, lane, name_w, origin, dt, bar_w, color, labels[id(run)][lane.task],
                                 label_w))
    rows.extend(legend(name_w, width, color))
    return Group(*rows)


def run_rows(runs: list[Run]) -> list[list[str]]:
    """Per run: its name, wall time, counted work, the span of that work and the factor."""
    best = min((run.wall for run in runs if run.wall > 0), default=0.0)
    rows = []
    for run in runs:
        j = run.judged
        rows.append([run.name, fmt_duration(run.wall),
                     fmt_duration(j.work) if j else "-", fmt_duration(j.span) if j else "-",
                     f"{j.factor:.1f}x" if j and j.span > 0 else "-",
                     f"{run.wall / best:.2f}x" if best else "-"])
    return rows


RUN_COLUMNS = ("run", "wall time", "counted work", "done in", "factor", "vs fastest")


def match_name(name: str) -> str:
    """A task's name as tasks are matched across runs: an ephemeral port (a connection's `127.0.0.1:38844 (client
    1)`) differs from run to run, so it reads `127.0.0.1:* (client 1)`."""
    return _PORT.sub(":*", name) if ":" in name else name


_PORT = re.compile(r":\d{4,5}\b")


def task_times(runs: list[Run]) -> tuple[list[str], list[list[tuple[float, float, float] | None]]]:
    """Tasks matched by name across runs (in order of first appearance), and per task, per run, its running / ready /
    blocked seconds (lanes of one name in a run are added up; None when the run has no such task)."""
    order: dict[str, None] = {}
    per_run = []
    for run in runs:
        sums: dict[str, list[float]] = {}
        for lane in run.trace.lanes:
            name = match_name(lane.name)
            order.setdefault(name)
            tot = run.trace.totals(lane)
            acc = sums.setdefault(name, [0.0, 0.0, 0.0])
            for i, state in enumerate(STATES):
                acc[i] += tot[state]
        per_run.append(sums)
    alias = _same_function(per_run)
    for sums in per_run:
        for name in [n for n in sums if n in alias]:
            sums[alias[name]] = sums.pop(name)
    names = list(dict.fromkeys(alias.get(name, name) for name in order))
    return names, [[tuple(sums[name]) if name in sums else None for sums in per_run] for name in names]


def _same_function(per_run: list[dict]) -> dict[str, str]:
    """Names to match as one task although their arguments differ between runs (`outer` in one scenario,
    `outer('alex', 'wupeiqi')` in another): the same function, one task of that function in each run. Each maps to
    the shortest of them."""
    groups: dict[str, set[str]] = {}
    for sums in per_run:
        for name in sums:
            groups.setdefault(name.split("(", 1)[0], set()).add(name)
    alias: dict[str, str] = {}
    for names in groups.values():
        if len(names) > 1 and all(sum(n in sums for n in names) <= 1 for sums in per_run):
            keep = min(names, key=len)
            alias.update({n: keep for n in names if n != keep})
    return alias


def fmt_times(times: tuple[float, float, float] | None) -> str:
    """`1.00 ms / - / 2.00 s` (running / ready / blocked), or blank when the run has no such task."""
    if times is None:
        return ""
    return " / ".join(fmt_duration(t) if t > 0 else "-" for t in times)


def comparison_tables(runs: list[Run], width: int | None = None, max_tasks: int = MAX_TASKS,
                      times: tuple[list[str], list] | None = None) -> Group:
    """The table of runs, then the table of tasks matched by name (`times`: task_times(runs), when already made).

    The tasks' table has a row per task and a cell per run ('running / ready / blocked') when that fits `width`;
    else a row per task and state (a state no run spent time in is left out), so no figure is ever cut."""
    table = Table(show_edge=False, box=None, padding=(0, 1), pad_edge=False)
    for i, col in enumerate(RUN_COLUMNS):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=True, style="bold" if i == 0 else "")
    for row in run_rows(runs):
        table.add_row(*row)
    names, times = times if times is not None else task_times(runs)
    shown = list(zip(names, times))[:max_tasks]
    cells = [[fmt_times(t) for t in row] for _, row in shown]
    name_w = min(max((len(n) for n, _ in shown), default=4), TASK_NAME_MAX)
    wide = name_w + sum(max([len(run.name)] + [len(c[i]) for c in cells]) + 1 for i, run in enumerate(runs))
    if width is None or wide <= width:
        tasks = Table(show_edge=False, box=None, padding=(0, 1), pad_edge=False,
                      title="each task's time: running / ready / blocked", title_justify="left", title_style="dim")
        tasks.add_column("task", style="bold", no_wrap=True, overflow="ellipsis", max_width=TASK_NAME_MAX)
        for run in runs:
            tasks.add_column(run.name, justify="right", no_wrap=True)
        for (name, _), row in zip(shown, cells):
            tasks.add_row(name, *row)
    else:
        tasks = Table(show_edge=False, box=None, padding=(0, 1), pad_edge=False, title="each task's time",
                      title_justify="left", title_style="dim")
        tasks.add_column("task", style="bold", no_wrap=True, overflow="ellipsis", max_width=NARROW_NAME_MAX)
        tasks.add_column("", style="dim", no_wrap=True)
        for run in runs:
            widest = max(len(fmt_duration(t[k])) for _, row in shown for t in row if t for k in range(3)) \
                if shown else 1
            tasks.add_column(run.name, justify="right", overflow="fold", min_width=widest)
        for name, row in shown:
            first = True
            for k, state in enumerate(STATES):
                if not any(t and t[k] > 0 for t in row):
                    continue
                tasks.add_row(name if first else "", state,
                              *("" if t is None else fmt_duration(t[k]) if t[k] > 0 else "-" for t in row))
                first = False
    parts = [table, Text(""), tasks]
    if len(names) > max_tasks:
        parts.append(Text(f"… and {len(names) - max_tasks} more tasks", style="dim"))
    return Group(*parts)


def compare_report(runs: list[Run], width: int = 80, color: bool = True, from_work: bool = False) -> Group:
    """What `viz compare --text` prints: the stacked lanes on one axis, then the comparison tables."""
    origin = "the start of each run's counted work" if from_work else "each run's start"
    note = Text(f"time from {origin}", style="dim")
    return Group(compare_lanes(runs, width, color, from_work), note, Text(""), comparison_tables(runs, width))
