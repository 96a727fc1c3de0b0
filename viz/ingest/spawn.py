"""How the viewer spawns the recorder child: its environment and its event pipe (for `Session` and `HeldChild`).

Kept apart, and light to import, so that `viz record` can spawn its child (viz.ingest.held) before the rest of the
viewer loads; `Session` spawns the same child the same way.
"""

from __future__ import annotations

import os

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # the folder holding viz/


def child_env() -> dict[str, str]:
    """The child's environment: ours, with viz importable, unbuffered output and no interactive start-up file."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def event_pipe() -> tuple[int, int]:
    """(read end, write end) of a pipe for the child's events, its buffer grown to 1 MiB on Linux, so the child runs
    on while the viewer is busy for a moment."""
    rfd, wfd = os.pipe()
    try:
        import fcntl
        fcntl.fcntl(wfd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (OSError, ImportError):
        pass
    return rfd, wfd
