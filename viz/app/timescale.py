"""Time on the screen: which cell shows which instant, where the axis ticks go, and how times are written.

Pure arithmetic, no Textual: the timeline widget, its tests and the rendering benchmark all share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_NICE = (1.0, 2.0, 5.0)


def nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 x 10^k that is at least `raw` (the spacing of axis ticks, the cell width when live)."""
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    exp = math.floor(math.log10(raw))
    for m in _NICE + (10.0,):
        step = m * 10.0 ** exp
        if step >= raw * (1 - 1e-9):
            return step
    return 10.0 ** (exp + 1)


@dataclass(frozen=True)
class View:
    """The stretch of time the timeline shows: cell x covers [t0 + x*dt, t0 + (x+1)*dt)."""

    t0: float
    dt: float
    width: int

    @property
    def t1(self) -> float:
        return self.t0 + self.dt * self.width

    def cell_of(self, t: float) -> int:
        """The cell that shows instant t (may be outside 0..width-1)."""
        return math.floor((t - self.t0) / self.dt + 1e-9)

    def time_at(self, x: int) -> float:
        """The instant a click on cell x means: the middle of the cell."""
        return self.t0 + (x + 0.5) * self.dt

    def shows(self, t: float) -> bool:
        return 0 <= self.cell_of(t) < self.width

    def zoomed(self, factor: float, around: float, min_dt: float = 1e-7) -> "View":
        """Cells `factor` times wider in time, keeping instant `around` in the same column."""
        dt = max(self.dt * factor, min_dt)
        x = (around - self.t0) / self.dt
        return View(around - x * dt, dt, self.width)

    def panned_to(self, t: float, at: float = 0.25) -> "View":
        """The same zoom, moved so instant t sits `at` of the way across."""
        return View(t - self.width * at * self.dt, self.dt, self.width)


def fit(start: float, end: float, width: int) -> View:
    """A view showing [start, end] across `width` cells (the last cell holds the end)."""
    width = max(1, width)
    span = max(end - start, 1e-6)
    return View(start, span / max(1, width - 1), width)


def ticks(view: View, min_gap: int = 12) -> tuple[float, list[tuple[int, float]]]:
    """The tick spacing and (cell, time) of each axis tick: round times at least `min_gap` cells apart."""
    step = nice_step(view.dt * min_gap)
    k = math.ceil(view.t0 / step - 1e-9)
    out = []
    while True:
        t = k * step
        x = view.cell_of(t)
        if x >= view.width:
            break
        if x >= 0:
            out.append((x, t))
        k += 1
    return step, out


def fmt_time(t: float, resolution: float) -> str:
    """An instant, with as many decimals as `resolution` (seconds) needs: '1.5 s', '8.25 ms'."""
    if abs(t) < 1e-12:
        t = 0.0
    if resolution >= 1e-3 or abs(t) >= 0.1:
        decimals = min(9, max(0, math.ceil(-math.log10(resolution) - 1e-9)))
        return f"{t:.{decimals}f} s"
    decimals = min(6, max(0, math.ceil(-math.log10(resolution * 1000) - 1e-9)))
    return f"{t * 1000:.{decimals}f} ms"


def fmt_instant(t: float, moved: float | None = None) -> str:
    """The playhead's time: fine enough to tell stepped events apart, and (after a move of `moved` seconds) to tell
    where it is from where it was."""
    resolution = 1e-4 if abs(t) >= 0.01 else 1e-6
    if moved is not None and moved > 0:
        resolution = min(resolution, max(1e-9, 10.0 ** math.floor(math.log10(moved))))
    return fmt_time(t, resolution)


