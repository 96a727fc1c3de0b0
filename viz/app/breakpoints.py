"""Breakpoints while playing: pause when a call blocks a whole loop, when the selected lane changes state, or when a
printed line matches a text; the dialog that sets them (B)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from viz.trace.model import Lane, Trace


@dataclass(frozen=True)
class Breakpoints:
    loop_blocked: bool = False
    state_change: bool = False
    output: str = ""  # pause on a printed line containing this (any case); "" for none

    @property
    def any(self) -> bool:
        return self.loop_blocked or self.state_change or bool(self.output)

    def first_hit(self, trace: Trace, t0: float, t1: float, selected: Lane | None) -> tuple[float, str] | None:
        """The earliest breakpoint event in (t0, t1], with what it was; None when none falls there."""
        hits: list[tuple[float, str]] = []
        if self.loop_blocked:
            for lane in trace.lanes:
                starts = lane.starts
                for i in range(bisect_right(starts, t0), bisect_right(starts, t1)):
                    if lane.flags[i]:
                        hits.append((starts[i], f"{lane.name} blocks the whole loop: {trace.string(lane.reasons[i])}"))
                        break
        if self.state_change and selected is not None:
            starts, states = selected.starts, selected.states
            for i in range(max(bisect_right(starts, t0), 1), bisect_right(starts, t1)):
                if states[i] != states[i - 1]:
                    hits.append((starts[i], f"{selected.name} is {trace.span(selected, i).state} now"))
                    break
        if self.output:
            needle = self.output.lower()
            before = len(trace.outputs_until(t0))
            for out in trace.outputs[before:]:
                if out.t > t1:
                    break
                if needle in out.text.lower():
                    hits.append((out.t, f"output: {out.text.strip()[:60]}"))
                    break
        return min(hits, default=None)


class BreakpointsScreen(ModalScreen[Breakpoints | None]):
    """Dismisses with the breakpoints chosen (enter or the button), or None (esc: unchanged)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, current: Breakpoints) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="breakpoints-box") as box:
            box.border_title = "pause playing when…  (enter: set · esc: cancel)"
            yield Checkbox("a call blocks the whole loop", self.current.loop_blocked, id="bp-loop")
            yield Checkbox("the selected lane changes state", self.current.state_change, id="bp-state")
            yield Static("a printed line contains:")
            yield Input(self.current.output, placeholder="text (empty: none)", id="bp-output")
            yield Button("Set", variant="primary", id="bp-set")

    def _chosen(self) -> Breakpoints:
        return Breakpoints(self.query_one("#bp-loop", Checkbox).value, self.query_one("#bp-state", Checkbox).value,
                           self.query_one("#bp-output", Input).value.strip())

    @on(Button.Pressed, "#bp-set")
    @on(Input.Submitted)
    def _set(self) -> None:
        self.dismiss(self._chosen())
