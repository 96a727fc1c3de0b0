"""Guided tours: a scenario's "Watch for" as a series of stops, each anchored to an event of the run.

A tour is a small TOML file next to its script, `NAME.tour.toml` beside `NAME.py` (every scenario has one; any
user script can). Each `[[stop]]` has a `caption` and an anchor that finds its moment in whatever run is shown, so
the same tour fits every recording of the script:

    [[stop]]
    caption = "fun calls time.sleep(2): the whole loop stops; inner and outer are ready but cannot run"
    task = "fun"              # the lane: its name, or a shell-style pattern ("func(*python*")
    state = "blocked"         # a span of that lane in this state ...
    reason = "time.sleep(2)*" # ... whose reason matches (optional)
    nth = 1                   # the first such span (default), 2 for the second, -1 for the last
    at = "start"              # its start (default) or "end"

or `output = "time spent*"` (the moment a line matching this was printed), or `t = 1.5` (seconds). The session
copies the file into the trace's header (`tour`), so a saved trace keeps its tour. Plain Python, no Textual.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase

from viz.trace.model import Trace

STATES = ("running", "ready", "blocked", "idle")


class TourError(ValueError):
    """A tour file that cannot be used: the message names the file and the stop."""


@dataclass(frozen=True)
class Stop:
    caption: str
    task: str | None = None
    state: str | None = None
    reason: str | None = None
    output: str | None = None
    t: float | None = None
    nth: int = 1
    at: str = "start"


@dataclass(frozen=True)
class Placed:
    """A stop and where it falls in one run: its moment and lane, or None while the run has not reached it."""

    stop: Stop
    t: float | None
    task: int | None


def parse(text: str, name: str = "tour") -> list[Stop]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TourError(f"{name}: {e}") from None
    stops = doc.get("stop")
    if not isinstance(stops, list) or not stops:
        raise TourError(f"{name}: no [[stop]] in it")
    return [_stop(raw, f"{name}, stop {i}") for i, raw in enumerate(stops, start=1)]


def _stop(raw: dict, where: str) -> Stop:
    known = set(Stop.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise TourError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(known))})")
    caption = raw.get("caption")
    if not isinstance(caption, str) or not caption.strip():
        raise TourError(f"{where}: a stop needs a caption")
    for key in ("task", "state", "reason", "output", "at"):
        if key in raw and not isinstance(raw[key], str):
            raise TourError(f"{where}: {key} must be text")
    if raw.get("state") is not None and raw["state"] not in STATES:
        raise TourError(f"{where}: state must be one of {', '.join(STATES)}")
    if raw.get("at", "start") not in ("start", "end"):
        raise TourError(f"{where}: at must be \"start\" or \"end\"")
    t, nth = raw.get("t"), raw.get("nth", 1)
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0):
        raise TourError(f"{where}: t must be a number of seconds")
    if isinstance(nth, bool) or not isinstance(nth, int) or nth == 0:
        raise TourError(f"{where}: nth must be a whole number other than 0")
    if t is None and raw.get("task") is None and raw.get("output") is None:
        raise TourError(f"{where}: a stop needs an anchor: task (with state or reason), output, or t")
    return Stop(**{**raw, "t": None if t is None else float(t)})


def place(stops: list[Stop], trace: Trace) -> list[Placed]:
    return [_place(stop, trace) for stop in stops]


def _place(stop: Stop, trace: Trace) -> Placed:
    if stop.output is not None:
        hits = [o for o in trace.outputs if fnmatchcase(o.text, stop.output)]
        hit = _nth(hits, stop.nth)
        return Placed(stop, hit.t, hit.task) if hit is not None else Placed(stop, stop.t, None)
    if stop.task is None:
        return Placed(stop, stop.t if stop.t is None or stop.t <= trace.duration else None, None)
    # A pattern can match several lanes: their spans count together, in time order, so "task *" with nth = 3 is
    # the third time any task got there, whichever lane it was.
    lanes = [lane for lane in trace.lanes if fnmatchcase(lane.name, stop.task)]
    if stop.state is None and stop.reason is None:
        hit = _nth(sorted(lanes, key=lambda lane: lane.created), stop.nth)
        return Placed(stop, hit.created, hit.task) if hit is not None else Placed(stop, None, None)
    spans = sorted(((s, lane) for lane in lanes for s in trace.spans(lane)
                    if (stop.state is None or s.state == stop.state)
                    and (stop.reason is None or fnmatchcase(s.reason or "", stop.reason))),
                   key=lambda pair: pair[0].start)
    hit = _nth(spans, stop.nth)
    if hit is None:
        return Placed(stop, None, None)
    span, lane = hit
    return Placed(stop, span.end if stop.at == "end" else span.start, lane.task)


def _nth(items: list, nth: int):
    if nth > 0:
        return items[nth - 1] if len(items) >= nth else None
    return items[nth] if len(items) >= -nth else None
