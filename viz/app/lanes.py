"""One lane as runs of cells: the pure drawing logic behind the timeline, with no Textual in it.

For a lane and a view (t0, seconds per cell, width) `LanePainter.runs` returns runs of cells:
`(left, right, eighths, width, label)`. A plain bar has left == right and eighths == 8; an edge cell shows a state
change inside one cell as a left eighth block (`eighths`/8 of the cell in `left`, the rest in `right`); a run with a
label writes the span's reason inside the bar (with "blocks the whole loop" after it when the span has that flag).

Every cell follows the rule of viz.views.cells, which the text view follows too: the most important state (blocks the
whole loop > running > ready > blocked > idle) among the spans that overlap it, exactly (or, in a sparse view, both
states of a cell with one change, as an edge); tests/test_app_drawing.py checks every path against a brute-force
definition. How a lane is drawn depends on how many of its changes the view holds:

- few (at most one per DENSE cells): `_sparse_runs` walks the spans in view, with sub-cell edges and labels;
- many: `row` gives one code per cell, from the lane's summary (`_Summary`: the most important state in each time
  bucket of 2^k seconds, for every k from a finest level of about 8-16 buckets per span up; built once per lane,
  extended as a live lane grows). A view reads a level with many buckets per cell. Those wholly inside a cell give
  a lower bound for it, those touching it an upper bound; where the two agree (nearly every cell) that is the cell,
  and only the others look at the spans. The work for a whole row happens inside CPython: a slice of the summary,
  big-int shifts and ORs for the max over every window of buckets at once (the summary stores each code as a
  "thermometer", so the more important of two codes is their bitwise OR), and `operator.itemgetter` picks built
  once per view and shared by all its lanes. A frame costs O(cells) and no Python step per cell or per span;
- many, but no summary yet (a lane seen for the first time with more than SYNC_SPANS spans, or one that grew that
  much since the last frame), or one too coarse for the view: `exact_row` (viz.views.cells), one bisect per cell
  edge. The lane is queued and `warm` builds its summary between frames (the timeline calls it from a timer), so
  building a summary (about a microsecond per span) never lands in a frame; both ways give the same cells, so
  nothing is redrawn.
"""

from __future__ import annotations

import math
import os
import re
import time
from bisect import bisect_left, bisect_right
from itertools import compress, repeat
from operator import itemgetter, le

from viz.trace.model import Lane, Trace
from viz.views.cells import (LOOP_V, NONE, SCAN, exact_cell, exact_row, extend_codes, lane_end, most_important,
                             with_loop_words)


Run = tuple  # (left, right, eighths, width, label | None)
DENSE = 4      # more than width / DENSE changes in view: draw cell by cell
F = 16         # a dense frame reads summary buckets at least 1/F of a cell wide (or a lane's finest, if wider)
BUCKETS_PER_SPAN = 8   # a lane's finest summary level has about 8-16 buckets per span...
SUMMARY_SLACK = 4096   # ...and is made coarser when it outgrows 16 per span + this (a lane that went quiet)
SYNC_SPANS = 200       # a frame brings a summary up to date itself when at most this many spans are new
WARM_STEP = 2000       # spans a background build step adds to one lane's summary at most
LABEL_MIN = 10         # a dense run this many cells long that is one span carries the span's reason

SAME_CELLS = re.compile(rb"\x00+|\x01+|\x02+|\x03+|\x04+|\x05+")  # findall(row): its runs of equal cells
_NONZERO = re.compile(rb"[^\x00]")
# Summaries hold each code as a "thermometer": code v -> the lowest v bits set. Then the most important of some codes
# is their bitwise OR, which Python does for a whole row at once on the row read as one big integer.
_THERM = (0, 1, 3, 7, 15, 31)
_TO_THERM = bytes(_THERM) + bytes(250)
_FROM_THERM = bytes(_THERM.index(i) if i in _THERM else 0 for i in range(256))
_FILL = [bytes([t]) for t in range(32)]
summary_fill = None  # viz/trace/_fold.c (VIZ_PURE_PYTHON=1 or a build without a compiler: the loop in _Summary.extend)
if not os.environ.get("VIZ_PURE_PYTHON"):
    try:
        from viz.trace._fold import summary_fill
    except ImportError:  # pragma: no cover - depends on the build
        pass


class LanePainter:
    """Draws the lanes of one trace; keeps each lane's per-span display codes up to date as the lane grows."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self._codes: dict[int, bytearray] = {}
        self._summaries: dict[int, _Summary] = {}
        self._deferred: dict[int, Lane] = {}  # lanes drawn without their summary, to build in `warm`
        self._last_view: _View | None = None

    def codes(self, lane: Lane) -> bytearray:
        """One display code per span (its state, or LOOP_V when it blocks the whole loop); extended, never rebuilt."""
        codes = self._codes.get(lane.task)
        if codes is None:
            codes = self._codes[lane.task] = bytearray()
        return extend_codes(lane, codes)

    def lane_end(self, lane: Lane) -> float:
        return lane_end(self.trace, lane)

    def runs(self, lane: Lane, t0: float, dt: float, width: int, labels: bool = True) -> list[Run]:
        """The lane drawn across `width` cells starting at time t0, `dt` seconds per cell."""
        starts = lane.starts
        n = len(starts)
        if n == 0 or width <= 0:
            return [(NONE, NONE, 8, max(width, 0), None)]
        codes = self.codes(lane)
        end = self.lane_end(lane)
        if bisect_left(starts, t0 + width * dt) - bisect_right(starts, t0) > width // DENSE:
            return self.row_runs(lane, self._dense_row(lane, codes, end, t0, dt, width), t0, dt, labels)

        return self._sparse_runs(lane, codes, end, t0, dt, width, labels)

    def _sparse_runs(self, lane: Lane, codes: bytearray, end: float, t0: float, dt: float, width: int,
                     labels: bool) -> list[Run]:
        """Span by span. Segment k is span k, or -1 before the lane and n after it; a cell wholly inside one is a
        bar, a cell with one change an edge, a cell with more the most important segment in it."""
        starts = lane.starts
        n = len(starts)
        last = starts[n - 1]
        first = starts[0]
        inv = 1.0 / dt
        t_right = t0 + width * dt
        reasons = lane.reasons if labels else None
        string = self.trace.string
        out: list[Run] = []
        # the segment covering t0
        if t0 < first:
            k = -1
        elif t0 >= end and end > last or t0 > end:
            k = n
        else:
            k = bisect_right(starts, t0) - 1
        c = 0
        while c < width:
            a = t0 + c * dt
            # the next boundary after segment k
            nxt = (starts[k + 1] if k + 1 < n else end) if k < n else t_right + dt
            code = codes[k] if 0 <= k < n else NONE
            if nxt >= a + dt:
                # cells c .. cend-1 lie wholly inside segment k
                cend = min(width, int((nxt - t0) * inv + 1e-9)) if nxt < t_right else width
                if cend <= c:
                    cend = c + 1
                if reasons is not None and 0 <= k < n and (reasons[k] or code == LOOP_V):
                    _put_bar(out, code, cend - c, with_loop_words(string(reasons[k]), code == LOOP_V))
                elif out and out[-1][0] == code and out[-1][1] == code and out[-1][4] is None:
                    out[-1] = (code, code, 8, out[-1][3] + cend - c, None)
                else:
                    out.append((code, code, 8, cend - c, None))
                c = cend
                b2 = t0 + c * dt
                while k < n and (starts[k + 1] if k + 1 < n else end) <= b2:
                    k += 1
                continue
            b = a + dt
            # kb: the last segment starting before b
            if b <= first:
                kb = -1
            elif k >= n:
                kb = n
            else:
                kb = bisect_left(starts, b, k + 1 if k >= 0 else 0) - 1
                if kb == n - 1 and end < b and end > last:
                    kb = n
            if kb == k + 1 and code != (code_b := codes[kb] if 0 <= kb < n else NONE):
                eighths = round(((starts[kb] if kb < n else end) - a) * inv * 8)
                out.append((code, code_b, 7 if eighths > 7 else 1 if eighths < 1 else eighths, 1, None))
            else:
                if kb > k + 1:
                    code = most_important(codes, k if k > 0 else 0, (kb if kb < n - 1 else n - 1) + 1)
                if out and out[-1][0] == code and out[-1][1] == code and out[-1][4] is None:
                    out[-1] = (code, code, 8, out[-1][3] + 1, None)
                else:
                    out.append((code, code, 8, 1, None))
            c += 1
            # the segment covering the next cell's start
            k = kb
            b2 = t0 + c * dt
            while k < n and (starts[k + 1] if k + 1 < n else end) <= b2:
                k += 1
        return out

    # ---- many changes in view: a row of cell codes ----------------------------------------------------------
    def row(self, lane: Lane, t0: float, dt: float, width: int) -> bytes | None:
        """The lane's cells as one code per cell when the view holds many of its changes, else None (then `runs`
        draws it span by span, with sub-cell edges). The timeline turns a row into segments without a Python step
        per cell; `row_labels` finds the reasons to write in it."""
        starts = lane.starts
        if not starts or width <= 0:
            return None
        if bisect_left(starts, t0 + width * dt) - bisect_right(starts, t0) <= width // DENSE:
            return None
        return self._dense_row(lane, self.codes(lane), self.lane_end(lane), t0, dt, width)

    def row_labels(self, lane: Lane, pieces: list[bytes], widths: list[int], t0: float,
                   dt: float) -> list[tuple[int, list[Run]]]:
        """Where a row's runs of equal cells (`pieces`, `widths` cells each) carry a reason: (piece index, the runs
        that replace it) for each run of at least LABEL_MIN cells that is a single span with a reason (or that blocks
        the whole loop).

        A run is one span when none starts inside its cells but the first (the first may hold the change into it).
        """
        out = []
        starts, reasons = lane.starts, lane.reasons
        n = len(starts)
        for i in compress(range(len(widths)), map(le, repeat(LABEL_MIN), widths)):
            code = pieces[i][0]
            if code == NONE:
                continue
            pos = sum(widths[:i])
            stop = pos + widths[i]
            j = bisect_right(starts, t0 + (pos + 1) * dt)
            if j and (j == n or starts[j] > t0 + stop * dt) and (reasons[j - 1] or code == LOOP_V):
                runs: list[Run] = []
                _put_bar(runs, code, widths[i], with_loop_words(self.trace.string(reasons[j - 1]), code == LOOP_V))
                out.append((i, runs))
        return out

    def row_runs(self, lane: Lane, row: bytes, t0: float, dt: float, labels: bool = True) -> list[Run]:
        """A row as runs of equal cells, long single-span runs labelled (no sub-cell edges at this density)."""
        pieces = SAME_CELLS.findall(row)
        out: list[Run] = [(g[0], g[0], 8, len(g), None) for g in pieces]
        if labels:
            for i, runs in reversed(self.row_labels(lane, pieces, list(map(len, pieces)), t0, dt)):
                out[i:i + 1] = runs
        return out

    def _dense_row(self, lane: Lane, codes: bytearray, end: float, t0: float, dt: float, width: int) -> bytes:
        """Every cell, exactly: from the summary's bounds where they agree, from the spans where they do not."""
        starts = lane.starts
        summary = self.summary(lane, now=False)
        view = self._last_view
        if view is None or view.key != (t0, dt, width):
            view = self._last_view = _View(t0, dt, width)
        if summary is None:
            return exact_row(starts, codes, end, view.edges)
        k = max(view.k, summary.k0)
        if 2.0 ** (k + 1) > dt:  # under two buckets per cell: none need lie wholly inside a cell
            return exact_row(starts, codes, end, view.edges)
        grid = view.grids.get(k)
        if grid is None:
            grid = view.grids[k] = _Grid(k, view.edges)
        n = len(starts)
        r = summary.window(k, grid.j_lo, grid.j_hi)
        _paint_span(r, grid.j_lo, grid.inv, starts[n - 1], end, codes[n - 1])  # the open last span
        upper, lower = grid.bounds(r)
        if upper == lower:
            return upper
        diff = (int.from_bytes(upper, "little") ^ int.from_bytes(lower, "little")).to_bytes(width, "little")
        row = bytearray(upper)
        edges = view.edges
        for m in _NONZERO.finditer(diff):  # the few cells the bounds leave open
            c = m.start()
            a = edges[c]
            hi = bisect_left(starts, edges[c + 1])
            lo = bisect_right(starts, a) - 1
            if hi == n or lo < 0 or starts[lo] == a or hi - lo >= SCAN:  # a lane's ends, spans of no length
                row[c] = exact_cell(starts, codes, end, a, edges[c + 1])
            else:
                row[c] = max(codes[lo:hi])
        return row

    def summary(self, lane: Lane, now: bool = True) -> "_Summary | None":
        """The lane's summary, brought up to date with its spans (None until it has two spans).

        With now=False (while drawing) a summary more than SYNC_SPANS spans behind is not built: the lane is drawn
        from its spans this time and queued for `warm`.
        """
        n = len(lane.starts)
        summary = self._summaries.get(lane.task)
        done = summary.done if summary is not None else 0
        if not now and n - 1 - done > SYNC_SPANS:
            self._deferred[lane.task] = lane
            return None
        self._build(lane, n)
        return self._summaries.get(lane.task)

    def warm(self, budget: float, lanes: list[Lane] = ()) -> bool:
        """Build summaries for `budget` seconds at most: first the lanes drawing skipped, then `lanes` (say, the
        ones just out of view). True when there is more to do."""
        deadline = time.perf_counter() + budget
        for lane in list(self._deferred.values()) + list(lanes):
            self._deferred.pop(lane.task, None)
            if not self._build(lane, WARM_STEP):  # a long lane (a busy loop) is built a piece at a time
                self._deferred[lane.task] = lane
            if time.perf_counter() > deadline:
                return True
        return bool(self._deferred)

    def _build(self, lane: Lane, most: int) -> bool:
        """Bring the lane's summary up to date by at most `most` spans; True when it is."""
        n = len(lane.starts)
        if n < 2:
            return True
        summary = self._summaries.get(lane.task)
        if summary is None:
            summary = self._summaries[lane.task] = _Summary(lane.starts, n)
        if summary.done < n - 1:
            summary.extend(lane.starts, self.codes(lane), min(n - 1, summary.done + most))
        return summary.done >= n - 1

    @property
    def behind(self) -> bool:
        """Some lane was drawn without its summary (see `warm`)."""
        return bool(self._deferred)


def _put_bar(out: list[Run], code: int, width: int, label: str | None) -> None:
    """Append `width` cells of `code`, writing `label` inside when it fits; merges with a bar just before."""
    room = width - 4  # a bar cell either side of " label "
    if label and (room >= len(label) or room >= 9):
        text = label if len(label) <= room else label[: room - 1] + "…"
        text = f" {text} "
        lead = 1
        _put_bar(out, code, lead, None)
        out.append((code, code, 8, len(text), text))
        rest = width - lead - len(text)
        if rest:
            out.append((code, code, 8, rest, None))
        return
    if out:
        left, right, eighths, w, lab = out[-1]
        if left == code and right == code and lab is None:
            out[-1] = (code, code, 8, w + width, None)
            return
    out.append((code, code, 8, width, None))


def display_order(lanes: list[Lane]) -> list[Lane]:
    """Lanes top to bottom: the main program, then the loop (gevent's hub), then the other tasks as they appeared."""
    rank = {"main": 0, "loop": 1}
    return sorted(lanes, key=lambda lane: rank.get(lane.kind, 2))


def _paint_span(r: bytearray, j_lo: int, inv: float, start: float, end: float, code: int) -> None:
    """Add `code` to the buckets (thermometer codes, of 1/inv seconds, r[0] being bucket j_lo) that [start, end)
    overlaps."""
    a = start * inv
    ja = math.floor(a) - j_lo
    jb = (math.ceil(end * inv) - 1 if end > start else math.floor(a)) - j_lo
    n = len(r)
    if jb < 0 or ja >= n:
        return
    t = _THERM[code]
    if ja >= 0:
        r[ja] |= t
        ja += 1
    else:
        ja = 0
    jb = min(jb, n - 1)
    if jb >= ja:  # the buckets after the first lie after every closed span: only this one is there
        r[ja:jb + 1] = _FILL[t] * (jb + 1 - ja)


def _or(a: bytes, b: bytes) -> bytes:
    """Byte-wise OR of two equally long strings (of thermometer codes: the more important of each pair)."""
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


# ---- summaries -----------------------------------------------------------------------------------------------
class _Summary:
    """One lane's most important code per time bucket, bucket j of level k being [j * 2^k, (j+1) * 2^k) seconds.

    `levels[k] = [j0, row]`: row[x] is bucket j0 + x. The finest level k0 is built from the spans, one Python step
    per span, once (a live lane only adds its new spans); each coarser level is the byte-wise max of pairs of the one
    below, made on demand and redone from the first bucket that changed. Only closed spans (each ends where the next
    starts) are in it: the last span, which grows while the run is live, is painted in at draw time.
    """

    __slots__ = ("k0", "levels", "done", "stale")

    def __init__(self, starts, n: int):
        span = starts[n - 1] - starts[0]
        size = span / (BUCKETS_PER_SPAN * (n - 1)) if span > 0 else 1e-9
        self.k0 = math.floor(math.log2(size))
        self.levels: dict[int, list] = {self.k0: [math.floor(starts[0] * 2.0 ** -self.k0), bytearray()]}
        self.done = 0  # spans [0, done) are in the finest level
        self.stale: dict[int, int] = {}  # level -> the first bucket to redo from the level below

    def extend(self, starts, codes: bytearray, closed: int) -> None:
        """Add spans [done, closed) to the finest level (span i ends where span i + 1 starts)."""
        lo = self.done
        limit = 16 * closed + SUMMARY_SLACK
        while math.floor(starts[closed] * 2.0 ** -self.k0) + 1 - self.levels[self.k0][0] > limit:
            self._coarsen()  # the lane went quiet for long: a coarser finest level keeps it small
        k0 = self.k0
        j0, row = self.levels[k0]
        inv = 2.0 ** -k0
        need = math.floor(inv * starts[closed]) + 1 - j0  # up to the bucket the last span starts in
        if len(row) < need:
            row.extend(bytes(need - len(row)))
        first = math.floor(inv * starts[lo])
        if summary_fill is not None:  # viz/trace/_fold.c: the loop below, in C
            summary_fill(row, j0, inv, starts, codes[lo:closed].translate(_TO_THERM), lo, closed)
        else:
            scaled = list(map(inv.__mul__, starts[lo:closed + 1].tolist()))  # in buckets; exact (a power of two)
            ends = map(math.ceil, scaled)  # one past the last bucket the span before ends in
            next(ends)
            fill = _FILL
            for ja, jb, t in zip(map(math.floor, scaled), ends, codes[lo:closed].translate(_TO_THERM)):
                ja -= j0  # the bucket the span starts in
                row[ja] |= t
                jb -= j0 + 1
                if jb > ja:  # the buckets after the first lie inside this span: nothing else is there yet
                    row[ja + 1:jb + 1] = fill[t] * (jb - ja)
        self.done = closed
        for k in self.levels:
            if k > k0:
                p = first >> (k - k0)
                self.stale[k] = min(self.stale.get(k, p), p)

    def _coarsen(self) -> None:
        """Make the level above the finest one the finest (derived from it, so nothing is read again)."""
        self.level(self.k0 + 1)
        del self.levels[self.k0]
        self.k0 += 1
        self.stale.pop(self.k0, None)

    def level(self, k: int) -> list:
        """Level k (>= k0), made or brought up to date from the level below."""
        lv = self.levels.get(k)
        if k == self.k0 or lv is not None and not self.stale:
            return lv
        child_j0, child = self.level(k - 1)
        if lv is None:
            lv = self.levels[k] = [child_j0 >> 1, bytearray()]
            p = lv[0]
        else:
            p = self.stale.pop(k, None)
            if p is None:
                return lv
        j0, row = lv
        x = 2 * p - child_j0
        piece = child[x:] if x >= 0 else bytes(-x) + child
        if len(piece) & 1:
            piece += b"\x00"
        del row[p - j0:]
        row += _or(piece[0::2], piece[1::2])
        return lv

    def window(self, k: int, j_lo: int, j_hi: int) -> bytearray:
        """Buckets [j_lo, j_hi) of level k (NONE outside the lane)."""
        j0, row = self.level(k)
        a, b = j_lo - j0, j_hi - j0
        if a >= 0 and b <= len(row):
            return row[a:b]
        out = bytearray(max(0, min(-a, j_hi - j_lo)))
        out += row[max(a, 0):max(b, 0)]
        out += bytes(j_hi - j_lo - len(out))
        return out


class _View:
    """One view's cell edges, the summary level it would read (the coarsest with at least F buckets per cell; a lane
    whose finest level is coarser reads that one, if it still has two buckets per cell) and its grids."""

    def __init__(self, t0: float, dt: float, width: int):
        self.key = (t0, dt, width)
        self.edges = [t0 + c * dt for c in range(width + 1)]
        k = math.floor(math.log2(dt / F))
        while 2.0 ** k > dt / F:
            k -= 1
        while 2.0 ** (k + 1) <= dt / F:
            k += 1
        self.k = k
        self.grids: dict[int, _Grid] = {}


class _Grid:
    """A view laid over the buckets of level k (at least two per cell). Cell c holds buckets [ilo_c, ihi_c) wholly
    and touches those plus the bucket holding each of its edges, so for a lane's row of buckets:

        lower_c = max over [ilo_c, ihi_c)                 <= the exact cell
        upper_c = max(lower_c, edge_c, edge_c+1)          >= the exact cell

    The interior is covered by a few windows of p buckets (p a power of two); `bounds` computes the max over every
    window of p buckets of the row at once and picks each cell's windows, and the edge buckets, with `itemgetter`s
    built here, once per view and level, for every lane that reads level k."""

    def __init__(self, k: int, edges: list[float]):
        self.inv = inv = 2.0 ** -k
        floor, ceil = math.floor, math.ceil
        scaled = [e * inv for e in edges]  # exact: inv is a power of two
        at = list(map(floor, scaled))  # the bucket holding each edge
        ilo = list(map(ceil, scaled[:-1]))
        ihi = list(map(floor, scaled[1:]))
        self.j_lo = j_lo = at[0]
        self.j_hi = max(at[-1] + 1, ihi[-1])
        self.width = width = len(ilo)
        self.p, starts = _windows(ilo, ihi)
        self._edges = itemgetter(*[x - j_lo for x in at])
        self._inside = itemgetter(*[x - j_lo for column in starts for x in column])
        self._parts = range(width, width * len(starts), width)

    def bounds(self, r: bytes) -> tuple[bytes, bytes]:
        """Each cell's lower and upper bound (codes), from a lane's buckets r = [j_lo, j_hi) in thermometer codes.

        Read as one little-endian integer M, byte x of M >> 8i is r[x + i], so OR-ing shifted copies gives the max
        over every window at once (windows of 2p from two of p).
        """
        n = len(r)
        m = int.from_bytes(r, "little")
        p = 1
        while p < self.p:
            m |= m >> (8 * p)
            p *= 2
        picked = bytes(self._inside(m.to_bytes(n, "little")))
        w = self.width
        from_bytes = int.from_bytes
        inside = from_bytes(picked[:w], "little")
        for at in self._parts:
            inside |= from_bytes(picked[at:at + w], "little")
        edges = from_bytes(bytes(self._edges(r)), "little")
        touch = inside | edges | edges >> 8
        return (touch.to_bytes(w + 1, "little")[:w].translate(_FROM_THERM),
                inside.to_bytes(w, "little").translate(_FROM_THERM))


def _windows(lo: list[int], hi: list[int]) -> tuple[int, list[list[int]]]:
    """(p, starts): windows of p buckets (the largest power of two that fits in every [lo, hi)), starting at
    starts[i][c] for cell c, which together cover each cell's [lo, hi) without leaving it."""
    counts = [b - a for a, b in zip(lo, hi)]
    p = 1 << (min(counts).bit_length() - 1)
    starts = [lo, [b - p for b in hi]]
    for i in range(1, -(-max(counts) // p) - 1):  # more in between when a cell holds over 2p buckets
        starts.append([min(a + i * p, b - p) for a, b in zip(lo, hi)])
    return p, starts
