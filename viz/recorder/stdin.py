"""Reads from stdin: the reading task is `blocked` while it waits for a line, e.g. `input() on stdin (pipe)`.

`input()` and the reads of `sys.stdin` (`readline`, `read`, `readlines`, a `for line in sys.stdin`; its `buffer`
the same) wait until the other end writes or closes. `sys.stdin` becomes a thin stand-in that records those calls
and hands everything else to the real one, as output.py does for `sys.stdout`. A read that would not wait (a regular
file, /dev/null, a pipe or terminal with data already in it: processes.would_wait) records nothing. (Lines the
stream has already read ahead into its own buffer cannot be seen from outside it: such a read is recorded as a wait
as long as the call, microseconds.) Under gevent, an unpatched read holds the whole loop and is marked so
(BlockingHooks.blocking). `os.read(0, n)` is processes.py's.
"""

from __future__ import annotations

import builtins
import sys

from viz.recorder.processes import would_wait

_READS = ("read", "readline", "readlines")


def words(stream, call: str) -> str | None:
    """The reason of a read of `stream` that would wait, or None when it returns at once."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # closed, or a stream with no fd: nothing to say
        return None
    kind = would_wait(fd)
    return None if kind is None else f"{call} on stdin ({kind})"


class Stdin:
    """Stands in for sys.stdin: its reads are recorded, everything else is the real stream's."""

    def __init__(self, real, blocking, name: str = "sys.stdin"):
        self._viz_real = real
        for method in _READS:
            real_method = getattr(real, method, None)
            if real_method is not None:
                setattr(self, method, blocking(real_method, lambda a, k, m=method: words(real, f"{name}.{m}()")))
        self._next = blocking(real.__next__, lambda a, k: words(real, f"for line in {name}"))
        buffer = getattr(real, "buffer", None)
        self.buffer = Stdin(buffer, blocking, f"{name}.buffer") if buffer is not None and name == "sys.stdin" \
            else buffer

    def __iter__(self):
        return self

    def __next__(self):
        return self._next()

    def __getattr__(self, attr):
        return getattr(self._viz_real, attr)

    def __enter__(self):
        self._viz_real.__enter__()
        return self

    def __exit__(self, *exc):
        return self._viz_real.__exit__(*exc)


def install(hooks) -> None:
    real_input = builtins.input

    def input_words(a, k):
        stream = sys.stdin
        real = getattr(stream, "_viz_real", stream)
        return words(real, "input()")

    builtins.input = hooks.blocking(real_input, input_words)
    if sys.stdin is not None:
        sys.stdin = Stdin(sys.stdin, hooks.blocking)
