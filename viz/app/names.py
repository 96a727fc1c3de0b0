"""Task names shortened to a width so that tasks stay told apart: where names repeat (three `func('…')`, three
`127.0.0.1:5xxxx (client(n))`), the part they share is cut and the part that differs is kept. The full name is in
the details panel."""

from __future__ import annotations

import os

ELLIPSIS = "…"
_WORD = str.isalnum


def short_names(names: list[str], width: int) -> list[str]:
    """Each name in at most `width` characters, keeping what tells it from the others."""
    width = max(1, width)
    if all(len(name) <= width for name in names):
        return list(names)
    ordered = sorted(set(names))
    shared: dict[str, int] = {}  # the longest start each name shares with another: one of its neighbours in order
    for before, after in zip(ordered, ordered[1:]):
        n = len(os.path.commonprefix([before, after]))
        shared[before] = max(shared.get(before, 0), n)
        shared[after] = max(shared.get(after, 0), n)
    return [name if len(name) <= width else _short(name, shared.get(name, 0), width) for name in names]


def _short(name: str, a: int, width: int) -> str:
    """`name` cut to `width`: a name that shares its start with another keeps the part that differs and its end (and
    as much of its start as there is room for); one like no other at its start keeps its start."""
    if a >= len(name):  # another name starts with all of it
        a = 0
    while 0 < a and _WORD(name[a - 1]) and _WORD(name[a]):  # from the start of the word that differs
        a -= 1
    if a == 0:  # like no other name at its start: its start
        return name[: width - 1] + ELLIPSIS
    rest = name[a:]  # what differs, then the end it shares
    if len(rest) + 1 > width:  # no room for any of its start: up to its end
        return ELLIPSIS + rest[len(rest) - (width - 1):]
    return name[: width - len(rest) - 1] + ELLIPSIS + rest
