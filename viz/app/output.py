"""The output panel: the lines the program printed up to the playhead, each tagged and coloured by its task.

A Line-API widget: it only knows how many lines are visible (those printed up to the playhead) and renders the ones
on screen, with ANSI colours from the program kept (`Text.from_ansi`). Later lines stay hidden until the playhead
reaches them.
"""

from __future__ import annotations

from bisect import bisect_right
from operator import attrgetter

from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from viz.app.palette import TaskColors
from viz.trace.model import Trace

TAG_MAX = 12
_T = attrgetter("t")


class OutputView(ScrollView):
    COMPONENT_CLASSES = {"output--stderr", "output--empty"}

    def __init__(self, trace: Trace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace
        self.count = 0
        self._colors: TaskColors | None = None
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._names: dict[int, str] = {}

    def show_until(self, t: float) -> None:
        """Show the lines printed at or before instant t; keep the newest of them in view."""
        count = bisect_right(self.trace.outputs, t, key=_T)
        if count == self.count and self.virtual_size.height == max(count, 1):
            return
        self.count = count
        self.virtual_size = Size(self.size.width, max(count, 1))
        self.border_subtitle = f"{count} of {len(self.trace.outputs)} lines" if self.trace.outputs else ""
        self.scroll_to(y=max(0, count - self.size.height), animate=False, immediate=True)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._colors = None
        self._cache.clear()

    def _tag(self, task: int) -> str:
        name = self._names.get(task)
        if name is None:
            lane = self.trace.lane_of(task)
            name = lane.name if lane is not None else f"task {task}"
            if len(self._names) < 10_000:
                self._names[task] = name
        return name

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        i = int(self.scroll_y) + y
        if self.count == 0:
            if y == 0:
                return Strip([*Text("nothing printed yet", style=self.get_component_rich_style("output--empty"),
                                    end="").render(self.app.console)]).adjust_cell_length(width, self.rich_style)
            return Strip.blank(width, self.rich_style)
        if i >= self.count:
            return Strip.blank(width, self.rich_style)
        key = (i, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._line(i, width)
        return strip

    def _line(self, i: int, width: int) -> Strip:
        if self._colors is None:
            self._colors = TaskColors(self.trace, self.app.theme_variables)
        out = self.trace.outputs[i]
        tag_width = min(TAG_MAX, max((len(lane.name) for lane in self.trace.lanes), default=4))
        tag = self._tag(out.task)
        tag = tag if len(tag) <= tag_width else tag[: tag_width - 1] + "…"
        line = Text(tag.ljust(tag_width) + " ", style=self._colors.style(out.task), end="")
        body = Text.from_ansi(out.text, end="")
        if out.stream == "stderr" and not body.spans:
            body.stylize(self.get_component_rich_style("output--stderr"))
        line.append_text(body)
        segments = list(line.render(self.app.console))
        return Strip(segments).adjust_cell_length(width, self.rich_style).apply_style(self.rich_style)
