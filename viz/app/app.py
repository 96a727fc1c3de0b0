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
from viz.scenarios import Scenario, list_scenarios
from viz.trace.model import Trace

PICKER_TIMEOUT = 120.0  # a scenario run from the picker is stopped after this long
# input a live run pauses for (RunScreen.user_input), so what it asks for is drawn at once
_USER_INPUT = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)


class VizApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "viz"
    BINDINGS = [Binding("q", "quit", "quit", priority=False)]

    def __init__(self, *, picker: bool = False, scenarios: list[Scenario] | None = None,
                 run: tuple[str, str, list[str], float | None] | None = None,
                 trace: Trace | None = None, trace_name: str | None = None):
        super().__init__()
        self._start_picker = picker
        self._scenarios = scenarios
        self._run = run
        self._trace = trace
        self._trace_name = trace_name
        self.saved_on_quit: str | None = None

    def on_mount(self) -> None:
        self._watch_input()
        if self._start_picker:
            from viz.app.picker import PickerScreen  # only `viz` itself opens on the picker

            scenarios = self._scenarios if self._scenarios is not None else list_scenarios()
            self.push_screen(PickerScreen(scenarios))
        elif self._run is not None:
            script, name, args, timeout = self._run
            self.push_screen(RunScreen.live_run(script, name, args, timeout))
        elif self._trace is not None:
            self.push_screen(RunScreen(self._trace, self._trace_name or "trace"))

    def open_run(self, script: str, name: str, args: list[str], from_picker: bool = False) -> None:
        """Run a script live on a new run screen (from the picker, going back returns there)."""
        self.push_screen(RunScreen.live_run(script, name, args, PICKER_TIMEOUT if from_picker else None,
                                            can_go_back=from_picker))

    def _watch_input(self) -> None:
        """Tell a live run's screen of a key press or click on the terminal's input thread, the moment it is read:
        the app's queue may be busy for a while before it gets to it (the driver hands each input to the app's
        loop with send_message; Textual is pinned)."""
        driver = self._driver
        if driver is None:
            return
        send = driver.send_message

        def send_message(message) -> None:
            try:
                if isinstance(message, _USER_INPUT):
                    stack = self.screen_stack  # a copy of a list: safe from any thread
                    screen = stack[-1] if stack else None
                    if isinstance(screen, RunScreen):
                        screen.input_arriving()
            except Exception:  # noqa: BLE001 - an error here would end the input thread: no more keys, not even q
                pass
            finally:
                send(message)
        driver.send_message = send_message

    async def on_event(self, event: events.Event) -> None:
        self._user_input(event)  # as it is handled: the pause _watch_input began then covers its action and redraw
        await super().on_event(event)

    def _user_input(self, message) -> None:
        if isinstance(message, _USER_INPUT) and not message.is_forwarded:
            try:
                screen = self.run_screen
            except Exception:  # no screen yet (the app is starting or closing)
                return
            if screen is not None:
                screen.user_input()

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
            if choice == "save":
                self.saved_on_quit = screen.save()
            self._close_runs()
            self.exit(message=f"viz: saved the trace to {self.saved_on_quit}" if self.saved_on_quit else None)

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
