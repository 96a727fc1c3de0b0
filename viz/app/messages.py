"""Messages the live feed thread sends to the run screen."""

from __future__ import annotations

from textual.message import Message


class FeedBatch(Message):
    """New trace records from the running program; `done` on the last batch (the run has ended)."""

    def __init__(self, records: list[dict], done: bool) -> None:
        super().__init__()
        self.records = records
        self.done = done
