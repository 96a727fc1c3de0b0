"""The playhead and how it moves: play at a chosen speed, pause, step between events, seek, follow a live run.

Pure logic on a Trace (no Textual): the run screen calls `tick(now)` from a timer while playing and redraws when it
returns True. Time is real time x speed, measured from the last tick, so skipped timer ticks do not slow playback.
"""

from __future__ import annotations

from viz.trace.model import Trace

# Playback speeds, slowest first; 1.0 is real time. Runs last milliseconds to seconds, so the range is wide.
SPEEDS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
REAL_TIME = SPEEDS.index(1.0)


def speed_label(speed: float) -> str:
    """'1x', '2x', '1/100x'."""
    if speed >= 1:
        return f"{speed:g}x"
    return f"1/{round(1 / speed):g}x"


def first_time(trace: Trace) -> float:
    """When the first task state was recorded."""
    firsts = [lane.starts[0] for lane in trace.lanes if lane.starts]
    return min(firsts) if firsts else 0.0


def activity_start(trace: Trace) -> float:
    """When the run starts doing something worth watching: the first change after the first task began running.

    Before it there is only the main program starting up (imports, definitions), which can be most of a short run.
    """
    firsts = sorted(lane.starts[0] for lane in trace.lanes if lane.starts)
    if not firsts:
        return 0.0
    candidates = firsts[1:2] + [lane.starts[1] for lane in trace.lanes if len(lane.starts) > 1]
    return min(candidates) if candidates else firsts[0]


def window(trace: Trace) -> tuple[float, float]:
    """The stretch of time "the whole run" means for fitting and for home: from just before the activity starts."""
    end = trace.duration
    start = activity_start(trace)
    start = max(first_time(trace), start - 0.02 * (end - start))
    return start, max(end, start)


def comfortable_speed(trace: Trace, seconds: float = 2.0) -> int:
    """The fastest speed (index) at or below real time that takes at least `seconds` to play the run."""
    start, end = window(trace)
    length = end - start
    for i in range(REAL_TIME, -1, -1):
        if length / SPEEDS[i] >= seconds:
            return i
    return 0


class Playback:
    """Where the playhead is, whether it moves, how fast, and whether it follows a live run's newest time."""

    def __init__(self, trace: Trace, live: bool = False):
        self.trace = trace
        self.t = trace.duration if not live else 0.0
        self.playing = False
        self.speed_index = REAL_TIME if live else comfortable_speed(trace)
        self.following = live  # keep the playhead on the newest time until the user moves it
        self.speed_chosen = False  # the user picked a speed: keep it when a live run ends
        self._last: float | None = None
        self.stepped: float | None = None  # how far the last move was, when it was a step to an event

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    @property
    def start(self) -> float:
        return window(self.trace)[0]

    @property
    def end(self) -> float:
        return self.trace.duration

    # ---- moving ---------------------------------------------------------------------------------------------
    def seek(self, t: float) -> None:
        """Put the playhead at t (clamped to the run); the user took over, so stop following."""
        self.t = min(max(t, 0.0), self.end)
        self.following = False
        self.stepped = None
        if self.playing:
            self._last = None

    def step(self, direction: int) -> bool:
        """To the next (+1) or previous (-1) event: any task's state change or output line. Pauses playback."""
        self.pause()
        t = self.trace.next_step(self.t) if direction > 0 else self.trace.prev_step(self.t)
        if t is None:
            return False
        before = self.t
        self.seek(t)
        self.stepped = abs(t - before)
        return True

    def home(self) -> None:
        self.pause()
        self.seek(self.start)

    def end_(self) -> None:
        """To the end; while live, follow the newest time again."""
        self.pause()
        self.stepped = None
        self.t = self.end
        self.following = not self.trace.finished

    def faster(self, by: int = 1) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + by))
        self.speed_chosen = True

    def run_ended(self) -> None:
        """A live run is over: unless the user chose a speed, pick one that makes the replay watchable."""
        if not self.speed_chosen:
            self.speed_index = comfortable_speed(self.trace)

    # ---- playing --------------------------------------------------------------------------------------------
    def toggle(self, now: float) -> None:
        if self.playing:
            self.pause()
        else:
            self.play(now)

    def play(self, now: float) -> None:
        if self.t >= self.end and self.trace.finished:
            self.t = self.start  # at the end: play again from the start
        self.playing = True
        self.following = False
        self.stepped = None
        self._last = now

    def pause(self) -> None:
        self.playing = False
        self._last = None

    def tick(self, now: float) -> bool:
        """Advance by the real time since the last tick x speed; True if the playhead moved."""
        if self.following:
            moved = self.t != self.end
            self.t = self.end
            if self.trace.finished:
                self.following = False  # the run is over: nothing newer will come
            return moved
        if not self.playing:
            return False
        last = self._last if self._last is not None else now
        self._last = now
        t = self.t + (now - last) * self.speed
        if t >= self.end:
            t = self.end
            if self.trace.finished:
                self.pause()
            else:
                self.playing = False  # caught up with a live run: follow it from here
                self.following = True
        moved = t != self.t
        self.t = t
        return moved
