"""Messages between the live feed thread and the run screen."""

from __future__ import annotations

from textual.message import Message


class RecordsWaiting(Message):
    """New trace records (or the end of the run) wait in the run screen's inbox: drain it on the app thread."""
