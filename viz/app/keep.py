"""The question asked when quitting during a live run: keep the trace so far, or drop it?"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class KeepTraceScreen(ModalScreen[str | None]):
    """Dismisses with 'save' (stop, save, quit), 'quit' (stop, quit) or None (carry on)."""

    BINDINGS = [
        Binding("s,y", "choose('save')", "save and quit"),
        Binding("d,n,q", "choose('quit')", "quit without saving"),
        Binding("escape,c", "choose(None)", "cancel"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.run_name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="keep-box") as box:
            box.border_title = "quit"
            yield Static(f"{self.run_name} is still running.\nQuitting stops it. Keep the trace recorded so far?")
            with Horizontal(id="keep-buttons"):
                yield Button("Save and quit", id="save", variant="primary")
                yield Button("Quit", id="quit", variant="error")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
