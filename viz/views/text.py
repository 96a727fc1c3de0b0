"""Text swimlanes for the terminal without the TUI: a row per task, a legend, a time axis and a totals table.

Drawn with rich from the trace model only. Each cell shows the state that covered most of its slice of time (a call
that blocked the whole loop wins, so it is never hidden); with colour off, states are letters.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from viz.trace.model import BLOCKED, IDLE, READY, RUNNING, Lane, Trace

LOOP = 4  # blocked in a call that holds the whole loop
CELL = {RUNNING: ("█", "green", "R"), READY: ("▒", "yellow", "r"), BLOCKED: ("░", "red", "b"),
        IDLE: ("·", "blue", "i"), LOOP: ("▓", "bold magenta", "L")}
LEGEND = [(RUNNING, "running"), (READY, "ready"), (BLOCKED, "blocked"), (IDLE, "idle"),
          (LOOP, "blocks the whole loop")]


# When several states share one cell, the one a reader must not miss wins.
PRIORITY = {RUNNING: 4, LOOP: 3, READY: 2, BLOCKED: 1, IDLE: 0}


def lane_cells(trace: Trace, lane: Lane, width: int, t_end: float) -> list[int | None]:
    """The state to draw in each of `width` cells spanning [0, t_end] (see PRIORITY)."""
    cells: list[int | None] = [None] * width
    if not len(lane) or t_end <= 0:
        return cells
    scale = width / t_end
    starts, states, flags = lane.starts, lane.states, lane.flags
    for i in range(len(starts)):
        a, b = starts[i], trace.span_end(lane, i)
        state = LOOP if flags[i] else states[i]
        c0, c1 = int(a * scale), min(int(b * scale - 1e-9), width - 1)
        for c in range(max(c0, 0), max(c1, c0) + 1):
            if c < width and (cells[c] is None or PRIORITY[state] > PRIORITY[cells[c]]):
                cells[c] = state
    return cells


def swimlanes(trace: Trace, width: int = 80, color: bool = True) -> Group:
    name_w = min(max((len(lane.name) for lane in trace.lanes), default=4), 24)
    labels = {lane.task: _main_reason(trace, lane) for lane in trace.lanes}
    label_w = min(max((len(v) for v in labels.values()), default=0), 28, max(width // 4, 0))
    bar_w = max(width - name_w - 2 - (label_w + 2 if label_w else 0), 10)
    t_end = trace.duration or 1e-9
    rows = [_axis(name_w, bar_w, t_end)]
    for lane in trace.lanes:
        row = Text(lane.name[:name_w].ljust(name_w) + " ", style="bold")
        for state in lane_cells(trace, lane, bar_w, t_end):
            if state is None:
                row.append(" ")
            else:
                ch, style, letter = CELL[state]
                row.append(ch if color else letter, style=style if color else "")
        if label_w and labels[lane.task]:
            row.append("  " + _clip(labels[lane.task], label_w), style="dim")
        rows.append(row)
    legend = Text(" " * (name_w + 1))
    for state, words in LEGEND:
        ch, style, letter = CELL[state]
        legend.append((ch * 2) if color else letter, style=style if color else "")
        legend.append(f" {words}   ")
    rows.append(legend)
    return Group(*rows)


def _main_reason(trace: Trace, lane: Lane) -> str:
    """The reason of the task's longest wait: what its lane mostly shows."""
    best, best_d = "", 0.0
    for i in range(len(lane)):
        if lane.states[i] != RUNNING and lane.reasons[i]:
            d = trace.span_end(lane, i) - lane.starts[i]
            if d > best_d:
                best, best_d = trace.string(lane.reasons[i]) or "", d
    return best


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _axis(name_w: int, bar_w: int, t_end: float) -> Text:
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
    import math
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def totals_table(trace: Trace) -> Table:
    table = Table(title=None, show_edge=False, box=None, padding=(0, 2))
    table.add_column("task", style="bold")
    for col in ("running", "ready", "blocked", "idle"):
        table.add_column(col, justify="right")
    table.add_column("blocked the loop", justify="right")
    for lane in trace.lanes:
        tot = trace.totals(lane)
        loop = trace.loop_blocked_time(lane)
        table.add_row(lane.name, *(f"{tot[s]:.3f} s" if tot[s] else "-" for s in ("running", "ready", "blocked",
                                                                               "idle")),
                      f"{loop:.3f} s" if loop else "-")
    return table


def outcome_line(trace: Trace) -> str:
    ex = trace.exit
    wall = f"wall time {trace.duration:.3f} s"
    work = trace.work_time()
    if work > trace.duration * 1.05 and trace.duration > 0:
        wall += f" · {work:.3f} s of task time done in {trace.duration:.3f} s"
    if ex is None:
        return f"the run did not finish · {wall}"
    what = {"finished": "finished", "raised": "raised an exception", "exited": "exited", "os._exit": "called os._exit",
            "timeout": "timed out", "stopped": "was stopped", "killed": "was killed", "crashed": "crashed",
            "interrupted": "was interrupted"}.get(ex["outcome"], ex["outcome"])
    status = f" (exit status {ex['status']})" if ex.get("status") else ""
    sig = f" ({ex['signal']})" if ex.get("signal") else ""
    detail = f": {ex['detail']}" if ex.get("detail") and ex["outcome"] != "finished" else ""
    return f"the program {what}{status}{sig}{detail} · {wall}"


def print_report(trace: Trace, console: Console | None = None, output: bool = True) -> None:
    """What `viz record` prints: output lines by task, swimlanes, totals, how the run ended."""
    console = console or Console(highlight=False)
    names = {lane.task: lane.name for lane in trace.lanes}
    if output and trace.outputs:
        width = min(max(len(n) for n in names.values()), 20)
        for out in trace.outputs:
            line = Text(f"{names.get(out.task, '?')[:width]:>{width}} │ ", style="dim")
            line.append(Text.from_ansi(out.text))
            console.print(line, soft_wrap=True)
        console.print()
    console.print(swimlanes(trace, console.width, color=console.color_system is not None))
    console.print()
    console.print(totals_table(trace))
    for note in trace.notes:
        console.print(Text(f"note: {note['text']}", style="yellow"))
    if trace.truncated_at:
        console.print(Text(f"the trace was cut off at line {trace.truncated_at}", style="yellow"))
    console.print(Text(outcome_line(trace), style="bold"))
