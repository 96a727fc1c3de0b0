"""How states and tasks look: the glyph of each state, the CSS component classes that colour them, task colours.

The colours themselves live in app.tcss as theme variables ($success, $warning, $primary, $error), so every view
follows the Textual theme; this module only names them. A glyph differs per state too, so the timeline still reads
in a monochrome screenshot or for a colour-blind viewer.
"""

from __future__ import annotations

from rich.style import Style
from textual.color import Color, ColorParseError

from viz.views.cells import BLOCKED_V, IDLE_V, LOOP_V, NAMES, NONE, READY_V, RUNNING_V, WORDS

GLYPH = {NONE: " ", IDLE_V: "─", READY_V: "▒", BLOCKED_V: "░", LOOP_V: "▓", RUNNING_V: "█"}
EIGHTHS = " ▏▎▍▌▋▊▉█"  # EIGHTHS[k]: the left k/8 of a cell

# Component classes: bar colours ("lane--blocked") and labels written inside bars ("label--blocked").
BAR_CLASSES = {f"lane--{name}" for name in NAMES}
LABEL_CLASSES = {f"label--{name}" for name in NAMES}

# What the legend says for each state, in the order it lists them.
LEGEND = tuple((code, WORDS[code]) for code in (RUNNING_V, READY_V, BLOCKED_V, LOOP_V, IDLE_V))

# Theme variables that tell tasks apart in lane names, output tags and source marks.
_TASK_COLOR_VARS = ("text-primary", "text-accent", "text-success", "text-error", "primary-lighten-3",
                    "accent-lighten-3", "success-lighten-3", "error-lighten-3", "text-secondary", "foreground")


def task_styles(theme_variables: dict[str, str]) -> list[Style]:
    """One text style per task colour of the current theme (lane i uses entry i % len)."""
    styles = []
    for name in _TASK_COLOR_VARS:
        try:
            styles.append(Style(color=Color.parse(theme_variables[name]).rich_color))
        except (KeyError, ColorParseError):
            continue
    return styles or [Style()]


class TaskColors:
    """The colour of each task (by its order of appearance), shared by lane names, output tags and source marks."""

    def __init__(self, trace, theme_variables: dict[str, str]):
        self.trace = trace
        self.styles = task_styles(theme_variables)
        self._index: dict[int, int] = {}

    def style(self, task: int) -> Style:
        i = self._index.get(task)
        if i is None:
            self._index = {lane.task: n for n, lane in enumerate(self.trace.lanes)}
            i = self._index.get(task, 0)
        return self.styles[i % len(self.styles)]
