"""Cutting a long line into rows of a panel's width, for the panels that wrap (output, source) instead of cutting.

A row ends at the last place in it where a line can break: after a space, or after a comma, semicolon or opening
bracket (long calls and literals break between their arguments); mid-word only when a word alone is wider than the
row. The spaces a break falls on are dropped, every other character stays (in its style: rows are slices of the
line's `Text`). Widths are terminal cells, so wide characters count twice. Rows after the first can be `hang` cells
narrower, for a panel that indents them.
"""

from __future__ import annotations

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text

BREAK_AFTER = frozenset(",;([{")  # a row may end after one of these (as after a space), unless a closing one follows
CLOSING = frozenset(")]}")


def row_ranges(plain: str, width: int, hang: int = 0) -> list[tuple[int, int]]:
    """Where `plain` breaks into rows of at most `width` cells (rows after the first `width - hang`): (start, end)."""
    width = max(1, width)
    if cell_len(plain) <= width:
        return [(0, len(plain))]
    later = max(1, width - hang)
    if plain.isascii() and plain.isprintable():  # a cell a character: rows found by slicing, not by counting
        return _ascii_ranges(plain, width, later)
    return _cell_ranges(plain, width, later)


def _cell_ranges(plain: str, width: int, later: int) -> list[tuple[int, int]]:
    """row_ranges for any line: each character's cells counted."""
    ranges: list[tuple[int, int]] = []
    n, start, room = len(plain), 0, width
    while True:
        end, cells, cut = start, 0, -1  # cut: after the last break in this row that follows a word
        word = False
        while end < n:
            c = plain[end]
            size = get_character_cell_size(c)
            if cells + size > room:
                break
            cells += size
            end += 1
            if c == " ":
                if word:
                    cut = end
            else:
                word = True
                if c in BREAK_AFTER and end < n and plain[end] not in CLOSING and plain[end] != " ":
                    cut = end
        if end >= n:
            ranges.append((start, n))
            return ranges
        if end == start:  # one character wider than the row
            end += 1
        elif plain[end] != " " and cut > 0:
            end = cut
        ranges.append((start, end))
        start = end
        while start < n and plain[start] == " ":  # the spaces the break fell on
            start += 1
        if start >= n:
            return ranges
        room = later


def _ascii_ranges(plain: str, width: int, later: int) -> list[tuple[int, int]]:
    """row_ranges for a line of printable ASCII (each character one cell): the same rows, found from the row's end
    back to its last break."""
    ranges: list[tuple[int, int]] = []
    n, start, room = len(plain), 0, width
    while True:
        end = start + room
        if end >= n:
            ranges.append((start, n))
            return ranges
        row = plain[start:end]
        word = end - len(row.lstrip(" "))  # the row's first character that is not a space
        if plain[end] != " ":  # the row ends mid-word: back to its last break, if it has one after a word
            p = end - 1
            while p >= word:
                c = plain[p]
                if c == " " and p > word or c in BREAK_AFTER and plain[p + 1] not in CLOSING and plain[p + 1] != " ":
                    end = p + 1
                    break
                p -= 1
        ranges.append((start, end))
        start = end
        while start < n and plain[start] == " ":  # the spaces the break fell on
            start += 1
        if start >= n:
            return ranges
        room = later


def wrap(text: Text, width: int, hang: int = 0) -> list[Text]:
    """`text` (tabs expanded) as rows of at most `width` cells, each a slice keeping its styles."""
    ranges = row_ranges(text.plain, width, hang)
    if len(ranges) == 1:
        return [text]
    rows = [text[a:b] for a, b in ranges]
    for row in rows:
        row.end = ""
    return rows
