"""The output panel: the lines the program printed up to the playhead, each tagged and coloured by its task.

A Line-API widget that keeps its own scroll position (rows back from the newest row), so the panel never changes size
as lines arrive and never forces a re-layout. A line wider than the panel wraps (viz.app.wrap): it goes on in the
rows below, indented under its text, so every character stays on screen, at any width (a maximised panel wraps at its
own). Program colours are kept across the rows (`Text.from_ansi`); lines printed after the playhead stay hidden until
it reaches them. The mouse wheel scrolls back through earlier rows; the newest row stays at the bottom otherwise.
"""

from __future__ import annotations

from bisect import bisect_right
from operator import attrgetter

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.strip import Strip
from textual.widget import Widget

from viz.app.names import short_names
from viz.app.palette import TaskColors
from viz.app.wrap import wrap
from viz.trace.model import Output, Trace

TAG_MAX = 12  # a line's task tag at most, or a sixth of a wider panel
TAG_SHARE = 6
TAGGED_LANES = 200  # tags are sized and shortened among this many lanes at most
SCROLL_ROWS = 3  # rows one turn of the mouse wheel scrolls
_T = attrgetter("t")


class OutputView(Widget):
    ALLOW_MAXIMIZE = True  # o / e puts it over the whole screen (RunScreen.action_maximize)
    COMPONENT_CLASSES = {"output--stderr", "output--empty", "output--more"}

    def __init__(self, trace: Trace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace
        self.count = 0       # lines printed up to the playhead
        self.back = 0        # how many rows the user scrolled back from the newest
        self._colors: TaskColors | None = None
        self._cache: LRUCache[tuple, list[Strip]] = LRUCache(1024)  # a line's rows, by (line, its time, layout)
        self._heights: LRUCache[tuple, int] = LRUCache(16384)  # a line's number of rows, by the same key
        self._window: tuple[tuple, list[tuple[int, int]]] | None = None  # the rows on screen: (line, row of line)
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
        width, height = self.size
        total = self._rows_back(width, self.back + max(by, 0) + height)
        back = max(0, min(self.back + by, total - height))
        if back != self.back:
            self.back = back
            self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll(SCROLL_ROWS)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll(-SCROLL_ROWS)

    # ---- rows: lines cut to the width -----------------------------------------------------------------------
    def _height(self, i: int, width: int) -> int:
        """How many rows line i takes at this width."""
        out = self.trace.outputs[i]
        key = (i, out.t, width, len(self.trace.lanes))
        height = self._heights.get(key)
        if height is None:
            text = out.text
            room = width - self._tag_names(width)[0] - 1
            if "\x1b" not in text and cell_len(text.expandtabs(4).replace("\r", "")) <= room:
                height = 1  # fits: no need to draw it to know
            else:
                height = len(self._rows(i, width))
            self._heights[key] = height
        return height

    def _rows_back(self, width: int, limit: int) -> int:
        """The rows of the lines up to the playhead, counted from the newest until `limit` is reached."""
        total, i = 0, self.count - 1
        while i >= 0 and total < limit:
            total += self._height(i, width)
            i -= 1
        return total

    def _visible(self, width: int, height: int) -> list[tuple[int, int]]:
        """The rows on screen, top to bottom, as (line, row of that line): the newest `height` rows, `back` rows up
        (or the first rows, when a narrower panel left fewer rows than that)."""
        key = (self.count, self.back, width, height, len(self.trace.lanes))
        if self._window is not None and self._window[0] == key:
            return self._window[1]
        rows: list[tuple[int, int]] = []  # bottom up
        skip, i = self.back, self.count - 1
        while i >= 0 and len(rows) < height:
            n = self._height(i, width)
            if skip >= n:
                skip -= n
            else:
                for row in range(n - 1 - skip, -1, -1):
                    rows.append((i, row))
                    if len(rows) == height:
                        break
                skip = 0
            i -= 1
        rows.reverse()
        if len(rows) < height and self.back:  # scrolled back further than there are rows: the first rows
            rows, i = [], 0
            while i < self.count and len(rows) < height:
                rows.extend((i, row) for row in range(min(self._height(i, width), height - len(rows))))
                i += 1
        self._window = (key, rows)
        return rows

    # ---- drawing --------------------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._colors = None
        self._cache.clear()
        self._heights.clear()
        self._window = None

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self.count == 0:
            if y == 0:
                text = Text("nothing printed yet", style=self.get_component_rich_style("output--empty"), end="")
                return Strip(list(text.render(self.app.console))).adjust_cell_length(width, self.rich_style)
            return Strip.blank(width, self.rich_style)
        visible = self._visible(width, height)
        if y >= len(visible):
            return Strip.blank(width, self.rich_style)
        i, row = visible[y]
        return self._rows(i, width)[row]

    def _tag_names(self, width: int) -> tuple[int, dict[int, str]]:
        """The tags' width and each task's tag: its name, shortened where names repeat (viz.app.names)."""
        lanes = self.trace.lanes[:TAGGED_LANES]
        key = (len(lanes), width, tuple(lane.name for lane in lanes) if len(lanes) < TAGGED_LANES else None)
        if self._tags is None or self._tags[0] != key:
            tag_width = min(max(TAG_MAX, width // TAG_SHARE), max((len(lane.name) for lane in lanes), default=4))
            shown = short_names([lane.name for lane in lanes], tag_width)
            self._tags = (key, tag_width, {lane.task: tag for lane, tag in zip(lanes, shown)})
        return self._tags[1], self._tags[2]

    def _rows(self, i: int, width: int) -> list[Strip]:
        """Line i as the rows it takes: its task's tag, then its text, wrapped under itself (cached)."""
        out = self.trace.outputs[i]
        key = (i, out.t, width, len(self.trace.lanes))
        rows = self._cache.get(key)
        if rows is None:
            rows = self._cache[key] = self._cut(out, width)
        return rows

    def _cut(self, out: Output, width: int) -> list[Strip]:
        if self._colors is None:
            self._colors = TaskColors(self.trace, self.app.theme_variables)
        tag_width, tags = self._tag_names(width)
        tag = tags.get(out.task)
        if tag is None:
            lane = self.trace.lane_of(out.task)
            tag = short_names([lane.name if lane is not None else f"task {out.task}"], tag_width)[0]
        text_width = max(1, width - tag_width - 1)
        first = Segment(tag.ljust(tag_width) + " ", self._colors.style(out.task))
        base = self.rich_style
        if "\x1b" not in out.text:
            text = out.text.expandtabs(4).replace("\r", "")
            style = self.get_component_rich_style("output--stderr") if out.stream == "stderr" else None
            if cell_len(text) <= text_width:  # most lines: one row, no Text needed
                return [Strip([first, Segment(text, style)]).crop_pad(width, 0, 0, base).apply_style(base)]
            rows = wrap(Text(text, style=style or "", end=""), text_width)
        else:  # the program's own colours, kept on every row
            colored = Text.from_ansi(out.text.replace("\r", ""), end="")
            if "\n" in colored.plain:  # from_ansi cut the text at a form feed or the like: one row of it again
                colored = Text(" ", end="").join(colored.split("\n"))
            colored.expand_tabs(4)
            rows = wrap(colored, text_width)
        console = self.app.console
        indent = Segment(" " * (tag_width + 1))
        return [Strip([first if n == 0 else indent, *row.render(console)]).crop_pad(width, 0, 0, base)
                .apply_style(base) for n, row in enumerate(rows)]
