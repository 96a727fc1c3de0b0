"""The Textual app: which screen it opens on (picker, a live run, a saved trace) and quitting cleanly.

Quitting during a live run asks whether to keep the trace; either way the program is stopped and waited for before
the app exits, so no child process outlives it.
"""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.app import App
from textual.binding import Binding

from viz.app.keep import KeepTraceScreen
from viz.app.run_screen import RunScreen
from viz.app.theme import HIGH_CONTRAST
from viz.scenarios import Scenario, list_scenarios
from viz.trace.model import Trace

PICKER_TIMEOUT = 120.0  # a scenario run from the picker is stopped after this long
# input a live run makes way for (RunScreen.user_input), so what it asks for is drawn at once
USER_INPUT = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)


class VizApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "viz"
    BINDINGS = [Binding("q", "quit", "quit", priority=False)]

    def __init__(self, *, picker: bool = False, scenarios: list[Scenario] | None = None,
                 run: tuple[str, str, list[str], float | None] | None = None,
                 trace: Trace | None = None, trace_name: str | None = None, feed=None):
        """`run`: (script, name, args, timeout) of a live run; `feed`: that run's LiveFeed, started already."""
        super().__init__()
        self._feed = feed
        self._start_picker = picker
        self._scenarios = scenarios
        self._live_run = run
        self._trace = trace
        self._trace_name = trace_name
        self.saved_on_quit: str | None = None
        self.register_theme(HIGH_CONTRAST)

    def on_mount(self) -> None:
        if self._start_picker:
            from viz.app.picker import PickerScreen  # only `viz` itself opens on the picker

            scenarios = self._scenarios if self._scenarios is not None else list_scenarios()
            self.push_screen(PickerScreen(scenarios))
        elif self._live_run is not None:
            script, name, args, timeout = self._live_run
            self.push_screen(RunScreen.live_run(script, name, args, timeout, feed=self._feed))
        elif self._trace is not None:
            self.push_screen(RunScreen(self._trace, self._trace_name or "trace"))

    def open_run(self, script: str, name: str, args: list[str], from_picker: bool = False) -> None:
        """Run a script live on a new run screen (from the picker, going back returns there)."""
        self.push_screen(RunScreen.live_run(script, name, args, PICKER_TIMEOUT if from_picker else None,
                                            can_go_back=from_picker))

    async def on_event(self, event: events.Event) -> None:
        """Every event passes here before the app handles it: a key press or click tells a live run's screen first,
        so the run makes way for what it asks (bindings with priority, most of the run screen's keys, never reach
        the screen itself)."""
        if isinstance(event, USER_INPUT) and not event.is_forwarded and self.screen_stack:
            screen = self.run_screen
            if screen is not None:
                screen.user_input()
        await super().on_event(event)

    @property
    def run_screen(self) -> RunScreen | None:
        return self.screen if isinstance(self.screen, RunScreen) else None

    async def action_quit(self) -> None:
        screen = self.run_screen
        if screen is None or not screen.live:
            self._close_runs()
            self.exit()
            return

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            screen.close_run()
            message = None
            if choice == "save":
                try:
                    self.saved_on_quit = screen.save()
                    message = f"viz: saved the trace to {self.saved_on_quit}"
                except OSError as e:
                    message = f"viz: error: could not save the trace: {e}"
            self._close_runs()
            self.exit(message=message)

        self.push_screen(KeepTraceScreen(screen.run_name), chosen)

    def _close_runs(self) -> None:
        """Stop every live run on the screen stack before the app goes away."""
        for screen in self.screen_stack:
            if isinstance(screen, RunScreen):
                screen.close_run()

    def on_unmount(self) -> None:
        self._close_runs()


def trace_display_name(path: str, trace: Trace) -> str:
    return trace.header.get("target") or Path(path).name
