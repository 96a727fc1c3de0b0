"""The scenario picker (`viz` with no arguments): every scenario with its title, what to watch for, and its source.

Enter runs the highlighted scenario; `o` opens any script by path. Scenarios are read as text, never imported.
The seed's comparisons (viz.scenarios.COMPARISONS) follow the scenarios: enter records each of their scenarios, one
after another, and opens the compare screen (viz.app.compare).
"""

from __future__ import annotations

import ast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from viz.app.source import SourceView
from viz.app.tuning import release_memory
from viz.scenarios import Comparison, Scenario, TargetError, list_comparisons, resolve

NAME_WIDTH = 20
COMPARE_ID = "compare:"  # the option id of a comparison: this, then its name
RELEASE_AFTER = 0.5  # s after coming back from a run before its memory is given back (the run screen is gone by then)


class ScenarioList(OptionList):
    """The list of scenarios, one line each (name, and as much of the title as fits); enter runs one."""

    BINDINGS = [Binding("enter", "select", "run", key_display="⏎")]

    def __init__(self, scenarios: list[Scenario], *, id: str | None = None,
                 comparisons: list[Comparison] = ()) -> None:
        self.scenarios = scenarios
        self.comparisons = list(comparisons)
        super().__init__(*[Option(s.name, id=s.name) for s in scenarios],
                         *[Option(c.name, id=COMPARE_ID + c.name) for c in self.comparisons], id=id)
        self._width = 0

    def on_resize(self) -> None:
        width = self.content_size.width - 2
        if width != self._width:
            self._width = width
            for i, scenario in enumerate([*self.scenarios, *self.comparisons]):
                self.replace_option_prompt_at_index(i, _label(scenario, width))


def _label_width(s: Scenario | Comparison) -> int:
    """The cells a scenario's whole label takes: its name column, then its title."""
    return max(NAME_WIDTH, len(s.name) + 1) + len(s.title)


def _label(s: Scenario | Comparison, width: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    name_width = max(NAME_WIDTH, len(s.name) + 1)
    text.append(s.name.ljust(name_width)[:width], style="bold")
    room = width - name_width
    if room >= 8:
        text.append(s.title if len(s.title) <= room else s.title[: room - 1] + "…", style="dim")
    return text


class PickerScreen(Screen):
    BINDINGS = [
        Binding("o", "open_script", "open a script"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("escape", "back", "back to the run", key_display="esc"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (60, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (16, "-short"), (30, "-tall")]

    def __init__(self, scenarios: list[Scenario], over_run: bool = False):
        super().__init__()
        self.scenarios = scenarios
        self.comparisons = list_comparisons(scenarios)
        self.over_run = over_run  # opened with esc from a run that `viz run` / `viz show` opened: esc goes back
        self._ran = False  # a run screen was opened from here

    def compose(self) -> ComposeResult:
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(" viz", style="bold")
        head.append(" — watch Python concurrency take turns")
        yield Static(head, id="picker-title")
        with Horizontal(id="picker"):
            yield ScenarioList(self.scenarios, id="scenarios", comparisons=self.comparisons)
            with Vertical(id="preview"):
                yield Static(id="watch")
                yield SourceView(id="preview-source")
        yield Footer(compact=True)
        yield Static("viz needs a terminal of at least 60x16.\nMake this window larger, or press q to quit.",
                     id="too-small")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return self.over_run if action == "back" else True

    def action_back(self) -> None:
        if self.over_run:
            self.app.pop_screen()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        # wide enough for every whole title when the terminal is (borders, padding and the scrollbar: 6 cells)
        options.styles.max_width = max((_label_width(s) for s in [*self.scenarios, *self.comparisons]),
                                       default=40) + 6
        options.border_title = f"scenarios ({len(self.scenarios)})"
        if not self.scenarios:
            self.query_one("#watch", Static).update("No scenarios found. Press o to open a script.")
        else:
            options.highlighted = 0
            self._preview(self.scenarios[0])
        options.focus()

    def _open_run(self, path: str, name: str) -> None:
        self._ran = True
        self.app.open_run(path, name, [], from_picker=True)

    def on_screen_resume(self) -> None:
        if self._ran:  # back from a run: what it held is given back while the user looks at the list
            self._ran = False
            self.set_timer(RELEASE_AFTER, self._release)

    def _release(self) -> None:
        if self.is_current:  # not if another run has started meanwhile
            release_memory()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        scenario = self._scenario(event.option.id)
        if scenario is not None:
            self._preview(scenario)
        comparison = self._comparison(event.option.id)
        if comparison is not None:
            self._preview_comparison(comparison)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        scenario = self._scenario(event.option.id)
        if scenario is not None:
            self._open_run(str(scenario.path), scenario.name)
        comparison = self._comparison(event.option.id)
        if comparison is not None:
            self._open_comparison(comparison)

    def _scenario(self, name: str | None) -> Scenario | None:
        return next((s for s in self.scenarios if s.name == name), None)

    def _comparison(self, option_id: str | None) -> Comparison | None:
        if not option_id or not option_id.startswith(COMPARE_ID):
            return None
        return next((c for c in self.comparisons if c.name == option_id[len(COMPARE_ID):]), None)

    def _open_comparison(self, comparison: Comparison) -> None:
        """Record each of the comparison's scenarios, one after another (progress shown), then compare them."""
        from viz.app.compare import RECORD_TIMEOUT, RecordingScreen

        self._ran = True
        targets = [(str(s.path), s.name) for s in map(self._scenario, comparison.scenarios) if s is not None]
        self.app.push_screen(RecordingScreen(f"{comparison.name} — {comparison.title}", targets, RECORD_TIMEOUT))

    def _preview_comparison(self, comparison: Comparison) -> None:
        watch = Text()
        watch.append(comparison.title + "\n", style="bold")
        watch.append("Records, one after another: ", style="bold")
        watch.append(", ".join(comparison.scenarios) + "\n")
        body = comparison.watch
        if body.lower().startswith("watch for:"):
            watch.append("Watch for:", style="bold")
            body = body[len("watch for:"):]
        watch.append(body)
        self.query_one("#watch", Static).update(watch)
        first = self._scenario(comparison.scenarios[0])
        preview = self.query_one("#preview")
        preview.border_title = first.path.name if first is not None else comparison.name
        try:
            source = first.source if first is not None else None
        except OSError:
            source = None
        view = self.query_one(SourceView)
        view.show(first.path.name if first is not None else "", source, title="")
        skip = _docstring_end(source or "")
        if skip:
            self.call_after_refresh(lambda: view.scroll_to(y=view.row_of(skip + 1), animate=False))

    def _preview(self, scenario: Scenario) -> None:
        watch = Text()
        watch.append(scenario.title + "\n", style="bold")
        if scenario.watch:
            body = scenario.watch
            if body.lower().startswith("watch for:"):
                watch.append("Watch for:", style="bold")
                body = body[len("watch for:"):]
            watch.append(body)
        self.query_one("#watch", Static).update(watch)
        preview = self.query_one("#preview")
        preview.border_title = scenario.path.name
        try:
            source = scenario.source
        except OSError:
            source = None
        view = self.query_one(SourceView)
        view.show(scenario.path.name, source, title="")
        skip = _docstring_end(source or "")  # the preview already shows the docstring above: start at the code
        if skip:
            self.call_after_refresh(lambda: view.scroll_to(y=view.row_of(skip + 1), animate=False))

    def action_open_script(self) -> None:
        def opened(target: str | None) -> None:
            if not target:
                return
            try:
                path, name = resolve(target)
            except TargetError as e:
                self.notify(str(e), severity="error")
                return
            self._open_run(str(path), name)

        self.app.push_screen(OpenScriptScreen(), opened)

    def action_help(self) -> None:
        from viz.app.help import HelpScreen

        self.app.push_screen(HelpScreen())


class OpenScriptScreen(ModalScreen[str | None]):
    """Asks for a script path (or scenario name) to run."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="open-box") as box:
            box.border_title = "open a script"
            yield Static("A script path or a scenario name; enter runs it, esc cancels.")
            yield Input(placeholder="path/to/script.py", id="open-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _docstring_end(source: str) -> int:
    """The line after the module docstring (0 if there is none or the source does not parse)."""
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError):
        return 0
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].end_lineno or 0
    return 0
