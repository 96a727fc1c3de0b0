"""The state record: one task stepping into a state at a moment, the bulk of every trace.

One type for every stage that handles it: the deriver (viz.ingest.derive and its C twin) makes them, the model
(viz.trace.model) and its C fold read them, the file scanner (viz.trace.format, C: scan_block) makes them from the
lines of a saved trace, and the writer turns them into the file's JSON objects (`to_json`). The C modules build
instances of this very class (viz/trace/record.h) and refuse to load if its fields differ from what they expect.

It is a named tuple rather than a dict or a dataclass: a million of them must stay small and quick to make. Its first
field is the record kind, "state", as in the file (`"k": "state"`), so a stream of records mixing state records and
the other kinds (plain dicts: task, output, end, note, source, exit) is told apart by `type(rec) is StateRecord`.
"""

from __future__ import annotations

from typing import NamedTuple


class StateRecord(NamedTuple):
    k: str                    # always "state"
    t: float                  # seconds since the run began
    task: int
    state: str                # running, ready, blocked or idle
    reason: str | None        # why, in the program's words: "gevent.sleep(2)", "fd 7 readable"
    file: str | None
    line: int | None          # where the task is
    blocks_loop: bool         # the call holds a whole event loop: no other task of that loop can run

    def to_json(self) -> dict:
        """The record as the file writes it (fields that are None or False are left out)."""
        d = {"k": "state", "t": self.t, "task": self.task, "state": self.state}
        if self.reason is not None:
            d["reason"] = self.reason
        if self.file is not None:
            d["file"] = self.file
        if self.line is not None:
            d["line"] = self.line
        if self.blocks_loop:
            d["blocks_loop"] = True
        return d

    @classmethod
    def from_json(cls, d: dict) -> "StateRecord":
        """The record of a state object read from a file (or written by hand, as tests and tools do)."""
        return cls("state", d["t"], d["task"], d["state"], d.get("reason"), d.get("file"), d.get("line"),
                   bool(d.get("blocks_loop")))


Record = StateRecord | dict  # a trace record of any kind: state records, and the others as the file's dicts


def record_time(rec: Record) -> float | None:
    """The time of a record of any kind (None for a source record, which has none)."""
    return rec.t if type(rec) is StateRecord else rec.get("t")
