"""The source panel: a script's source, syntax-highlighted, with the selected task's line and the others' marked.

A Line-API widget over the source lines. The selected task's current line gets a bar and a highlight; every other
task at a line of the same file gets a dot in the gutter and its name, in its colour, after the code. It keeps the
selected line in view. Highlighting runs on a thread (Pygments takes a moment to load); until it is done the lines
show plain. The scenario picker uses the same widget, without marks, for its preview.
"""

from __future__ import annotations

import threading

from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Marks = dict[int, list[tuple[str, Style]]]  # line -> [(task name, its colour)]


class SourceView(ScrollView, can_focus=False):
    ALLOW_MAXIMIZE = True  # o / e puts it over the whole screen (RunScreen.action_maximize)
    COMPONENT_CLASSES = {"source--gutter", "source--current", "source--current-gutter", "source--empty"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.file: str | None = None
        self.text: str | None = None
        self.current: int | None = None
        self.marks: Marks = {}
        self._lines: list[Text] = []
        self._segments: dict[int, list[Segment]] = {}
        self._cache: LRUCache[tuple, Strip] = LRUCache(512)
        self._styles: dict[str, Style] = {}  # component class ("": the widget's own) -> rich style, until restyled
        self.empty_message = "no source recorded"
        self._highlighting: tuple[str, bool] | None = None  # the (text, dark theme) last sent to be highlighted

    def show(self, file: str | None, text: str | None, current: int | None = None, marks: Marks | None = None,
             title: str | None = None) -> None:
        """Show `text` (the source of `file`) with line `current` highlighted and other tasks' lines marked."""
        marks = marks or {}
        title = title if title is not None else (file or "source")
        if title != self.border_title:
            self.border_title = title
        if file == self.file and text == self.text and current == self.current and marks == self.marks:
            return
        if text != self.text or file != self.file:
            self.file, self.text = file, text
            self._set_lines([Text(line, end="") for line in (text or "").splitlines()])
            if text:
                self._highlight_later(text)
            self.scroll_to(y=0, animate=False, immediate=True)
        moved = current != self.current
        self.current, self.marks = current, marks
        if moved and current is not None:
            self._keep_in_view(current - 1)
        self.refresh()

    def _set_lines(self, lines: list[Text]) -> None:
        self._lines = lines
        self._segments: dict[int, list[Segment]] = {}
        self._cache.clear()
        self.virtual_size = Size(self.size.width, max(1, len(lines)))

    def _highlight_later(self, text: str) -> None:
        """Colour the source in a thread, started after the next frame so it never delays one (the first frame of
        a run screen shows the source plain); once per text and theme."""
        dark = getattr(getattr(self.app, "current_theme", None), "dark", True)
        if self._highlighting == (text, dark):
            return
        self._highlighting = (text, dark)

        def work() -> None:
            lines = highlight(text, dark)
            try:
                self.app.call_from_thread(self._highlighted, text, lines)
            except RuntimeError:  # the app has gone
                pass

        def start() -> None:
            if self._highlighting == (text, dark) and self.is_attached:
                # a plain thread, not a Textual thread worker: the pool thread that runs a worker keeps it (and this
                # view, its screen and a run's trace) in its context until it runs another one
                threading.Thread(target=work, name="viz highlight", daemon=True).start()

        self.call_after_refresh(start)

    def _highlighted(self, text: str, lines: list[Text]) -> None:
        if text == self.text:
            self._set_lines(lines)
            self.refresh()

    def _keep_in_view(self, i: int) -> None:
        top, height = int(self.scroll_y), self.size.height
        if height <= 0:
            return
        if i < top + 1 or i >= top + height - 1:
            self.scroll_to(y=max(0, i - height // 3), animate=False, immediate=True)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, max(1, len(self._lines)))  # drawn lines are cached per width
        if self.current is not None:
            self._keep_in_view(self.current - 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._styles.clear()
        if self.text and self.is_attached:
            self._highlight_later(self.text)

    # ---- drawing --------------------------------------------------------------------------------------------
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
        number = i + 1
        key = (i, width, number == self.current, tuple(self.marks.get(number, ())))
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._line(i, width)
        return strip

    def _style(self, component: str) -> Style:
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self.get_component_rich_style(component)
        return style

    def _base_style(self) -> Style:
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.rich_style
        return style

    def _line(self, i: int, width: int) -> Strip:
        number = i + 1
        digits = len(str(len(self._lines)))
        current = number == self.current
        gutter_style = self._style("source--current-gutter" if current else "source--gutter")
        marks = self.marks.get(number)
        if current:
            sign = Segment("▶", gutter_style)
        elif marks:
            sign = Segment("●", gutter_style + marks[0][1])
        else:
            sign = Segment(" ", gutter_style)
        gutter = Segment(str(number).rjust(digits) + " ", gutter_style)
        segments = [sign, gutter, *self._code_segments(i)]
        if marks:
            segments.append(Segment("  ◀ ", marks[0][1]))
            for n, (name, style) in enumerate(marks):
                segments.append(Segment(("" if n == 0 else ", ") + name, style))
        base = self._base_style()
        if current:
            base = base + self._style("source--current")
        return Strip(segments).adjust_cell_length(width, base).apply_style(base)

    def _code_segments(self, i: int) -> list[Segment]:
        """Line i's highlighted code as segments (rendered once per highlighting)."""
        cached = self._segments.get(i)
        if cached is None:
            line = self._lines[i]
            if line.spans:
                cached = list(line.render(self.app.console))
            else:
                cached = [Segment(line.plain.expandtabs(4))]
            self._segments[i] = cached
        return cached


def highlight(text: str, dark: bool = True) -> list[Text]:
    """The source as one Text per line, coloured by Pygments through Rich, without the theme's background."""
    from rich.syntax import Syntax  # Pygments is a large import: leave it to the highlighting thread

    syntax = Syntax(text, "python", theme="ansi_dark" if dark else "ansi_light", background_color="default")
    highlighted = syntax.highlight(text)
    highlighted.style = Style()
    highlighted.spans = [Span(sp.start, sp.end, _foreground(sp.style)) for sp in highlighted.spans]
    lines = highlighted.split("\n", allow_blank=True)
    for line in lines:
        line.end = ""
    if lines and not lines[-1].plain:
        lines.pop()
    return lines


def _foreground(style: Style | str) -> Style:
    style = Style.parse(style) if isinstance(style, str) else style
    return Style(color=style.color, bold=style.bold, italic=style.italic, underline=style.underline)
