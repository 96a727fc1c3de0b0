"""The timeline: one Line-API widget that draws the time axis, every lane and the playhead.

Row 0 is the axis (it stays put when the lanes scroll); row 1 + i is lane i. Each lane row is the lane's name, then
its cells from the `LanePainter`, one Segment per run of equal cells: a dense view comes as a row of cell codes whose
runs map straight to cached Segments (`_Styles.bars`), a sparse one as runs with sub-cell edges and labels. The
segments of a lane are cached until the view, the width, the theme or that lane's data change; the playhead is
spliced into the cached segments, and a lane's whole Strip is reused while the playhead stays in the same cell (so
Textual's per-strip caches hold too). The selected span's cause is a connector (`set_link`): `╷`, `│`, `╵` in the cause's column from the waker's row to the woken
task's row, spliced in like the playhead. Lane summaries the painter skipped during a frame are built from a timer
(`_warm`), with the lanes a page above and below the view. Horizontal position and zoom are a `View` (t0, seconds
per cell), not a scroll offset.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from operator import itemgetter
from time import monotonic, perf_counter

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.filter import ANSIToTruecolor
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from viz.app.lanes import SAME_CELLS, LanePainter, display_order
from viz.app.names import short_names
from viz.app.playback import first_time, window
from viz.app.palette import BAR_CLASSES, EIGHTHS, GLYPH, LABEL_CLASSES, TaskColors
from viz.app.timescale import View, fit, fmt_time, ticks
from viz.trace.model import Lane, Trace
from viz.views.cells import NAMES, NONE

NAME_MAX = 18  # the name column's widest on a terminal up to 90 columns...
NAME_SHARE = 5  # ...and a fifth of a wider one
LIVE_ROW_BY_ROW = 12  # a live run's first lanes make the timeline grow a row at a time; then it grows in big steps
KEEP_AT_LEAST = 8  # rows: while the user acts, a timeline this tall keeps its height (see keep_height)
MIN_DT = 1e-7  # the deepest zoom: 0.1 µs per cell
WARM_EVERY = 0.02   # background summary building: a slice every 20 ms...
WARM_BUDGET = 0.004  # ...of at most 4 ms


class Timeline(ScrollView, can_focus=False):
    """Swimlanes of one trace, with a playhead, a selected lane, zoom and click-to-seek."""

    COMPONENT_CLASSES = BAR_CLASSES | LABEL_CLASSES | {
        "timeline--axis", "timeline--name", "timeline--selected", "timeline--playhead", "timeline--marker",
        "timeline--cause",
    }
    DEFAULT_CSS = "Timeline > .timeline--cause { color: $accent; text-style: bold; }"

    class Clicked(Message):
        """The user clicked the timeline: `time` to seek to (None on a name), `row` to select (None on the axis)."""

        def __init__(self, time: float | None, row: int | None) -> None:
            super().__init__()
            self.time, self.row = time, row

    def __init__(self, trace: Trace, painter: LanePainter | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace
        self.painter = painter or LanePainter(trace)
        self.rows: list[Lane] = []
        self.hidden: set[int] = set()  # tasks whose lanes are not drawn (helpers the user hid: RunScreen, H)
        self._lanes_seen = 0
        self.view: View | None = None
        self.fitted = True  # re-fit the whole run on resize and as a live run grows
        self.hide_future = False  # predict mode (viz.app.predict): lanes are drawn up to the playhead only
        self.reach = float("inf")  # a fit shows at least back to here (the first instant, once asked for all of it)
        self.playhead = 0.0
        self.selected = 0
        self.link: tuple[float, Lane, Lane] | None = None  # the selected span's cause: (t, waker, woken)
        self._link_rows: tuple[int, int, float] | None = None  # its rows (top, bottom) and instant, while both drawn
        self._styles: _Styles | None = None
        self._lane_cache: dict[tuple, list] = {}  # [segments, segment ends, last strip's key, last strip, linked]
        self._cache_key: tuple | None = None
        self._axis: list | None = None  # [key, segments, text, (playhead key, strip)]
        self._warming = False
        self._paint_time = 0.0  # seconds in render_line since take_paint_time last asked
        self._dragging = False
        self._name_width = 6
        self._width = 80
        self._names: list[str] = []
        self._shown_names: list[str] = []  # as the name column shows them (viz.app.names)
        self._keep_height_until = 0.0  # monotonic(): until then a live timeline grows no taller (keep_height)
        self._height_kept = False  # its height is pinned (an inline style) for that reason

    # ---- data and geometry ----------------------------------------------------------------------------------
    @property
    def name_width(self) -> int:
        return self._name_width

    @property
    def cells(self) -> int:
        return max(1, self._width - self.name_width)

    def time_range(self) -> tuple[float, float]:
        """The whole run, from just before its activity starts (or from as early as `reach` says) to its end (or the
        newest record while live)."""
        start, end = window(self.trace)
        return min(start, self.reach), end

    def sync(self) -> None:
        """Take in new lanes and a longer run (called as records arrive)."""
        if self._lanes_seen != len(self.trace.lanes) or self._names_changed():
            self._lanes_seen = len(self.trace.lanes)
            self.rows = [lane for lane in display_order(self.trace.lanes) if lane.task not in self.hidden]
            self.selected = min(self.selected, max(0, len(self.rows) - 1))
            self._names = [lane.name for lane in self.rows]
            self._size_names()
            self._place_link()
        keeping = self.keeping_height
        if self._height_kept and not keeping:
            self._height_kept = False
            self.styles.height = None  # the stylesheet's height again: the lanes that came meanwhile may use it
        size = Size(self._width, self._virtual_height())
        if self.virtual_size != size:
            # it keeps the height it has, unless too low to show a few lanes: then that of the first lanes
            kept = self.size.height if self.size.height >= KEEP_AT_LEAST else LIVE_ROW_BY_ROW + 1
            if keeping and not self._height_kept and size.height > kept:
                self._height_kept = True
                self.styles.height = kept
            self._resize_virtual(size)
        if self.fitted:
            self._fit(exact=self.trace.finished)
        self.refresh()

    def _size_names(self) -> None:
        """The name column: as wide as the longest name, up to NAME_MAX or a NAME_SHARE of the width; names that do
        not fit are shortened where they repeat (viz.app.names)."""
        longest = max(map(len, self._names), default=4)
        self._name_width = min(max(NAME_MAX, self._width // NAME_SHARE), max(6, longest + 2))
        self._shown_names = short_names(self._names, self._name_width - 2)

    def shown_name(self, row: int) -> str:
        return self._shown_names[row] if row < len(self._shown_names) else self.rows[row].name

    def keep_height(self, seconds: float) -> None:
        """The user is acting (a key, a click): for `seconds`, new lanes of a live run make the timeline scroll, not
        grow taller than it is (or than LIVE_ROW_BY_ROW lanes, if it is lower than KEEP_AT_LEAST rows), so the
        panels do not move under the user's hands and no full-screen layout (the panels shrink and are all painted
        again) holds back what the user asked for. It grows once the user lets go."""
        self._keep_height_until = max(self._keep_height_until, monotonic() + seconds)

    @property
    def keeping_height(self) -> bool:
        """A live run's timeline is not to grow now (the user is acting, see keep_height)."""
        return not self.trace.finished and monotonic() < self._keep_height_until

    def _virtual_height(self) -> int:
        """The axis and a row per lane. While the run is live and has more than LIVE_ROW_BY_ROW lanes, room for
        lanes to come is made in big steps: at once the tallest the timeline may be, then twice as much as it has.
        Each change of the virtual size lays the whole screen out again, and while the timeline grows the panels
        below it shrink and are all painted again (30-120 ms in a busy run, a key pressed meanwhile waits): too dear
        to do for every new lane of a program that keeps spawning (rows past the last lane are blank). A few lanes
        still appear one at a time."""
        need = len(self.rows) + 1
        have = self.virtual_size.height
        if self.trace.finished or need <= LIVE_ROW_BY_ROW + 1:
            return need
        return have if need <= have else max(need, 2 * have, self._tallest())

    def _resize_virtual(self, size: Size) -> None:
        """Setting `virtual_size` lays the whole screen out again and paints all of it. When the timeline already
        scrolls (it shows fewer rows than it has: its max-height holds it), more rows change nothing but the
        scrollbar: then the size is set without a layout, the vertical scrollbar is told the new height (what the
        layout would have told it) and the timeline painted again."""
        if (size.height > self.virtual_size.height > self.size.height and size.width == self.virtual_size.width
                and self.show_vertical_scrollbar):
            self.set_reactive(Timeline.virtual_size, size)
            self.vertical_scrollbar.window_virtual_size = size.height
            self.refresh()
        else:
            self.virtual_size = size

    def _tallest(self) -> int:
        """The rows the timeline may take on this screen (its max-height), or the screen's height."""
        parent, scalar = self.parent, self.styles.max_height
        try:
            if parent is not None and scalar is not None:
                return max(1, int(scalar.resolve(parent.size, self.app.size)))
        except Exception:  # a max-height given in a unit that needs more than sizes: the screen bounds it anyway
            pass
        return self.app.size.height

    def _names_changed(self) -> bool:
        """A task record can rename a lane after it appeared (e.g. a thread named after it started)."""
        return len(self.rows) < 200 and any(lane.name != name for lane, name in zip(self.rows, self._names))

    def _fit(self, exact: bool = True) -> None:
        start, end = self.time_range()
        view = fit(start, end, self.cells)
        if not exact and self.view is not None and self.view.t0 == start and self.view.width == view.width:
            # live: widen in steps of 1.5x so cached lanes survive most batches
            if view.dt <= self.view.dt:
                return
            view = View(start, max(view.dt, self.view.dt * 1.5), view.width)
        self.view = view

    def on_resize(self, event: events.Resize) -> None:
        self._relayout()

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        """Enough lanes to scroll: the scrollbar takes the last column, so the lanes get one cell fewer."""
        self._relayout()

    def _relayout(self) -> None:
        # the columns left of the vertical scrollbar; the virtual width matches them, so none scrolls sideways
        self._width = self.scrollable_content_region.width
        self._size_names()
        self.virtual_size = Size(self._width, self._virtual_height())
        if self.view is None or self.fitted:
            self._fit()
        else:
            self.view = View(self.view.t0, self.view.dt, self.cells)
        self.refresh()

    # ---- what the screen asks of it -------------------------------------------------------------------------
    def fit_all(self) -> None:
        """Fit the whole run, from its first instant (the program's start-up too)."""
        self.fitted = True
        self.reach = first_time(self.trace)
        self._fit()
        self.refresh()

    def zoom(self, factor: float) -> None:
        """Cells `factor` times longer (2: zoom out, 0.5: zoom in), keeping the playhead where it is on screen."""
        if self.view is None:
            return
        start, end = self.time_range()
        widest = fit(start, end, self.cells).dt * 2
        if factor > 1 and self.view.dt >= widest:
            return
        self.view = self.view.zoomed(factor, self.playhead, MIN_DT)
        self.fitted = False
        self.refresh()

    def set_playhead(self, t: float) -> None:
        if t == self.playhead:
            return
        self.playhead = t
        if self.view is not None and not self.view.shows(t):
            if not self.fitted:
                self.view = self.view.panned_to(t, 0.1 if t > self.view.t1 else 0.5)
            elif t < self.view.t0:  # before what the fit shows (the start-up): the fit reaches back to it
                self.reach = min(self.reach, t)
                self._fit(exact=self.trace.finished)
        self.refresh()

    def set_link(self, link: tuple[float, Lane, Lane] | None) -> None:
        """Draw the connector of a cause: (its instant, the waker's lane, the woken lane), or none."""
        if link == self.link:
            return
        self.link = link
        self._place_link()
        self.refresh()

    def _place_link(self) -> None:
        link, rows = self.link, None
        if link is not None:
            try:
                a, b = self.rows.index(link[1]), self.rows.index(link[2])
            except ValueError:  # a lane not drawn (hidden)
                a = b = -1
            if a >= 0 and a != b:
                rows = (min(a, b), max(a, b), link[0])
        self._link_rows = rows

    def _link_char(self, row: int) -> tuple[int, str] | None:
        """The connector's cell in lane row `row` (its column, its character), or None."""
        rows = self._link_rows
        if rows is None or not rows[0] <= row <= rows[1]:
            return None
        x = self.view.cell_of(rows[2])
        if not 0 <= x < self.view.width:
            return None
        return x, "╷" if row == rows[0] else "╵" if row == rows[1] else "│"

    def hide(self, tasks: set[int]) -> None:
        """Draw every lane but those of `tasks` (the selection stays on its lane when it is still drawn)."""
        selected = self.selected_lane
        self.hidden = set(tasks)
        self._lanes_seen = -1
        self.sync()
        if selected is not None and selected in self.rows:
            self.select(self.rows.index(selected))

    def select(self, row: int) -> None:
        if not self.rows:
            return
        self.selected = max(0, min(row, len(self.rows) - 1))
        visible = self.size.height - 1
        top = int(self.scroll_y)
        if self.selected < top:
            self.scroll_to(y=self.selected, animate=False)
        elif self.selected >= top + visible:
            self.scroll_to(y=self.selected - visible + 1, animate=False)
        self.refresh()

    @property
    def selected_lane(self) -> Lane | None:
        return self.rows[self.selected] if self.rows else None

    # ---- mouse ----------------------------------------------------------------------------------------------
    def _clicked(self, event: events.MouseEvent) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self.view is None:
            return
        x, y = offset
        row = int(self.scroll_y) + y - 1 if y >= 1 else None
        if row is not None and row >= len(self.rows):
            row = None
        t = self.view.time_at(x - self.name_width) if x >= self.name_width else None
        if t is not None or row is not None:
            self.post_message(self.Clicked(t, row))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._dragging = True
        self.capture_mouse()
        self._clicked(event)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging and event.button:
            offset = event.get_content_offset(self)
            if offset is not None and self.view is not None and offset.x >= self.name_width:
                self.post_message(self.Clicked(self.view.time_at(offset.x - self.name_width), None))

    def _pan(self, fraction: float) -> None:
        if self.view is not None:
            self.view = View(self.view.t0 + fraction * self.view.dt * self.view.width, self.view.dt, self.view.width)
            self.fitted = False
            self.refresh()

    def on_mouse_scroll_left(self, event: events.MouseScrollLeft) -> None:
        event.stop()
        self._pan(-0.1)

    def on_mouse_scroll_right(self, event: events.MouseScrollRight) -> None:
        event.stop()
        self._pan(0.1)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        self._warming = False
        self._dragging = False
        self.release_mouse()

    # ---- drawing --------------------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._axis = None
        self._lane_cache.clear()

    def get_line_filters(self):
        """Textual's filters, but not ANSIToTruecolor when every style here is already truecolor (it would rebuild
        each segment of each line only to give it back unchanged)."""
        filters = super().get_line_filters()
        if self.styles_table.truecolor:
            return [f for f in filters if not isinstance(f, ANSIToTruecolor)]
        return filters

    @property
    def styles_table(self) -> "_Styles":
        if self._styles is None:
            self._styles = _Styles(self)
        return self._styles

    def _ensure_view(self) -> None:
        if self.view is None or self.fitted and self.view.width != self.cells:
            self._fit()
        elif self.view.width != self.cells:
            self.view = View(self.view.t0, self.view.dt, self.cells)

    def take_paint_time(self) -> float:
        """Seconds spent drawing lines since the last call (the live screen spaces its redraws by it)."""
        spent, self._paint_time = self._paint_time, 0.0
        return spent

    def render_line(self, y: int) -> Strip:
        started = perf_counter()
        try:
            return self._render_line(y)
        finally:
            self._paint_time += perf_counter() - started

    def _render_line(self, y: int) -> Strip:
        width = self._width
        self._ensure_view()
        st = self.styles_table
        if y == 0:
            return self._axis_strip(width, st)
        row = int(self.scroll_y) + y - 1
        if row >= len(self.rows):
            return Strip.blank(width, st.base)
        return self._lane_strip(row, st)

    def _axis_strip(self, width: int, st: "_Styles") -> Strip:
        view = self.view
        nw = self.name_width
        key = (view, nw)
        if self._axis is None or self._axis[0] != key:
            chars = [" "] * view.width
            step, marks = ticks(view, 12)
            end = -1
            for x, t in marks:
                label = "▏" + fmt_time(t, step)
                if x <= end or x + len(label) > view.width:
                    continue
                chars[x: x + len(label)] = label
                end = x + len(label)
            text = "".join(chars)
            self._axis = [key, [Segment(" " * nw, st.axis), Segment(text, st.axis)], text, None]
        _, segments, text, last = self._axis
        px = view.cell_of(self.playhead)
        if last is not None and last[0] == (px, width):
            return last[1]
        if 0 <= px < view.width:  # mark the playhead's column without hiding a label's character
            char = text[px] if text[px] not in " ▏" else "▼"
            segments = _splice(segments, [nw, nw + view.width], nw + px, Segment(char, st.marker))
        strip = Strip(segments, width)
        self._axis[3] = ((px, width), strip)
        return strip

    def _lane_strip(self, row: int, st: "_Styles") -> Strip:
        lane = self.rows[row]
        view = self.view
        key = (view.t0, view.dt, view.width)
        if key != self._cache_key:
            self._cache_key = key
            self._lane_cache.clear()
        lane_key = (lane.task, len(lane.starts), lane.ended, self.trace.end_time if lane.ended is None else None)
        cached = self._lane_cache.get(lane_key)
        if cached is None:
            if len(self._lane_cache) > 4096:
                self._lane_cache.clear()
            cached = self._lane_cache[lane_key] = [*self._lane_segments(lane, st), None, None, None]
            if self.painter.behind:
                self._warm_later()
        segments, ends, strip_key, strip, linked = cached
        px = view.cell_of(self.playhead)
        selected = row == self.selected
        name = self.shown_name(row)
        link = self._link_char(row) if self._link_rows is not None else None
        key = (px, selected, name, self.hide_future, link)
        if strip_key == key:  # the playhead stayed in the same cell of this lane
            return strip
        if link is not None:  # the connector's cell, spliced in once per link and kept while the playhead moves
            if linked is None or linked[0] != link:
                spliced = _splice(segments, ends, link[0], Segment(link[1], st.cause))
                linked = cached[4] = (link, spliced, _spliced_ends(ends, link[0]))
            segments, ends = linked[1], linked[2]
        if 0 <= px < view.width and (link is None or px != link[0]):
            segments = _splice(segments, ends, px, None, st.playhead)
        strip = Strip(st.head(lane, name, self.name_width, selected) + segments, self._width)
        if self.hide_future:  # predict mode: nothing after the playhead
            strip = strip.crop(0, self.name_width + max(px, -1) + 1).extend_cell_length(self._width, st.base)
        cached[2:4] = key, strip
        return strip

    def _warm_later(self) -> None:
        if not self._warming:
            self._warming = True
            self.set_timer(WARM_EVERY, self._warm)

    def _warm(self) -> None:
        """Build lane summaries in the background, a few milliseconds at a time: the lanes a frame drew without
        one, then those a page above and below the view, so the next scroll or zoom finds them ready."""
        top, page = int(self.scroll_y), max(1, self.size.height - 1)
        near = self.rows[max(0, top - page):top + 2 * page]
        if self.painter.warm(WARM_BUDGET, near):
            self.set_timer(WARM_EVERY, self._warm)
        else:
            self._warming = False

    def _lane_segments(self, lane: Lane, st: "_Styles") -> tuple[list[Segment], list[int]]:
        """The lane's cells in this view as segments, and where each segment ends (in cells)."""
        view = self.view
        painter = self.painter
        row = painter.row(lane, view.t0, view.dt, view.width)
        if row is None:
            runs = painter.runs(lane, view.t0, view.dt, view.width)
            return list(map(st.runs.__getitem__, runs)), list(accumulate(map(_WIDTH, runs)))
        pieces = SAME_CELLS.findall(row)  # runs of equal cells, each a cached Segment
        segments = list(map(st.bars.__getitem__, pieces))
        widths = list(map(len, pieces))
        for i, runs in reversed(painter.row_labels(lane, pieces, widths, view.t0, view.dt)):
            segments[i:i + 1] = map(st.runs.__getitem__, runs)
            widths[i:i + 1] = [run[3] for run in runs]
        return segments, list(accumulate(widths))


def _splice(segments: list[Segment], ends: list[int], x: int, replacement: Segment | None,
            overlay: Style | None = None) -> list[Segment]:
    """Segments with the cell at x replaced (or restyled with `overlay` and drawn as the playhead)."""
    i = bisect_right(ends, x)
    if i >= len(segments):
        return segments
    seg = segments[i]
    start = ends[i] - seg.cell_length
    cut = x - start
    text, style = seg.text, seg.style
    if replacement is None:
        replacement = Segment("┃", (style or Style()) + overlay)
    out = segments[:i]
    if cut:
        out.append(Segment(text[:cut], style))
    out.append(replacement)
    if cut + 1 < len(text):
        out.append(Segment(text[cut + 1:], style))
    out.extend(segments[i + 1:])
    return out


def _spliced_ends(ends: list[int], x: int) -> list[int]:
    """Where each segment `_splice(segments, ends, x, ...)` returns ends: the segment at x cut in up to three."""
    i = bisect_right(ends, x)
    if i >= len(ends):
        return ends
    start = ends[i - 1] if i else 0
    return ends[:i] + ([x] if x > start else []) + [x + 1] + ([ends[i]] if x + 1 < ends[i] else []) + ends[i + 1:]


class _Styles:
    """The timeline's rich Styles, read once from the CSS component classes (and again when the theme changes), and
    the Segments made from them: bars by their cells (`bars[b"\\x05\\x05"]`), edges, lane names."""

    def __init__(self, widget: Timeline):
        get = widget.get_component_rich_style
        self.base = widget.rich_style
        background = self.base.bgcolor
        self.bar = [get(f"lane--{name}") for name in NAMES]
        self.label = [get(f"label--{name}") for name in NAMES]
        self.main = [style.color for style in self.bar]
        self.main[NONE] = background
        self.axis = get("timeline--axis")
        self.name = get("timeline--name")
        self.selected = get("timeline--selected")
        self.marker = get("timeline--marker")
        self.playhead = Style(color=get("timeline--playhead").color, bold=True)
        self.cause = Style(bgcolor=background) + get("timeline--cause")
        self.colors = TaskColors(widget.trace, widget.app.theme_variables)
        self.bars = _Bars(self.bar)
        self.runs = _Runs(self)
        self.truecolor = all(_truecolor(style) for style in [self.base, self.axis, self.name, self.selected,
                                                             self.marker, self.playhead, self.cause, *self.bar, *self.label,
                                                             *self.colors.styles])
        self._edges: dict[tuple[int, int, int], Segment] = {}
        self._heads: dict[tuple, list[Segment]] = {}

    def segment(self, run: tuple) -> Segment:
        left, right, eighths, width, label = run
        if label is not None:
            return Segment(label, self.label[left])
        if eighths == 8:
            return self.bars[_CELL_BYTES[left] * width]
        seg = self._edges.get((left, right, eighths))
        if seg is None:
            style = Style(color=self.main[left], bgcolor=self.main[right])
            seg = self._edges[(left, right, eighths)] = Segment(EIGHTHS[eighths], style)
        return seg

    def head(self, lane: Lane, shown: str, width: int, selected: bool) -> list[Segment]:
        """The lane's name column: ' name' in the task's colour, or '▶name' when it is the selected lane (`shown`:
        the name as it fits)."""
        key = (lane.task, shown, width, selected)
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) > 8192:
                self._heads.clear()
            name = shown[: width - 2].ljust(width - 1)
            if selected:
                head = [Segment("▶" + name, self.selected)]
            else:
                head = [Segment(" ", self.name), Segment(name, self.name + self.colors.style(lane.task))]
            self._heads[key] = head
        return head


_CELL_BYTES = [bytes([code]) for code in range(len(NAMES))]


def _truecolor(style: Style) -> bool:
    """Colours given as RGB (or not at all) and not dim: what ANSIToTruecolor leaves as it is."""
    return not style.dim and all(color is None or color.triplet is not None for color in (style.color, style.bgcolor))


class _Runs(dict):
    """Segment of a run from `LanePainter.runs`, keyed by the run; made on first use (cleared when it grows large,
    as labels make runs of many kinds)."""

    def __init__(self, styles: "_Styles"):
        super().__init__()
        self.styles = styles

    def __missing__(self, run: tuple) -> Segment:
        if len(self) > 4096:
            self.clear()
        seg = self[run] = self.styles.segment(run)
        return seg


_WIDTH = itemgetter(3)


class _Bars(dict):
    """Segment of a run of equal cells, keyed by the run itself (bytes of one repeated code); made on first use."""

    def __init__(self, styles: list[Style]):
        super().__init__()
        self.styles = styles

    def __missing__(self, cells: bytes) -> Segment:
        code = cells[0]
        seg = self[cells] = Segment(GLYPH[code] * len(cells), self.styles[code])
        return seg
