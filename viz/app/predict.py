"""Predict the next task: the future is hidden, and at each turn the class guesses which lane runs next (a number
key); the answer is revealed, the playhead moves to it, and the score is kept (P starts and ends it)."""

from __future__ import annotations

from bisect import bisect_right

from rich.text import Text
from textual.widgets import Static

from viz.trace.model import LOOP_KIND, STATE_CODE, Lane, Trace

RUNNING = STATE_CODE["running"]
CHOICES = 9


def next_turn(trace: Trace, t: float) -> tuple[float, Lane] | None:
    """The next moment after t at which a task (not a loop) starts running, and that task; None when none does."""
    best: tuple[float, Lane] | None = None
    for lane in trace.lanes:
        if lane.kind == LOOP_KIND:  # a loop runs between every two tasks: the question is which task it hands over to
            continue
        starts, states = lane.starts, lane.states
        for i in range(bisect_right(starts, t), len(starts)):
            if best is not None and starts[i] >= best[0]:
                break
            if states[i] == RUNNING and (i == 0 or states[i - 1] != RUNNING):
                best = (starts[i], lane)
                break
    return best


class Predict:
    """The game's state: the choices offered at the playhead, the answer, the score."""

    def __init__(self) -> None:
        self.right = self.asked = 0
        self.choices: list[Lane] = []
        self.answer: tuple[float, Lane] | None = None

    def ask(self, trace: Trace, t: float, order: list[Lane]) -> bool:
        """Set up the question at t; False when no task runs after t (the game is over)."""
        self.answer = next_turn(trace, t)
        if self.answer is None:
            return False
        alive = [lane for lane in order if lane.kind != LOOP_KIND and lane.starts and lane.starts[0] <= t
                 and (lane.ended is None or lane.ended > t)]
        newcomer = self.answer[1]
        if newcomer not in alive:  # a task that starts right then: offer it too, or the question has no answer
            alive.append(newcomer)
        self.choices = alive[:CHOICES]
        return True

    def guess(self, number: int) -> tuple[bool, Lane, float] | None:
        """Score guess `number` (1-based); (right?, the task that ran, when); None for a number not offered."""
        if self.answer is None or not 1 <= number <= len(self.choices):
            return None
        t, lane = self.answer
        right = self.choices[number - 1] is lane
        self.asked += 1
        self.right += right
        return right, lane, t


class PredictBar(Static):
    """The question, the choices with their numbers, and the score (hidden while the game is off)."""

    def show_question(self, game: Predict, verdict: Text | None = None) -> None:
        text = Text()
        text.append(" predict ", style="reverse bold")
        text.append(f" score {game.right}/{game.asked}  ", style="dim")
        if verdict is not None:
            text.append_text(verdict)
            text.append("  ")
        text.append("Who runs next?  ", style="bold")
        for i, lane in enumerate(game.choices, start=1):
            text.append(f"{i}", style="reverse")
            text.append(f" {lane.name}   ")
        text.append("P ends the game", style="dim")
        self.update(text)
        self.display = True

    def show_over(self, game: Predict, verdict: Text | None) -> None:
        text = Text()
        text.append(" predict ", style="reverse bold")
        if verdict is not None:
            text.append(" ")
            text.append_text(verdict)
        text.append(f"  The run is over: {game.right} of {game.asked} right.  P ends the game", style="bold")
        self.update(text)
        self.display = True
