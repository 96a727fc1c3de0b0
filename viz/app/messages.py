"""Messages from the live feed's reader thread to the run screen."""

from __future__ import annotations

from textual.message import Message


class RecordsWaiting(Message):
    """New trace records (or the end of the run) wait in the live feed: fold them on the app thread."""
