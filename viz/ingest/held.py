"""The recorder child started before the viewer knows what it will run: `viz record`'s head start.

`viz record` spawns `HeldChild()` first thing, before it parses its arguments or imports the trace model, Rich and
the views: the child's interpreter start and the recorder's imports then run on the other core meanwhile. The child
waits (`python -m viz.recorder.child --held GO_FD FD`) until `session(...)` and its `start()` send it the script and
its arguments; from there the run is an ordinary `Session` (same pipes, process group, environment, limits). The
ingest process of `viz run` holds one the same way (viz.ingest.launch), and lets it go as soon as it knows the run,
before it makes the session. If the viewer gives up first (bad arguments, --help), `cancel()` ends the child.

This module imports no more than spawning needs; `viz.ingest.session` loads only when a session is made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from viz.ingest.spawn import child_env, event_pipe


class HeldChild:
    def __init__(self, stdin=None):
        """Spawn the child, held; `stdin` as Session's (None: the script reads end-of-file)."""
        rfd, wfd = event_pipe()
        go_r, self._go = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "viz.recorder.child", "--held", str(go_r), str(wfd)],
                stdin=subprocess.DEVNULL if stdin is None else stdin, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=(wfd, go_r), start_new_session=True, env=child_env(),
                cwd=os.getcwd())
        except BaseException:
            for fd in (rfd, self._go):
                os.close(fd)
            raise
        finally:
            os.close(wfd)
            os.close(go_r)
        self.events = rfd  # the read end of the event pipe
        self.taken = False  # a session reads it: cancel() leaves it alone
        self.went: float | None = None  # perf_counter when it was let go

    def go(self, script: str, args: list[str]) -> None:
        """Let the child run `script` with `args` (once; its session may be made later)."""
        if self._go is None:
            return
        data = b"\0".join(os.fsencode(a) for a in [script, *args])
        self.went = time.perf_counter()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._go, view):]
        except BrokenPipeError:
            pass  # the child is gone already (an unsupported Python, say): the session reads how it ended
        finally:
            os.close(self._go)
            self._go = None

    def cancel(self) -> None:
        """The child is not wanted (no session took it: it may have been let go): end it and release its pipes.
        A no-op once a session took it."""
        if self.taken:
            return
        self.taken = True
        if self._go is not None:
            os.close(self._go)
            self._go = None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its group: what a script let go may have started too
        except OSError:
            pass
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        os.close(self.events)

    def session(self, script, args: list[str] | None = None, **kw):
        """A `Session` for `script` whose start() lets this child run it (keyword arguments: Session's)."""
        from viz.ingest.session import Session

        held = self

        class HeldSession(Session):
            def start(self) -> "HeldSession":
                from viz import protocol
                protocol.check_python()
                held.go(self.script, self.args)  # (unless viz.ingest.launch let it go already)
                held.taken = True
                return self.attach(held.proc, held.events, held.went)

        return HeldSession(script, args, **kw)
