"""The help screen: every key, what the colours mean, and what the summary's numbers are."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from viz import native

KEYS = (
    ("space", "play / pause (at the end: play again from the start)"),
    ("→ / ←", "step to the next / previous event: any task's state change or printed line"),
    ("home / end", "jump to the start / end (end follows a live run again)"),
    ("+ / -", "zoom in / out around the playhead"),
    ("f", "fit the whole run"),
    ("[ / ]", "slower / faster (1x = real time)"),
    ("↑ / ↓", "select a lane: its span, source line and totals show below"),
    (". / ,", "step to the selected lane's next / previous event (its own state changes only)"),
    ("w", "jump to what woke the selected span: the playhead to that moment, the waker's lane selected (a line "
          "on the timeline joins the two lanes there); w again walks on along the chain of causes"),
    ("W / backspace", "back along the chain of causes walked with w"),
    ("click", "move the playhead there (and select that lane); drag to scrub"),
    ("wheel", "scroll the lanes (shift+wheel or a sideways wheel: move along the time axis)"),
    ("s", "save the trace to a file in the current directory"),
    ("H", "hide the helpers' lanes (VIZ_HELPERS, those h marked, and what they started); H again shows them"),
    ("( / )", "the summary covers a range: from / to the playhead (the same key at the same moment unmarks)"),
    ("t", "the guided tour: the scenario's lessons as stops on the timeline (t again ends it)"),
    ("n / p", "the tour's next / previous stop (page down / page up too, as a presenter's remote sends)"),
    ("P", "predict: the future is hidden; guess which lane runs next with its number key (1-9), see the answer, "
          "keep score (P again ends it)"),
    ("B", "breakpoints: pause playing when a call blocks the whole loop, when the selected lane changes state, or "
          "when a printed line contains a text"),
    ("m / '", "bookmark the playhead's moment (m on a bookmark removes it) / jump to the next bookmark"),
    ("o / e", "the output / the source panel over the whole screen (again, or esc, to bring it back)"),
    ("c", "high contrast, for a projector or a large font (c again: the theme before)"),
    ("h", "mark the selected task as a helper: the verdict (the summary's first line) leaves it out, with the "
          "tasks it started; h again counts it"),
    ("!", "findings: what went wrong (a call that held the loop, a long run, lock contention, starvation, serial "
          "I/O), each with its line and a fix; enter jumps to it"),
    ("x", "stop the running program"),
    ("esc", "the scenarios: back to the list a run was picked from (it stops), or, for a run opened from the "
            "command line, the list on top of it (esc there comes back)"),
    ("?", "this help"),
    ("q", "quit"),
)

STATES = (
    ("running", "the task's own code is executing"),
    ("ready", "it could run but waits for its turn (the loop is busy elsewhere, or blocked)"),
    ("blocked", "it waits for something: a timer, a socket, another task, a join"),
    ("blocks the whole loop", "a blocking call inside the event loop's thread: no other task can run"),
    ("idle", "the loop itself has nothing to run and waits for timers or sockets"),
)


COMPARE_KEYS = (
    ("space", "play / pause every run at once, on the shared time axis"),
    ("→ / ←", "step to the next / previous event of any run"),
    ("home / end", "jump to the start / end"),
    ("+ / -", "zoom in / out around the playhead"),
    ("f / a", "fit every run's counted work / fit everything, start-up included"),
    ("w", "count time from each run's start, or from the start of its counted work (the verdict's span)"),
    ("[ / ]", "slower / faster"),
    ("↑ / ↓", "choose a row (a run's header or one of its lanes): the panels show that run at the playhead, in its "
              "own time: the lane's span and totals, its task's source line, and what the run printed so far"),
    ("t", "the comparison table (each run's figures, each task's time in every run) in place of the panels; t "
          "again brings the panels back"),
    ("pgdn / pgup", "scroll the comparison table (while it is shown)"),
    ("o / e", "the selected run's output / the source over the whole screen (again, or esc, to bring it back)"),
    ("esc", "back (first, a panel over the whole screen comes back)"),
    ("?", "this help"),
    ("q", "quit"),
)


class HelpScreen(ModalScreen):
    """Every key (those of the run screen, or `keys` given: the compare screen's), the states and the summary."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, keys: tuple = KEYS) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for key, what in self.keys:
            keys.add_row(key, what)
        states = Table.grid(padding=(0, 2))
        states.add_column(style="bold", no_wrap=True)
        states.add_column()
        for name, what in STATES:
            states.add_row(name, what)
        with VerticalScroll(id="help-body") as body:
            body.border_title = "viz help  (esc to close)"
            yield Static(Text("Keys", style="bold underline"))
            yield Static(keys)
            yield Static(Text("\nStates", style="bold underline"))
            yield Static(states)
            yield Static(Text.from_markup(
                "\n[b u]Summary[/]\n"
                "The [b]verdict[/] (its first line, and the factor in its title) sets the program's own tasks' "
                "running and blocked time against the time that work spans: \"3.50 s of waiting done in 2.00 s: "
                "1.8x\" means the waits overlapped; 1.0x means they took turns. It leaves out the event loop, a task "
                "that only waits for the tasks it started (main in joinall), and helpers that stand in for the world "
                "outside (a script lists them in VIZ_HELPERS; h marks one more).\n"
                "[b]loop[/] is the part of a task's blocked time spent in calls that blocked the whole loop."))
            yield Static(Text.assemble(("\nBuild\n", "bold underline"), native.report()))

    def action_dismiss(self) -> None:
        self.dismiss()
