"""Output capture: sys.stdout / sys.stderr replaced by writers that tag each finished line with the task that wrote it.

Partial lines are buffered per task, so two tasks printing half-lines in turn do not mix. Each line is sent with its
time, task, stream and source line; ANSI colour codes are kept as they are. Very long lines are cut into pieces the
trace format accepts.
"""

from __future__ import annotations

import io
import sys

from viz import protocol
from viz.recorder.callsite import caller
from viz.protocol import MAX_TEXT_CHARS


class TaskWriter(io.TextIOBase):
    def __init__(self, rec, stream: str, fd: int):
        self.rec = rec
        self.stream = stream
        self._fd = fd
        self._partial: dict[int, str] = {}
        self.buffer = _BinaryFacade(self)

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, s) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        rec = self.rec
        try:
            tid = rec.output_task or rec.current_task()
            text = self._partial.pop(tid, "") + s
            if "\n" in text:
                *lines, rest = text.split("\n")
                frame = caller(1)
                file, line = rec.sites.where(frame)
                t = rec.now()
                for ln in lines:
                    for i in range(0, max(len(ln), 1), MAX_TEXT_CHARS):
                        rec.emit((protocol.TASK_OUTPUT, t, tid, self.stream, ln[i:i + MAX_TEXT_CHARS], file, line))
                text = rest
            if text:
                if len(text) > MAX_TEXT_CHARS:
                    self._emit(tid, text)
                else:
                    self._partial[tid] = text
        except Exception:
            rec.hook_error("output capture")
        return len(s)

    def _emit(self, tid: int, text: str) -> None:
        rec = self.rec
        t = rec.now()
        for i in range(0, len(text), MAX_TEXT_CHARS):
            rec.emit((protocol.TASK_OUTPUT, t, tid, self.stream, text[i:i + MAX_TEXT_CHARS], None, None))

    def flush(self) -> None:
        pass

    def finish(self) -> None:
        """Send the partial lines left at exit."""
        for tid, text in list(self._partial.items()):
            if text:
                self._emit(tid, text)
        self._partial.clear()


class _BinaryFacade:
    """`sys.stdout.buffer`, for scripts that write bytes."""

    def __init__(self, writer: TaskWriter):
        self._w = writer

    def write(self, b) -> int:
        self._w.write(bytes(b).decode("utf-8", "replace"))
        return len(b)

    def flush(self) -> None:
        pass


def install(rec) -> tuple[TaskWriter, TaskWriter]:
    out, err = TaskWriter(rec, "stdout", 1), TaskWriter(rec, "stderr", 2)
    sys.stdout, sys.stderr = out, err
    return out, err
