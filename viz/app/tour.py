"""The guided tour in the app: a caption over the timeline, the playhead on each stop's moment (viz.views.tour)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from viz.scenarios import find_scenario, read_tour
from viz.trace.model import Trace
from viz.views.durations import fmt_duration
from viz.views.tour import Placed, Stop, TourError, parse, place


def tour_of(trace: Trace, run_name: str) -> list[Stop]:
    """The run's tour: the one its trace carries, else its scenario's (a trace saved before tours existed); []
    when it has none. A broken tour file raises TourError with a one-line message."""
    text = trace.header.get("tour")
    if not isinstance(text, str):
        scenario = find_scenario(str(trace.header.get("target") or run_name))
        text = read_tour(scenario.path) if scenario is not None else None
    return parse(text, f"the tour of {run_name}") if text else []


class TourCaption(Static):
    """`stop 2 of 4 · 2.05 s  Only when fun wakes can inner run, …` (hidden while no tour is on)."""

    def show_stop(self, placed: Placed, index: int, count: int) -> None:
        text = Text()
        text.append(f" stop {index + 1} of {count} ", style="reverse bold")
        when = "not reached in this run" if placed.t is None else fmt_duration(placed.t)
        text.append(f" {when}  ", style="dim")
        text.append(placed.stop.caption, style="bold")
        text.append("   n next · p back · t end the tour", style="dim")
        self.update(text)
        self.display = True


class Tour:
    """Which stop the tour is at; `placed` is computed again as a live run reaches more stops."""

    def __init__(self, stops: list[Stop]) -> None:
        self.stops = stops
        self.index = -1

    @property
    def on(self) -> bool:
        return self.index >= 0

    def go(self, trace: Trace, by: int) -> tuple[Placed, int] | None:
        """Move `by` stops (from off: to the first); None past either end."""
        index = 0 if self.index < 0 else self.index + by
        if not 0 <= index < len(self.stops):
            return None
        self.index = index
        return place([self.stops[index]], trace)[0], index

    def end(self) -> None:
        self.index = -1


__all__ = ["Tour", "TourCaption", "TourError", "tour_of"]
