"""The pace of a live run on screen: when the app's thread folds records, for how long, and when it redraws.

The records come ready-made from the ingest process (viz.app.feed); folding them into the Trace, redrawing, and
answering keys all happen on the app's one thread. `LivePace` shares that thread out: folding goes in slices of at
most FOLD_BUDGET, each followed by a rest of FOLD_REST times its length (so keys and redraws find the thread free
between slices however fast records come), a trickle of frames waits a moment for more (a fold ends by writing the
columns of every lane it touched), nothing is folded or redrawn for a moment after a key or a click (the action and
its redraw go first), and redraws are spaced out as they get dearer. It only keeps times and makes decisions: the run
screen does the work. All times are time.monotonic(). No Textual here.
"""

from __future__ import annotations

LIVE_REFRESH = 0.1       # s: at most 10 redraws a second while records stream in
LIVE_SPACING = 4         # ...and at most one per 4x the time the last one took to prepare and paint
PAINT_FACTOR = 2         # the screen's painting of a redraw, as a multiple of the timeline's own render_line time
FOLD_BUDGET = 0.01       # s: the longest the app's thread folds records in one go before keys and redraws get it
FOLD_REST = 0.1          # after folding, the thread is left to the rest this many times as long as the folding took
FOLD_EVERY = 0.05        # s: while few records wait, a fold starts at most this often: each fold ends by writing the
                         # columns of every lane it touched, so with a thousand lanes, a frame a fold would cost most
FOLD_BATCH = 20          # ...and this many frames waiting (40,000 records) are folded at once all the same
INPUT_HOLD = 0.03        # s: no folding or redrawing after a key press or a click while records stream in
INPUT_STREAK = 0.5       # s: input that keeps coming (a streak) holds them this long at most...
STREAK_GAP = 0.1         # s: ...input with no gap this long being one streak (a held key repeats every 25-40 ms)
KEEP_HEIGHT = 1.5        # s: after a key press or a click, new lanes scroll the timeline rather than make it taller
CATCH_UP_EVERY = 0.2     # s: while records stream in, the summary's totals are extended at most this often
LIVE_PANELS = 0.5        # s: details / summary / source redraws while records stream in (the timeline: LIVE_REFRESH)


class LivePace:
    def __init__(self) -> None:
        self.rest_until = 0.0  # no folding before then: the thread is left to keys and redraws
        self.last_fold = float("-inf")  # when the last fold started
        self.input_until = 0.0  # no folding or redrawing before then: the user is acting
        self.next_redraw = 0.0
        self.next_catch_up = 0.0
        self._streak_since = self._last_input = float("-inf")

    def user_input(self, now: float) -> None:
        """A key press or click is being handled: folding and redrawing wait INPUT_HOLD, so its action and its
        redraw go first. Input that keeps coming (a held key repeating, a scroll wheel) holds them for its first
        INPUT_STREAK seconds only: the records must keep flowing, or the program would soon wait on a full pipe."""
        if now - self._last_input > STREAK_GAP:
            self._streak_since = now  # a new streak of input
        self._last_input = now
        if now - self._streak_since <= INPUT_STREAK:
            self.input_until = max(self.input_until, now + INPUT_HOLD)

    def fold_wait(self, now: float, waiting: int = FOLD_BATCH) -> float:
        """Seconds before folding may start (0: now), with `waiting` frames waiting: fewer than FOLD_BATCH wait for
        more until FOLD_EVERY has passed since the last fold started."""
        rest = self.rest_until - now
        if waiting < FOLD_BATCH:
            rest = max(rest, self.last_fold + FOLD_EVERY - now)
        return max(0.0, rest, self.input_until - now)

    def fold_deadline(self, now: float) -> float:
        return now + FOLD_BUDGET

    def folded(self, started: float, ended: float) -> float:
        """Folding ran from `started` to `ended`: the seconds to rest before the next."""
        self.last_fold = started
        self.rest_until = ended + FOLD_REST * (ended - started)
        return self.rest_until - ended

    def catch_up_due(self, now: float) -> bool:
        """The summary's running totals may be extended now (they grow with the records, not all at once later)."""
        if max(self.next_catch_up, self.input_until) > now:
            return False
        self.next_catch_up = now + CATCH_UP_EVERY
        return True

    def redraw_due(self, now: float) -> bool:
        return now >= self.next_redraw and now >= self.input_until

    def redrew(self, started: float, ended: float, painted: float) -> None:
        """A redraw was prepared from `started` to `ended`, and the last one's painting took `painted` s of the
        timeline's own drawing: space them so preparing and painting take at most about a quarter of the thread
        (Textual's compositing about doubles the timeline's own painting)."""
        cost = ended - started + PAINT_FACTOR * painted
        self.next_redraw = started + max(LIVE_REFRESH, LIVE_SPACING * cost)
