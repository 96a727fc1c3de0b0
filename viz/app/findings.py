"""The findings list: what went wrong in the run (viz.views.diagnostics), each entry jumping to its moment and task."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from viz.views.diagnostics import Finding
from viz.views.durations import fmt_duration


class FindingsScreen(ModalScreen[Finding | None]):
    """Dismisses with the finding chosen (enter or a click), or None (esc)."""

    BINDINGS = [Binding("escape,q,exclamation_mark", "dismiss(None)", "close")]

    def __init__(self, findings: list[Finding], live: bool = False) -> None:
        super().__init__()
        self.findings = findings
        self.live = live

    def compose(self) -> ComposeResult:
        with Vertical(id="findings-box") as box:
            box.border_title = f"findings ({len(self.findings)})  enter: go to it · esc: close"
            if not self.findings:
                so_far = " so far" if self.live else ""
                yield Static("No findings" + so_far + ": no call held a loop, no task ran long without yielding or "
                             "was kept waiting, no lock was fought over, no I/O ran serially.")
                return
            yield OptionList(*(Option(self._entry(f), id=str(i)) for i, f in enumerate(self.findings)),
                             id="findings-list")

    @staticmethod
    def _entry(f: Finding) -> Text:
        head = " · ".join(x for x in (f.kind, fmt_duration(f.t), f.task_name, f.where) if x)
        text = Text("! ", style="bold red")
        text.append(head + "\n", style="bold")
        text.append(f.text + "\n")
        text.append("fix: " + f.fix, style="dim")
        return text

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.findings[int(event.option.id)])
