"""A lock handed from main to a worker, beside a thread that only sleeps: main holds the lock 0.3 s; worker waits for
it, takes it and sleeps 0.1 s; main's join returns when worker ends.

Run with plain python, it records itself to lock_handoff.jsonl (the connector snapshot's saved trace; review the
snapshot after: pytest tests/test_app_snapshots.py --snapshot-update)."""

import sys
import threading
import time

lock = threading.Lock()


def worker():
    with lock:
        time.sleep(0.1)


def main():
    lock.acquire()
    bystander = threading.Thread(target=time.sleep, args=(0.5,), name="bystander")
    bystander.start()
    t = threading.Thread(target=worker, name="worker")
    t.start()
    time.sleep(0.3)
    lock.release()
    t.join()
    bystander.join()


def record_myself():
    from pathlib import Path

    from viz.ingest.session import Session
    from viz.trace.model import Trace

    here = Path(__file__).resolve()
    session = Session(here, name="lock_handoff", timeout=30).start()
    records: list = []
    while not session.done:
        records += session.poll(0.05)
    session.close()
    trace = Trace(session.header)
    trace.header.pop("created", None)  # stable from one recording to the next
    trace.header["script"] = here.name
    trace.add_many(records)
    trace.save(here.with_suffix(".jsonl"))


if __name__ == "__main__":
    main() if "viz.recorder" in sys.modules else record_myself()
