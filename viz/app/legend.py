"""The legend under the timeline: each state's glyph and colour, and the playhead."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from viz.app.lanes import VISUALS
from viz.app.palette import BAR_CLASSES, GLYPH, LEGEND


class Legend(Widget):
    COMPONENT_CLASSES = BAR_CLASSES | {"legend--playhead", "legend--hint"}

    def __init__(self, hint: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hint = hint

    def set_hint(self, hint: str) -> None:
        if hint != self.hint:
            self.hint = hint
            self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for vis, words in LEGEND:
            text.append(GLYPH[vis] * 2, style=self.get_component_rich_style(f"lane--{VISUALS[vis]}"))
            text.append(f" {words}   ")
        text.append("┃", style=self.get_component_rich_style("legend--playhead"))
        text.append(" playhead")
        if self.hint:
            text.append(f"   {self.hint}", style=self.get_component_rich_style("legend--hint"))
        return text
