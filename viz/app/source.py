"""The source panel: a script's source, syntax-highlighted, with the selected task's line and the others' marked.

A Line-API widget over the source lines. A line wider than the panel wraps (viz.app.wrap): its code goes on in the rows
below, indented a little under its own indentation, with `↪` in the gutter instead of a line number; the scroll
position counts rows. The selected task's current line gets a bar and a highlight on all its rows; every other task at
a line of the same file gets a dot in the gutter (a bar down the line's other rows) and its name, in its colour, after
the code. It keeps the whole selected line in view. Highlighting runs on a thread (Pygments takes a moment to load);
until it is done the lines show plain (wrapped alike: rows are cut from the plain text). The scenario picker uses the
same widget, without marks, for its preview.
"""

from __future__ import annotations

import threading
from bisect import bisect_right

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from viz.app.wrap import row_ranges

HANG = 4  # a wrapped line's later rows start this much further in than its indentation (at most a third of the code)
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
        self._starts: list[int] = [0]  # each line's first row, then the number of rows, at code width self._cut
        self._cut: int | None = None  # (None: to lay out; -1: laid out before the panel had a width)
        self._width = -1  # the panel width self._starts is for (-1: none yet)
        self._breaks: dict[int, list[tuple[int, int]]] = {}  # a wrapping line's rows, at code width self._cut
        self._rows: dict[int, list[list[Segment]]] = {}  # a line's code as rows of segments, at code width self._cut
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
        moved = current != self.current
        if text != self.text or file != self.file:
            self.file, self.text = file, text
            self._set_lines([Text(line, end="") for line in (text or "").splitlines()])
            if text:
                self._highlight_later(text)
            self.scroll_to(y=0, animate=False, immediate=True)
            moved = True  # a new text (or a live run's source, arrived after the line): to the line again
        self.current, self.marks = current, marks
        if moved and current is not None:
            self._keep_in_view(current - 1)
        self.refresh()

    def row_of(self, line: int) -> int:
        """The first row of source line `line` (counted from 1) at the panel's width: where to scroll to show it."""
        starts = self._layout()
        return starts[max(0, min(line - 1, len(starts) - 1))]

    def _set_lines(self, lines: list[Text]) -> None:
        self._lines = lines
        self._rows.clear()
        self._cache.clear()
        self._cut, self._width = None, -1  # laid out again at the next look
        self.virtual_size = Size(self.size.width, max(1, self._layout()[-1]))

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
        if text != self.text:
            return
        if [line.plain for line in lines] == [line.plain for line in self._lines]:  # coloured, cut into the same rows
            self._lines = lines
            self._rows.clear()
            self._cache.clear()
        else:  # split otherwise (a form feed, say): laid out again
            self._set_lines(lines)
        self.refresh()

    # ---- rows: lines cut to the width -----------------------------------------------------------------------
    def _gutter_width(self) -> int:
        return len(str(len(self._lines))) + 2  # the sign, the line number, a space

    def _code_width(self, width: int) -> int:
        """The cells a row has for code: the panel less the gutter and the vertical scrollbar's column (kept free
        whether or not the scrollbar shows, so a line never wraps differently because the scrollbar came)."""
        return max(8, width - self._gutter_width() - self.styles.scrollbar_size_vertical)

    def _layout(self, width: int | None = None) -> list[int]:
        """Each line's first row (and the number of rows last): one row a line, more for a line that wraps, at the
        panel's width (or `width`, when the caller has it)."""
        width = self.size.width if width is None else width
        if width == self._width:
            return self._starts
        self._width = width
        cut = self._code_width(width) if width > 0 else -1  # -1: not laid out yet, a row a line till then
        if cut != self._cut:
            self._cut = cut
            self._rows.clear()
            self._cache.clear()
            self._breaks.clear()
            starts, row = [0], 0
            for i, line in enumerate(self._lines):
                plain = _untab(line.plain)
                if cut < 0 or cell_len(plain) <= cut:
                    row += 1
                else:
                    ranges = self._breaks[i] = row_ranges(plain, cut, _hang(plain, cut))
                    row += len(ranges)
                starts.append(row)
            self._starts = starts
        return self._starts

    def _code_rows(self, i: int) -> list[list[Segment]]:
        """Line i's highlighted code as rows of segments, the later rows indented (cut once per highlighting and
        width)."""
        rows = self._rows.get(i)
        if rows is None:
            line = self._lines[i]
            if "\t" in line.plain:
                line = line.copy()
                line.expand_tabs(4)
            ranges = self._breaks.get(i, ((0, len(line.plain)),))
            if line.spans:
                console = self.app.console
                rows = [list(line[a:b].render(console)) for a, b in ranges] if len(ranges) > 1 else [
                    list(line.render(console))]
            else:
                rows = [[Segment(line.plain[a:b])] for a, b in ranges]
            if len(rows) > 1:
                indent = Segment(" " * _hang(line.plain, self._cut))
                rows[1:] = [[indent, *row] for row in rows[1:]]
            self._rows[i] = rows
        return rows

    def _keep_in_view(self, i: int) -> None:
        """Scroll so that all of line i's rows show, a row of the lines around it too where they fit (a line with as
        many rows as the panel or more: from its first row)."""
        top, height = int(self.scroll_y), self.size.height
        if height <= 0 or not self._lines:
            return
        starts = self._layout()
        i = max(0, min(i, len(self._lines) - 1))
        first, end = starts[i], starts[i + 1]
        if end - first >= height:
            y = first
        elif first < top + 1 or end > top + height - 1:
            y = max(0, first - height // 3)
            if end > y + height - 1:
                y = max(0, end - height + 1)
            j = bisect_right(starts, y) - 1
            if starts[j] != y:  # not from the middle of a wrapped line: from its first row, or the next line's
                y = starts[j] if end <= starts[j] + height - 1 else starts[j + 1]
        else:
            return
        if y != top:  # forced: the scrollbar that allows it may come only at the next layout (a text just shown)
            self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, max(1, self._layout()[-1]))  # rows are cut (and cached) per width
        if self.current is not None:
            self._keep_in_view(self.current - 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._width = -1  # the scrollbar's width may have changed
        self._cache.clear()
        self._rows.clear()
        self._styles.clear()
        if self.text and self.is_attached:
            self._highlight_later(self.text)

    # ---- drawing --------------------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if not self._lines:
            if y == 0:
                text = Text(" " + self.empty_message, style=self.get_component_rich_style("source--empty"), end="")
                return Strip(list(text.render(self.app.console))).adjust_cell_length(width, self.rich_style)
            return Strip.blank(width, self.rich_style)
        row = int(self.scroll_y) + y
        starts = self._layout(width)
        if row >= starts[-1]:
            return Strip.blank(width, self.rich_style)
        i = bisect_right(starts, row) - 1
        part = row - starts[i]
        number = i + 1
        key = (i, part, width, number == self.current, tuple(self.marks.get(number, ())))
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._row(i, part, width)
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

    def _row(self, i: int, part: int, width: int) -> Strip:
        """Row `part` of line i: the gutter (sign and number, or `↪` on a later row), the code, and on the line's
        last row the other tasks at it."""
        number = i + 1
        digits = len(str(len(self._lines)))
        current = number == self.current
        gutter_style = self._style("source--current-gutter" if current else "source--gutter")
        marks = self.marks.get(number)
        rows = self._code_rows(i)
        if part == 0:
            sign = "▶" if current else "●" if marks else " "
            gutter = Segment(str(number).rjust(digits) + " ", gutter_style)
        else:  # a bar down the rest of a selected or marked line
            sign = "┃" if current or marks else " "
            gutter = Segment("↪".rjust(digits) + " ", gutter_style)
        sign_style = gutter_style + marks[0][1] if marks and not current else gutter_style
        segments = [Segment(sign, sign_style), gutter, *rows[part]]
        if marks and part == len(rows) - 1:
            segments.append(Segment("  ◀ ", marks[0][1]))
            for n, (name, style) in enumerate(marks):
                segments.append(Segment(("" if n == 0 else ", ") + name, style))
        base = self._base_style()
        if current:
            base = base + self._style("source--current")
        return Strip(segments).adjust_cell_length(width, base).apply_style(base)


def _untab(plain: str) -> str:
    return plain.expandtabs(4) if "\t" in plain else plain


def _hang(plain: str, cut: int) -> int:
    """How far a wrapped line's later rows are indented: past its own indentation, at most a third of the row."""
    return min(len(plain) - len(plain.lstrip(" ")) + HANG, cut // 3)


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
