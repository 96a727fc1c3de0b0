"""Lengths of time in words a person reads at a glance, in units that fit them: '2.00 s', '501 ms', '12.3 µs'.

One formatter for every view, with no Textual in it: the text report of `viz record` / `viz show --text` uses it, and
the app can import it from here, so a task that ran for microseconds reads the same everywhere (never '0.000 s').
"""

from __future__ import annotations

_SMALL_UNITS = ((1e9, "ns"), (1e6, "µs"), (1e3, "ms"))


def fmt_duration(d: float) -> str:
    """A length of time in three significant figures: '2.00 s', '501 ms', '12.3 µs', '0 s' for none.

    The unit is chosen after rounding, so 999.7 ms reads '1.00 s', not '1e+03 ms'.
    """
    if d <= 0:
        return "0 s"
    for scale, unit in _SMALL_UNITS:
        if d * scale < 999.5:  # below this, three significant figures still round under 1000 of the unit
            return f"{d * scale:.3g} {unit}"
    return f"{d:.2f} s"
