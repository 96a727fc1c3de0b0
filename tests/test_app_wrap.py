"""Long lines wrap on a projector-sized screen: a printed line wider than the output panel, and a source line wider
than the source panel, go on in the rows below (the output under its text, the source after a `↪` in the gutter)
instead of being cut, with their colours, the current line's highlight and the marks on every row.

The program is recorded once, in a real child process, with a known timeline: worker sleeps 0.2 s, prints a
200-character line and a long red one; main sleeps 0.4 s on a source line of over 100 characters, joins, prints.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual import events
from textual.strip import Strip

from conftest import lane, run_session, spans
from viz.app.app import VizApp
from viz.app.output import OutputView
from viz.app.source import SourceView
from viz.app.timeline import Timeline
from viz.app.wrap import _ascii_ranges, _cell_ranges, row_ranges

WORDS = " ".join(f"w{i:03d}" for i in range(40)) + "!"  # 200 characters, words of 4
SETTINGS = '{"first": "a value", "second": "another value", "third": "a third", "fourth": "the fourth"}'
PROGRAM = f'''\
import threading, time

def worker():
    time.sleep(0.2); note = "the worker sleeps two tenths of a second here, then it prints two lines"
    print({WORDS!r})
    print("\\x1b[31m" + "red " * 30 + "\\x1b[0mplain")

t = threading.Thread(target=worker, name="worker")
t.start()
settings = {SETTINGS}; time.sleep(0.4)
t.join()
print("done")


def unused():
    """Lines after the program's last, so that the source panel can scroll on past it."""
    return None
'''
SLEEP_LINE, WORKER_LINE = 10, 4
SIZE = (86, 24)  # under 110 columns the panels go two by two: the output panel is 40 cells wide


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("wrap") / "wrap.py"
    path.write_text(PROGRAM, encoding="utf-8")
    _, trace = run_session(path)
    main_sleep = next(s for s in spans(trace, "main", "blocked") if s.reason == "time.sleep(0.4)")
    worker_sleep = next(s for s in spans(trace, "worker", "blocked") if s.reason == "time.sleep(0.2)")
    assert 0.35 <= main_sleep.end - main_sleep.start <= 0.7 and main_sleep.line == SLEEP_LINE, main_sleep
    assert 0.15 <= worker_sleep.end - worker_sleep.start <= 0.5 and worker_sleep.line == WORKER_LINE, worker_sleep
    printed = [o for o in trace.outputs if o.task == lane(trace, "worker").task]
    assert [o.text for o in printed][0] == WORDS and len(WORDS) == 200
    assert all(o.t >= worker_sleep.end for o in printed) and printed[-1].t < main_sleep.end
    return trace, main_sleep


def on_app(trace, body, size=SIZE, at: float | None = None) -> None:
    """Run `body(app, pilot)` on the run screen of `trace`, the playhead at `at` (default: the end), main selected."""
    async def run():
        app = VizApp(trace=trace, trace_name="wrap")
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            screen = app.screen
            timeline = screen.query_one(Timeline)
            assert timeline.selected_lane.name == "main"
            if at is not None:
                screen.playback.seek(at)
                screen._sync()
            await settled(pilot)
            await body(app, pilot)
    asyncio.run(run())


async def settled(pilot) -> None:
    """Wait for the source highlighting thread and the redraw after it."""
    view = pilot.app.screen.query_one(SourceView)
    for _ in range(100):
        await pilot.pause(0.01)
        if view.text and view._lines and view._lines[0].spans:
            break
    await pilot.pause()


def rows_of(app, widget, scrollbar: bool = False) -> list[Strip]:
    """The widget's rows as drawn on screen: the compositor's strips, cut to its content (less its scrollbar)."""
    region = widget.scrollable_content_region if scrollbar else widget.content_region
    strips = app.screen._compositor.render_strips()
    return [strips[y].crop(region.x, region.right) for y in range(region.y, region.bottom)]


def text(row: Strip) -> str:
    return row.text


def test_a_200_character_line_wraps_in_a_40_wide_output_panel_every_word_on_consecutive_rows(recorded):
    trace, main_sleep = recorded

    async def body(app, pilot):
        out = app.screen.query_one(OutputView)
        assert out.size.width == 40
        rows = [text(r) for r in rows_of(app, out)]
        first = next(n for n, row in enumerate(rows) if row.startswith("worker w000"))
        indent = " " * len("worker ")
        pieces = [rows[first][len(indent):]]
        for row in rows[first + 1:]:
            if not row.startswith(indent + "w"):
                break
            pieces.append(row[len(indent):])
        assert len(pieces) == 7  # 33 cells of text a row: 6 words of 4 and their spaces, 40 words
        assert " ".join(piece.rstrip() for piece in pieces) == WORDS
        assert all(len(row) == 40 for row in rows)

    first_print = next(o for o in trace.outputs if o.text == WORDS)
    on_app(trace, body, at=first_print.t)  # the long line is the newest: its 7 rows fill the panel


def test_the_program_s_colours_stay_on_every_row_of_a_wrapped_line_and_the_newest_row_is_at_the_bottom(recorded):
    trace, main_sleep = recorded

    async def body(app, pilot):
        out = app.screen.query_one(OutputView)
        rows = rows_of(app, out)
        assert text(rows[-1]).startswith("       red") and text(rows[-1]).rstrip().endswith("red plain")
        red = [row for row in rows if "red" in text(row)]
        assert len(red) == 4  # 125 characters, 8 words of 4 a row
        red_cells = {seg.style.color for row in red for seg in row if "red" in seg.text}
        plain = {seg.style.color for seg in rows[-1] if "plain" in seg.text}
        assert len(red_cells) == 1 and len(plain) == 1 and red_cells != plain  # red on each row, to the last word

    on_app(trace, body, at=main_sleep.start + 0.3)


def test_the_mouse_wheel_scrolls_back_row_by_row_to_the_first_row_and_down_to_the_newest_again(recorded):
    trace, _ = recorded

    async def wheel(pilot, out, up: bool) -> None:
        kind = events.MouseScrollUp if up else events.MouseScrollDown
        out.post_message(kind(out, 1, 1, 0, -1 if up else 1, 0, False, False, False))
        await pilot.pause()

    async def body(app, pilot):
        out = app.screen.query_one(OutputView)
        newest = [text(r) for r in rows_of(app, out)]
        assert newest[-1].startswith("main   done")
        windows = [newest]
        while True:
            await wheel(pilot, out, up=True)
            window = [text(r) for r in rows_of(app, out)]
            if window == windows[-1]:
                break
            windows.append(window)
        assert len(windows) >= 3  # 7 + 4 + 1 rows in a panel of 7: a wheel turn is 3 rows
        for below, above in zip(windows, windows[1:]):
            shift = next(k for k in range(1, 4) if above[k:] == below[:-k])  # the same rows, moved down
            assert shift == 3 or above is windows[-1]
        assert windows[-1][0].startswith("worker w000")  # back to the first line's first row
        for _ in windows[1:]:
            await wheel(pilot, out, up=False)
        assert [text(r) for r in rows_of(app, out)] == newest

    on_app(trace, body)


def test_a_long_source_line_wraps_with_the_current_line_highlight_on_each_row_and_stays_in_view(recorded):
    trace, main_sleep = recorded
    source_line = PROGRAM.splitlines()[SLEEP_LINE - 1]
    assert len(source_line) > 100

    async def body(app, pilot):
        view = app.screen.query_one(SourceView)
        assert view.current == SLEEP_LINE
        rows = rows_of(app, view, scrollbar=True)
        texts = [text(r) for r in rows]
        first = next(n for n, row in enumerate(texts) if row.startswith(f"▶{SLEEP_LINE}"))
        later = [n for n in range(first + 1, len(texts)) if texts[n].startswith("┃ ↪")]
        assert later == list(range(first + 1, first + 1 + len(later))) and len(later) >= 2
        assert texts[first + 1 + len(later)].startswith(f" {SLEEP_LINE + 1} ")  # all its rows are on screen
        gutter = len(f"▶{SLEEP_LINE} ")
        code = " ".join(row[gutter:].strip() for row in texts[first:first + 1 + len(later)])
        assert code.replace(" ", "") == source_line.replace(" ", "")
        def backgrounds(n: int) -> set:  # of the code's cells (the gutter has its own colours)
            return {seg.style.bgcolor for seg in rows[n].crop(gutter, rows[n].cell_length)}

        highlighted = set().union(*(backgrounds(n) for n in range(first, first + 1 + len(later))))
        assert len(highlighted) == 1  # one background, the highlight's, across all the code of the line's rows
        others = backgrounds(first - 1) | backgrounds(first + 1 + len(later))
        assert highlighted.isdisjoint(others)
        strings = {seg.style.color for row in rows[first + 1:first + 1 + len(later)] for seg in row
                   if seg.text.startswith('"')}
        assert strings and None not in strings  # syntax colours on the later rows too

    on_app(trace, body, at=main_sleep.start + 0.1)


def test_another_task_s_mark_covers_every_row_of_its_wrapped_line(recorded):
    trace, main_sleep = recorded
    worker_sleep = next(s for s in spans(trace, "worker", "blocked") if s.reason == "time.sleep(0.2)")

    async def body(app, pilot):
        view = app.screen.query_one(SourceView)
        assert [name for name, _ in view.marks[WORKER_LINE]] == ["worker"]
        view.scroll_to(y=view.row_of(WORKER_LINE), animate=False, immediate=True)
        await pilot.pause()
        rows = rows_of(app, view, scrollbar=True)
        texts = [text(r) for r in rows]
        assert texts[0].startswith(f"●{WORKER_LINE:>2} ")
        later = [n for n in range(1, len(texts)) if texts[n].startswith("┃ ↪")]
        assert later == list(range(1, 1 + len(later))) and later
        mark_color = list(rows[0])[0].style.color
        assert all(list(rows[n])[0].style.color == mark_color for n in later)
        assert "◀ worker" in texts[later[-1]] and "◀" not in texts[0]

    on_app(trace, body, at=worker_sleep.start + 0.1)


def test_a_maximised_source_panel_wraps_the_line_at_its_own_width_in_fewer_rows(recorded):
    trace, main_sleep = recorded

    def rows_of_line(view) -> int:
        return view.row_of(SLEEP_LINE + 1) - view.row_of(SLEEP_LINE)

    async def body(app, pilot):
        view = app.screen.query_one(SourceView)
        small = rows_of_line(view)
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.maximized is view
        big = rows_of_line(view)
        assert 1 < big < small
        texts = [text(r) for r in rows_of(app, view, scrollbar=True)]
        first = next(n for n, row in enumerate(texts) if row.startswith(f"▶{SLEEP_LINE}"))
        assert all(texts[n].startswith("┃ ↪") for n in range(first + 1, first + big))
        await pilot.press("e")
        await pilot.pause()
        assert rows_of_line(view) == small

    on_app(trace, body, at=main_sleep.start + 0.1)


def test_rows_break_after_spaces_commas_and_brackets_and_mid_word_only_for_a_word_wider_than_the_row():
    def rows(line: str, width: int, hang: int = 0) -> list[str]:
        return [line[a:b] for a, b in row_ranges(line, width, hang)]

    assert rows("did 12 steps of other work", 10) == ["did 12 ", "steps of ", "other work"]  # the break's space goes
    assert rows("    t = threading.Thread(target=worker, name='worker')", 32, 8) == [
        "    t = threading.Thread(", "target=worker, ", "name='worker')"]  # later rows 8 narrower: they are indented
    assert rows("f(a,b,c,d,e,f,g,h)", 6) == ["f(a,b,", "c,d,e,", "f,g,h)"]
    assert rows("x" * 10, 4) == ["xxxx", "xxxx", "xx"]
    assert rows("中文中文中文 abc", 5) == ["中文", "中文", "中文 ", "abc"]  # two cells a character
    assert rows("short", 40) == ["short"]


@settings(max_examples=300, deadline=None)
@given(line=st.text(alphabet="ab c,(d)[e] {f};g=中", max_size=90), width=st.integers(1, 40), hang=st.integers(0, 12))
def test_rows_keep_every_character_but_the_spaces_at_breaks_and_fit_their_width(line, width, hang):
    ranges = row_ranges(line, width, hang)
    assert ranges[0][0] == 0 and line[ranges[-1][1]:].strip(" ") == ""  # the last row ends the line, or its spaces
    for (a, b), (c, _) in zip(ranges, ranges[1:]):
        assert a < b and line[b:c].strip(" ") == ""  # between two rows only the spaces a break fell on
    for n, (a, b) in enumerate(ranges):
        room = max(1, width if n == 0 else width - hang)
        assert cell_len(line[a:b]) <= room or b == a + 1  # a character wider than the row has a row of its own


@settings(max_examples=300, deadline=None)
@given(line=st.text(alphabet="ab c,(d)[e] {f};g=", max_size=90), width=st.integers(1, 40), hang=st.integers(0, 12))
def test_the_ascii_fast_path_cuts_rows_where_counting_cells_does(line, width, hang):
    later = max(1, max(1, width) - hang)
    if len(line) > width:
        assert _ascii_ranges(line, width, later) == _cell_ranges(line, width, later)


def test_a_source_line_with_more_rows_than_the_panel_shows_from_its_first_row(recorded):
    trace, main_sleep = recorded

    async def body(app, pilot):
        view = app.screen.query_one(SourceView)
        rows = view.row_of(SLEEP_LINE + 1) - view.row_of(SLEEP_LINE)
        assert rows > view.size.height  # the smallest run screen: a 5-row panel
        texts = [text(r) for r in rows_of(app, view, scrollbar=True)]
        assert texts[0].startswith(f"▶{SLEEP_LINE} settings = ")
        assert all(row.startswith("┃ ↪") for row in texts[1:])

    on_app(trace, body, size=(60, 20), at=main_sleep.start + 0.1)


def test_the_source_panel_starts_at_a_line_s_first_row_not_in_the_middle_of_a_wrapped_line(recorded):
    trace, main_sleep = recorded

    async def body(app, pilot):
        view = app.screen.query_one(SourceView)
        view.scroll_to(y=0, animate=False, immediate=True)  # the panel at the top: the next line is out of view
        await pilot.pause()
        assert view.scroll_y == 0
        done = next(o for o in trace.outputs if o.text == "done")
        app.screen.playback.seek(done.t)  # main past the long line, printing at print("done")
        app.screen._sync()
        await pilot.pause()
        current = view.current
        assert current == SLEEP_LINE + 2
        # a third of the panel above the current line falls inside the wrapped line ...
        aim = view.row_of(current) - view.size.height // 3
        assert view.row_of(SLEEP_LINE) < aim < view.row_of(SLEEP_LINE + 1)
        # ... so the panel starts at that line's first row (all of it fits above the current line)
        texts = [text(r) for r in rows_of(app, view, scrollbar=True)]
        assert texts[0].startswith(f" {SLEEP_LINE} settings = "), texts
        assert any(row.startswith(f"▶{current}") for row in texts)

    on_app(trace, body, at=main_sleep.start + 0.1)


def test_a_source_that_arrives_after_its_current_line_opens_with_that_line_in_view(recorded):
    trace, main_sleep = recorded

    async def body(app, pilot):
        view = app.screen.query_one(SourceView)
        file, text_ = view.file, view.text
        view.show(file, None, SLEEP_LINE + 2)  # a live run: main's line is known before the source record arrives
        await pilot.pause()
        view.show(file, text_, SLEEP_LINE + 2)  # the same line, now with its source: out of view at the top
        await pilot.pause()
        texts = [text(r) for r in rows_of(app, view, scrollbar=True)]
        assert any(row.startswith(f"▶{SLEEP_LINE + 2}") for row in texts), texts

    on_app(trace, body, at=main_sleep.start + 0.1)
