"""The kinds of finding (viz.views.diagnostics) and the thresholds that make one count, in milliseconds.

Apart from the diagnostics and light to import: `viz record` checks its --threshold and --fail-on options, and
prints them in its help, before the program's first line, and the diagnostics' imports (the trace model) would
delay that line by 25 ms.
"""

from __future__ import annotations

THRESHOLDS = {"loop-blocked": 20.0, "long-run": 50.0, "lock-contention": 50.0, "starved": 100.0,
              "serial-io": 100.0}
KINDS = tuple(THRESHOLDS)


def parse_thresholds(items: list[str] | None) -> dict[str, float]:
    """`["loop-blocked=50", "starved=200"]` over the defaults; ValueError with a one-line message when wrong."""
    out = dict(THRESHOLDS)
    for item in items or ():
        kind, sep, ms = item.partition("=")
        if kind not in THRESHOLDS or not sep:
            raise ValueError(f"{item!r}: expected KIND=MS with KIND one of {', '.join(KINDS)}")
        try:
            value = float(ms)
        except ValueError:
            raise ValueError(f"{item!r}: {ms!r} is not a number of milliseconds") from None
        if value < 0:
            raise ValueError(f"{item!r}: a threshold cannot be negative")
        out[kind] = value
    return out
