"""The legend under the timeline: each state's glyph and colour, and the playhead."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from viz.app.palette import BAR_CLASSES, GLYPH, LEGEND
from viz.views.cells import NAMES


class Legend(Widget):
    COMPONENT_CLASSES = BAR_CLASSES | {"legend--playhead"}

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for vis, words in LEGEND:
            text.append(GLYPH[vis] * 2, style=self.get_component_rich_style(f"lane--{NAMES[vis]}"))
            text.append(f" {words}   ")
        text.append("┃", style=self.get_component_rich_style("legend--playhead"))
        text.append(" playhead")
        return text
