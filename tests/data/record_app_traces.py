"""Record the saved traces the app's snapshot tests draw (run from the repo root when the recorder changes):

    .venv/bin/python tests/data/record_app_traces.py

Each scenario (the real one, scenarios/NAME.py) runs once under the recorder and is written to tests/data/NAME.jsonl.
Snapshots drawn from these files are deterministic; after re-recording, review and update them with
`pytest tests/test_app_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from viz.ingest.session import Session
from viz.trace.model import Trace

HERE = Path(__file__).resolve().parent
SCENARIOS_DIR = HERE.parent.parent / "scenarios"
SCENARIOS = ("gevent_sleepers", "sleepers_unpatched", "baozi", "select_server")


def record(name: str) -> Path:
    session = Session(SCENARIOS_DIR / f"{name}.py", name=name, timeout=30).start()
    records: list[dict] = []
    while not session.done:
        records += session.poll(0.05)
    session.close()
    trace = Trace(session.header)
    trace.header.pop("created", None)  # keep the files stable from one recording to the next
    trace.add_many(records)
    out = HERE / f"{name}.jsonl"
    trace.save(out)
    return out


if __name__ == "__main__":
    for name in sys.argv[1:] or SCENARIOS:
        print(record(name))
