"""The source panel: a script's source, syntax-highlighted, with the selected task's line and the others' marked.

A Line-API widget over the highlighted lines (highlighted once per file). The selected task's current line gets a
bar and a highlight; every other task at a line of the same file gets its name, in its colour, at the line's end.
It keeps the selected line in view. The scenario picker uses it, without marks, for its preview.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.syntax import Syntax
from rich.style import Style
from rich.text import Span, Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Marks = dict[int, list[tuple[str, object]]]  # line -> [(task name, rich Style)]


class SourceView(ScrollView):
    COMPONENT_CLASSES = {"source--gutter", "source--current", "source--current-gutter", "source--empty"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.file: str | None = None
        self.text: str | None = None
        self.current: int | None = None
        self.marks: Marks = {}
        self._lines: list[Text] = []
        self._cache: LRUCache[tuple, Strip] = LRUCache(512)
        self.empty_message = "no source recorded"

    def show(self, file: str | None, text: str | None, current: int | None = None, marks: Marks | None = None,
             title: str | None = None) -> None:
        """Show `text` (the source of `file`) with line `current` highlighted and other tasks' lines marked."""
        marks = marks or {}
        if file == self.file and text == self.text and current == self.current and marks == self.marks:
            return
        if text != self.text or file != self.file:
            self.file, self.text = file, text
            self._lines = self._highlight(text or "")
            self.virtual_size = Size(self.size.width, max(1, len(self._lines)))
            self.scroll_to(y=0, animate=False, immediate=True)
        self.border_title = title if title is not None else (file or "source")
        self._cache.clear()
        moved = current != self.current
        self.current, self.marks = current, marks
        if moved and current is not None:
            self._keep_in_view(current - 1)
        self.refresh()

    def _keep_in_view(self, i: int) -> None:
        top, height = int(self.scroll_y), self.size.height
        if height <= 0:
            return
        if i < top + 1 or i >= top + height - 1:
            self.scroll_to(y=max(0, i - height // 3), animate=False, immediate=True)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, max(1, len(self._lines)))
        self._cache.clear()
        if self.current is not None:
            self._keep_in_view(self.current - 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        if self.text is not None:
            self._lines = self._highlight(self.text)

    def _highlight(self, text: str) -> list[Text]:
        if not text:
            return []
        dark = getattr(getattr(self.app, "current_theme", None), "dark", True) if self.is_attached else True
        syntax = Syntax(text, "python", theme="ansi_dark" if dark else "ansi_light", background_color="default")
        highlighted = syntax.highlight(text)
        # keep the token colours, drop the theme's background so the panel's (and the highlight's) shows
        highlighted.style = Style()
        highlighted.spans = [Span(sp.start, sp.end, _foreground(sp.style)) for sp in highlighted.spans]
        lines = highlighted.split("\n", allow_blank=True)
        for line in lines:
            line.end = ""
        if lines and not lines[-1].plain:
            lines.pop()
        return lines

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        i = int(self.scroll_y) + y
        if not self._lines:
            if y == 0:
                text = Text(" " + self.empty_message, style=self.get_component_rich_style("source--empty"), end="")
                return Strip(list(text.render(self.app.console))).adjust_cell_length(width, self.rich_style)
            return Strip.blank(width, self.rich_style)
        if i >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        key = (i, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._line(i, width)
        return strip

    def _line(self, i: int, width: int) -> Strip:
        number = i + 1
        digits = len(str(len(self._lines)))
        current = number == self.current
        gutter_style = self.get_component_rich_style("source--current-gutter" if current else "source--gutter")
        marks = self.marks.get(number)
        if current:
            sign = Segment("▶", gutter_style)
        elif marks:
            sign = Segment("●", gutter_style + marks[0][1])
        else:
            sign = Segment(" ", gutter_style)
        gutter = Segment(str(number).rjust(digits) + " ", gutter_style)
        code = self._lines[i].copy()
        if marks:
            code.append("  ◀ ", style=marks[0][1])
            for n, (name, style) in enumerate(marks):
                code.append(("" if n == 0 else ", ") + name, style=style)
        base = self.rich_style
        if current:
            base = base + self.get_component_rich_style("source--current")
        segments = [sign, gutter, *code.render(self.app.console)]
        return Strip(segments).adjust_cell_length(width, base).apply_style(base)


def _foreground(style: Style | str) -> Style:
    style = Style.parse(style) if isinstance(style, str) else style
    return Style(color=style.color, bold=style.bold, italic=style.italic, underline=style.underline)
