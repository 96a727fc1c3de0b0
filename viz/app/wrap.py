"""Cutting a long line into rows of a panel's width, for the panels that wrap (output, source) instead of cutting.

A row ends after the last space that fits, or mid-word when a word alone is wider than the row; the spaces a break
falls on are dropped, every other character stays (in its style: rows are slices of the line's `Text`). Widths are
terminal cells, so wide characters count twice. Rows after the first can be `hang` cells narrower, for a panel that
indents them.
"""

from __future__ import annotations

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text


def row_ranges(plain: str, width: int, hang: int = 0) -> list[tuple[int, int]]:
    """Where `plain` breaks into rows of at most `width` cells (rows after the first `width - hang`): (start, end)."""
    width = max(1, width)
    if cell_len(plain) <= width:
        return [(0, len(plain))]
    later = max(1, width - hang)
    ranges: list[tuple[int, int]] = []
    n, start, room = len(plain), 0, width
    while True:
        end, cells, space = start, 0, -1  # space: after the last space that follows a word, in this row
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
                    space = end
            else:
                word = True
        if end >= n:
            ranges.append((start, n))
            return ranges
        if end == start:  # one character wider than the row
            end += 1
        elif plain[end] != " " and space > 0:
            end = space
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
