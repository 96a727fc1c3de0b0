"""The output panel: the lines the program printed up to the playhead, each tagged and coloured by its task.

A Line-API widget that keeps its own scroll position (lines back from the newest visible line), so the panel never
changes size as lines arrive and never forces a re-layout. Program colours are kept (`Text.from_ansi`); lines
printed after the playhead stay hidden until it reaches them. The mouse wheel scrolls back through earlier lines.
"""

from __future__ import annotations

from bisect import bisect_right
from operator import attrgetter

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.strip import Strip
from textual.widget import Widget

from viz.app.names import short_names
from viz.app.palette import TaskColors
from viz.trace.model import Trace

TAG_MAX = 12  # a line's task tag at most, or a sixth of a wider panel
TAG_SHARE = 6
TAGGED_LANES = 200  # tags are sized and shortened among this many lanes at most
_T = attrgetter("t")


class OutputView(Widget):
    ALLOW_MAXIMIZE = True  # o / e puts it over the whole screen (RunScreen.action_maximize)
    COMPONENT_CLASSES = {"output--stderr", "output--empty", "output--more"}

    def __init__(self, trace: Trace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace
        self.count = 0       # lines printed up to the playhead
        self.back = 0        # how many lines the user scrolled back from the newest
        self._colors: TaskColors | None = None
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._tags: tuple[tuple, int, dict[int, str]] | None = None  # (lanes, width), tag width, tag by task

    def show_until(self, t: float) -> None:
        """Show the lines printed at or before instant t, newest at the bottom."""
        count = bisect_right(self.trace.outputs, t, key=_T)
        if count == self.count:
            return
        self.count = count
        self.back = 0
        total = len(self.trace.outputs)
        self.border_subtitle = f"{count} of {total} lines" if total else ""
        self.refresh()

    # ---- scrolling back -------------------------------------------------------------------------------------
    def _scroll(self, by: int) -> None:
        back = max(0, min(self.back + by, self.count - self.size.height))
        if back != self.back:
            self.back = back
            self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll(3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll(-3)

    # ---- drawing --------------------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._colors = None
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self.count == 0:
            if y == 0:
                text = Text("nothing printed yet", style=self.get_component_rich_style("output--empty"), end="")
                return Strip(list(text.render(self.app.console))).adjust_cell_length(width, self.rich_style)
            return Strip.blank(width, self.rich_style)
        first = max(0, self.count - self.back - height)
        i = first + y
        if i >= self.count - self.back:
            return Strip.blank(width, self.rich_style)
        key = (i, width, len(self.trace.lanes))
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._line(i, width)
        return strip

    def _tag_names(self, width: int) -> tuple[int, dict[int, str]]:
        """The tags' width and each task's tag: its name, shortened where names repeat (viz.app.names)."""
        lanes = self.trace.lanes[:TAGGED_LANES]
        key = (len(lanes), width, tuple(lane.name for lane in lanes) if len(lanes) < TAGGED_LANES else None)
        if self._tags is None or self._tags[0] != key:
            tag_width = min(max(TAG_MAX, width // TAG_SHARE), max((len(lane.name) for lane in lanes), default=4))
            shown = short_names([lane.name for lane in lanes], tag_width)
            self._tags = (key, tag_width, {lane.task: tag for lane, tag in zip(lanes, shown)})
        return self._tags[1], self._tags[2]

    def _line(self, i: int, width: int) -> Strip:
        if self._colors is None:
            self._colors = TaskColors(self.trace, self.app.theme_variables)
        out = self.trace.outputs[i]
        tag_width, tags = self._tag_names(width)
        tag = tags.get(out.task)
        if tag is None:
            lane = self.trace.lane_of(out.task)
            tag = short_names([lane.name if lane is not None else f"task {out.task}"], tag_width)[0]
        segments = [Segment(tag.ljust(tag_width) + " ", self._colors.style(out.task))]
        if "\x1b" in out.text:  # the program's own colours
            segments.extend(Text.from_ansi(out.text, end="").render(self.app.console))
        else:
            stderr = out.stream == "stderr"
            text = out.text.expandtabs(4).replace("\r", "")
            segments.append(Segment(text, self.get_component_rich_style("output--stderr") if stderr else None))
        return Strip(segments).crop_pad(width, 0, 0, self.rich_style).apply_style(self.rich_style)
