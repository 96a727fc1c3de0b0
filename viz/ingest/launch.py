"""The ingest process's entry: `python -m viz.ingest.launch SPEC` (viz.app.feed starts it for a live run).

It spawns the recorder child first thing, held (viz.ingest.held), before loading the rest of the ingest process (the
session, the deriver, the trace model: viz.ingest.process, which then runs the child as an ordinary Session): the
child's interpreter start and the recorder's imports overlap this process's own, as `viz record`'s head start does.
"""

from __future__ import annotations

import json
import os
import sys

from viz.ingest.held import HeldChild


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    os.nice(2)  # (the child inherits it) the app, drawing and answering keys, gets a core first when three want two
    held = None
    if not spec.get("child"):
        try:
            held = HeldChild()
        except (OSError, ValueError):
            pass  # (no cwd, no fds left) the session spawns the child itself, and an error frame says what failed
    from viz.ingest import process

    return process.main(spec, held)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
