"""The status bar above the timeline: which run, how it ended (or that it is live), and the playhead's state (after a
step, the event it landed on, and its time with the digits that tell it from where the step started)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from viz.app.outcome import describe
from viz.app.playback import Playback, speed_label
from viz.app.timescale import fmt_instant
from viz.trace.model import Trace


class StatusBar(Widget):
    COMPONENT_CLASSES = {"status--name", "status--live", "status--ok", "status--warning", "status--error",
                         "status--play", "status--dim"}

    def __init__(self, trace: Trace, name: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace
        self.run_name = name
        self.playback: Playback | None = None
        self.live = False
        self.event: Text | None = None
        self._key: tuple | None = None

    def show(self, playback: Playback, live: bool, event: Text | None = None) -> None:
        """Show the playhead's state; `event`: what happened where a step landed."""
        self.playback, self.live, self.event = playback, live, event
        key = (playback.t, playback.playing, playback.speed_index, playback.following, live, self.trace.exit is None,
               round(self.trace.duration, 1) if live else None, playback.stepped, str(event))
        if key != self._key:
            self._key = key
            self.refresh()

    def render(self) -> Table:
        style = self.get_component_rich_style
        left = Text(no_wrap=True, overflow="ellipsis")
        left.append(" viz · ", style=style("status--dim"))
        left.append(self.run_name, style=style("status--name"))
        text, level = describe(self.trace, self.live)
        left.append("   ")
        left.append(text, style=style(f"status--{level}"))
        right = Text(no_wrap=True, justify="right")
        pb = self.playback
        if pb is not None:
            if self.event is not None:
                event = self.event.copy()
                event.truncate(max(16, self.size.width // 3), overflow="ellipsis")
                right.append_text(event)
                right.append(" · ", style=style("status--dim"))
            if pb.following:
                right.append("● following live", style=style("status--live"))
            else:
                right.append("▶ playing" if pb.playing else "❚❚ paused", style=style("status--play"))
            right.append(f" · {speed_label(pb.speed)} · ", style=style("status--dim"))
            right.append(fmt_instant(pb.t, pb.stepped) + " ", style=style("status--play"))
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(left, right)
        return grid
