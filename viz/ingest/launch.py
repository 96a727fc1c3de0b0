"""The ingest process of a live run: how the app starts it (`IngestProcess`) and its entry point (`main`).

    python -m viz.ingest.launch [--own-child]

The app starts it before it knows the run (`viz run` first thing, before parsing its arguments, importing the trace
model or Textual), and sends the run's spec later as the first line of its stdin (JSON: script, args, name, timeout,
child); commands follow on the same stdin (viz.ingest.process). The process spawns the recorder child at once, held
(viz.ingest.held), lets it go the moment the spec arrives, and only then loads the rest of the ingest process (the
session, the deriver, the trace model: viz.ingest.process, which runs the child as an ordinary Session): three
interpreters' starts and imports overlap, and the program starts as early as it can. Before the child's spawn this
module loads no more than spawning needs (json, for the spec, and tempfile, the app's side, come later): on two cores
each import there slows the child's start, the wait for the program's first line. With `--own-child` the spec
names its own child command (bench/live.py replays a recording) and no recorder child is held. End-of-file before a
spec: the held child is ended, and the process exits having run nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys

from viz.ingest.held import HeldChild
from viz.ingest.spawn import PKG_ROOT


class IngestProcess:
    """The app's handle on the ingest process, started before its run is known: `send(spec)` gives it the run, or
    `cancel()` ends it unused (bad arguments, an unknown scenario). Whoever sends the spec owns `proc` from then."""

    def __init__(self, own_child: bool = False):
        self.stderr = _unnamed_file()  # what it writes there (a traceback, if it fails)
        env = dict(os.environ)  # the ingest process imports this very viz, wherever the app was started from
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (PKG_ROOT, env.get("PYTHONPATH"))))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "viz.ingest.launch", *(["--own-child"] * own_child)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self.stderr, env=env,
                start_new_session=True)  # not in the terminal's process group
        except BaseException:
            self.stderr.close()
            raise
        self.sent = False

    def send(self, spec: dict) -> None:
        import json

        line = json.dumps(spec).encode() + b"\n"  # (ASCII: json escapes the rest, newlines included)
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it failed to start: the app reads what it said on stderr
        self.sent = True

    def cancel(self) -> None:
        """Not used: end it (its held child with it). A no-op once the spec is sent."""
        if self.sent:
            return
        self.sent = True
        for f in (self.proc.stdin, self.proc.stdout, self.stderr):
            f.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _unnamed_file():
    """A file without a name, gone once closed: O_TMPFILE where the system has it (the app need not load `tempfile`,
    with `random` and `shutil`, before it can start the ingest process), else tempfile's."""
    flag = getattr(os, "O_TMPFILE", None)
    folder = os.environ.get("TMPDIR") or os.environ.get("TEMP") or os.environ.get("TMP") or "/tmp"
    if flag is not None:
        try:
            fd = os.open(folder, flag | os.O_RDWR | os.O_EXCL, 0o600)  # (O_EXCL: it can never be given a name)
        except OSError:  # no such folder, or a file system without it
            pass
        else:
            return os.fdopen(fd, "w+b")
    import tempfile
    return tempfile.TemporaryFile()


def main(argv: list[str]) -> int:
    os.nice(2)  # (the child inherits it) the app, drawing and answering keys, gets a core first when three want two
    held = None
    if "--own-child" not in argv:
        try:
            held = HeldChild()
        except (OSError, ValueError):
            pass  # (no cwd, no fds left) the session spawns the child itself, and an error frame says what failed
    import json  # (after the child's spawn: not on the way to it)

    line = sys.stdin.readline()
    if not line:  # the app did not need this run
        if held is not None:
            held.cancel()
        return 0
    spec = json.loads(line)
    if held is not None and spec.get("child"):  # the spec names its own child after all: this one is not wanted
        held.cancel()
        held = None
    if held is not None:
        held.go(spec["script"], spec["args"])  # before the imports below: the program starts now
    try:
        from viz.ingest.heap import keep_freed_memory
        keep_freed_memory()  # (after the go: the program's start does not wait for ctypes to load)
        from viz.ingest import process

        return process.main(spec, held)
    finally:
        if held is not None:
            held.cancel()  # a failure before the session took the child leaves no child behind


def _exit_now(status: int) -> None:
    """The last frame is written and the program's child is gone: end without the interpreter's teardown (its final
    collections and freeing every module, about a tenth of a second after a million records, while the app folds
    that last frame). viz registers no exit handlers; the command thread is a daemon."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)  # the ordinary exit reports it
    os._exit(status)


if __name__ == "__main__":
    _exit_now(main(sys.argv[1:]))
