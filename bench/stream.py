"""Child -> viewer stream: trace records per second delivered into the viewer's model (issue 4: >= 500,000/s).

Records bench/programs/switch_heavy.py with a larger N x M under Session + Trace.add_many, as `viz record` does, and
counts the records delivered to the model and the time from the first delivery to the last: records/s end to end,
median of >= 5 recordings. The Session is wrapped to also time the parent's own work as it happens (decode + derive
inside poll, model add in the callback) and to keep the raw event bytes of the last recording; those bytes are then
replayed through a fresh FrameDecoder + Deriver + Trace (no child running) to measure the parent-side ingestion
capacity, also split into decode / derive / model add.

Last line of stdout: stream_records_per_s=<median end-to-end records/s>.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, Session, Trace, log, median, min_runs, run_plain, run_traced, table  # noqa: E402

from viz import protocol  # noqa: E402
from viz.ingest.derive import Deriver  # noqa: E402
from viz.ingest.session import PIECE  # noqa: E402

PROGRAM = PROGRAMS / "switch_heavy.py"
TARGET = 500_000


class TimedSession(Session):
    """A Session that times its decode + derive work and (optionally) keeps the raw event bytes it read."""

    keep_chunks = False

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.read_s = 0.0
        self.event_bytes = 0
        self.chunks: list[bytes] = []

    def _read(self, what, data, records, at=0.0):
        t0 = time.perf_counter()
        super()._read(what, data, records, at)
        self.read_s += time.perf_counter() - t0
        if what == "events":
            self.event_bytes += len(data)
            if self.keep_chunks and data:
                self.chunks.append(data)

    def _derive(self, piece, at, records):
        t0 = time.perf_counter()
        super()._derive(piece, at, records)
        self.read_s += time.perf_counter() - t0


def replay(chunks: list[bytes], stage: str) -> tuple[float, int, int]:
    """Feed saved pipe bytes through the parent's pipeline up to `stage`; (seconds, raw events, records).

    As in Session.poll, each batch is derived a piece at a time, and the records derived from one chunk read from the
    pipe go to the model in one add_many."""
    dec, der, trace = protocol.FrameDecoder(), Deriver(), Trace()
    events = records = 0
    gc.collect()
    t0 = time.perf_counter()
    for data in chunks:
        recs: list = []
        for batch in dec.feed(data):
            events += protocol.count_events(batch)
            if stage == "decode":
                continue
            for piece in protocol.split_runs(batch, PIECE):
                recs += der.feed(piece)
        records += len(recs)
        if stage == "model":
            trace.add_many(recs)
    return time.perf_counter() - t0, events, records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `stream_records_per_s=X` (last line).")
    ap.add_argument("--greenlets", "-n", type=int, default=1000, help="greenlets (default 1000)")
    ap.add_argument("--sleeps", "-m", type=int, default=300, help="gevent.sleep(0) calls per greenlet (default 300)")
    ap.add_argument("--runs", type=min_runs, default=5, help="recordings, >= 5 (default 5)")
    ap.add_argument("--replays", type=min_runs, default=5, help="replays of the saved bytes per stage (default 5)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-run timeout in seconds (default 120)")
    a = ap.parse_args()
    args = [a.greenlets, a.sleeps]

    log(f"stream: switch_heavy {a.greenlets} x {a.sleeps}, {a.runs} recordings")
    e2e, delivered, wall_rate, produce, read_rate, lag, untraced = [], [], [], [], [], [], []
    chunks: list[bytes] = []
    work_ratio = []
    for r in range(a.runs):
        untraced.append(run_plain(PROGRAM, args, timeout=a.timeout).figure())
        TimedSession.keep_chunks = r == a.runs - 1

        t = run_traced(PROGRAM, args, timeout=a.timeout, session_class=TimedSession, keep_trace=True)
        s = t.session
        span = (t.last - t.first) if t.first is not None else float("nan")
        work = t.figure()
        e2e.append(t.records / span)
        wall_rate.append(t.records / t.wall)
        delivered.append(t.records)
        produce.append(s.event_bytes / work if work else float("nan"))
        read_rate.append(t.records / s.read_s if s.read_s else float("nan"))
        lag.append(t.wall - work)
        work_ratio.append(work / untraced[-1])
        if s.chunks:
            chunks = s.chunks
        log(f"  recording {r + 1}/{a.runs}: {t.records:,} records in {span:.3f} s first to last = "
            f"{e2e[-1]:,.0f}/s; program work {work:.3f} s (untraced {untraced[-1]:.3f} s), session wall "
            f"{t.wall:.3f} s; decode+derive in poll {s.read_s:.3f} s")
        del t, s
        gc.collect()

    log(f"replaying {sum(map(len, chunks)) / 1e6:.1f} MB of saved event bytes, {a.replays} times per stage")
    stages = {}
    for stage in ("decode", "derive", "model"):
        times = []
        for _ in range(a.replays):
            sec, events, records = replay(chunks, stage)
            times.append(sec)
        stages[stage] = (median(times), events, records)
        log(f"  {stage}: median {median(times):.3f} s")
    events = stages["decode"][1]
    records = stages["derive"][2]
    dec_s, der_s, mod_s = stages["decode"][0], stages["derive"][0], stages["model"][0]
    ingest = records / mod_s

    print(f"child -> viewer stream: switch_heavy {a.greenlets} x {a.sleeps}, median of {a.runs} recordings")
    print(table([
        ["end to end (first to last record)", median(e2e), "records/s into the model, as recorded"],
        ["end to end (session start to exit)", median(wall_rate), "records/s over the whole session"],
        ["records per recording", median(delivered), ""],
        ["session wall - program work", median(lag), "s: the viewer catching up, plus child start-up"],
        ["program work traced / untraced", median(work_ratio), "x (same recordings, untraced run just before)"],
    ], ["figure", "value", "meaning"]))
    print()
    print(f"parent-side ingestion, replaying the saved event bytes of one recording ({events:,} raw events -> "
          f"{records:,} records, {sum(map(len, chunks)) / 1e6:.1f} MB), median of {a.replays}:")
    print(table([
        ["decode (marshal)", dec_s, events / dec_s, records / dec_s],
        ["+ derive", der_s, events / der_s, records / der_s],
        ["+ model add (Trace.add_many)", mod_s, events / mod_s, records / mod_s],
        ["  derive alone", der_s - dec_s, "-", records / (der_s - dec_s)],
        ["  model add alone", mod_s - der_s, "-", records / (mod_s - der_s)],
    ], ["stage", "s", "raw events/s", "records/s"]))
    print(f"decode+derive timed live inside Session.poll: {median(read_rate):,.0f} records/s")
    print(f"raw event bytes produced per second of the traced program's work: {median(produce) / 1e6:.1f} MB/s")
    rate = median(e2e)
    print(f"target >= {TARGET:,}/s: {'met' if rate >= TARGET else f'MISSED by {1 - rate / TARGET:.0%}'} end to end; "
          f"parent-side capacity {ingest:,.0f} records/s ({'meets' if ingest >= TARGET else 'misses'} it)")
    print(f"ingest_records_per_s={ingest:.0f}")
    print(f"stream_records_per_s={rate:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
