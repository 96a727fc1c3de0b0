"""Trace load: time to load a 1,000,000-event trace file and the model's memory per span (issue 4: <= 2 s, <= 150 B).

Builds a synthetic but realistic trace with viz.trace.format.TraceWriter in a temporary folder: a gevent-style run
of 1,000 lanes (a main task, a hub and client greenlets) whose state records cycle running -> blocked (reasons such
as `recv() on fd 12 (127.0.0.1:40012)`, `gevent.sleep(0.5)`, with file and line) -> ready (`fd 12 readable`,
`timer fired`) -> running, the hub alternating running / idle (`polling: ...`), some output lines, task and end
records, in time order. Then times Trace.load (median of >= 5 loads) and measures the memory the loaded model holds
per span with tracemalloc (allocations still live after the load, over the number of spans), and for information
the RSS growth of a fresh process loading it. The file is removed at the end.

Last line of stdout: load_s=<median seconds of Trace.load>.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PY, REPO, log, median, min_runs, table  # noqa: E402

from viz.trace.format import TraceWriter, header  # noqa: E402
from viz.trace.model import Trace  # noqa: E402

TARGET_S = 2.0
TARGET_BYTES = 150
SOURCE = "".join(f"line {i}: some code of the program\n" for i in range(1, 301))


def build(path: str, events: int, lanes: int, seed: int = 4) -> dict:
    """Write a trace of about `events` records; returns counts."""
    rnd = random.Random(seed)
    head = header(target="synthetic", script="/tmp/synthetic/app.py", file="app.py", argv=[], python="3.11",
                  viz="bench", created="2026-11-27T00:00:00+0000")
    w = TraceWriter(path, head)
    recs: list[dict] = [{"k": "source", "file": "app.py", "text": SOURCE}]
    main, hub = 1, 2
    recs.append({"k": "task", "t": 0.0, "task": main, "name": "main", "kind": "main", "parent": None})
    recs.append({"k": "state", "t": 0.0, "task": main, "state": "running", "file": "app.py", "line": 1})
    recs.append({"k": "task", "t": 0.001, "task": hub, "name": "hub", "kind": "loop", "parent": None})
    greenlets = list(range(3, lanes + 1))
    t = 0.002
    for g in greenlets:
        recs.append({"k": "task", "t": t, "task": g, "name": f"client {g - 2}", "kind": "greenlet", "parent": main})
        recs.append({"k": "state", "t": t, "task": g, "state": "ready", "reason": "spawned"})
        t += 1e-6
    recs.append({"k": "state", "t": t, "task": main, "state": "blocked", "reason": "gevent.joinall(…)",
                 "file": "app.py", "line": 40})
    phase = {g: 0 for g in greenlets}
    fd = {g: 10 + g for g in greenlets}
    slept = {g: False for g in greenlets}
    n_state = n_out = 0
    budget = events - len(recs) - 2 * lanes - 1
    while n_state + n_out < budget:
        t += rnd.uniform(2e-6, 2e-5)
        r = rnd.random()
        if r < 0.06:  # the hub polls, then runs
            recs.append({"k": "state", "t": t, "task": hub, "state": "idle",
                         "reason": f"polling: fds [{rnd.randint(12, 40)}, {rnd.randint(41, 90)}], "
                                   f"{rnd.randint(1, 30)} timers"})
            t += rnd.uniform(1e-5, 1e-4)
            recs.append({"k": "state", "t": t, "task": hub, "state": "running", "reason": "poll returned"})
            n_state += 2
            continue
        g = rnd.choice(greenlets)
        p = phase[g]
        if p == 0:
            recs.append({"k": "state", "t": t, "task": g, "state": "running", "file": "app.py",
                         "line": rnd.choice((12, 18, 25))})
        elif p == 1:
            slept[g] = rnd.random() >= 0.5
            if not slept[g]:
                rec = {"k": "state", "t": t, "task": g, "state": "blocked",
                       "reason": f"recv() on fd {fd[g]} (127.0.0.1:{40000 + g})", "file": "app.py", "line": 18}
            else:
                rec = {"k": "state", "t": t, "task": g, "state": "blocked", "reason": "gevent.sleep(0.5)",
                       "file": "app.py", "line": 25}
            recs.append(rec)
        else:
            reason = "timer fired" if slept[g] else f"fd {fd[g]} readable"
            recs.append({"k": "state", "t": t, "task": g, "state": "ready", "reason": reason, "file": "app.py",
                         "line": 18})
        phase[g] = (p + 1) % 3
        n_state += 1
        if rnd.random() < 0.005:
            recs.append({"k": "output", "t": t, "task": g, "stream": "stdout",
                         "text": f"client {g - 2}: got reply {rnd.randint(0, 10**6)}", "file": "app.py", "line": 20})
            n_out += 1
        if len(recs) >= 100_000:
            w.write_many(recs)
            recs = []
    for g in [main, hub, *greenlets]:
        t += 1e-6
        recs.append({"k": "end", "t": t, "task": g})
    recs.append({"k": "exit", "t": t, "outcome": "finished", "status": 0, "signal": None, "detail": None})
    w.write_many(recs)
    w.close()
    return {"state": n_state + 2 * lanes, "output": n_out}


def measure_rss(path: str) -> dict:
    """Load the trace in a fresh process and report its RSS before / after (information)."""
    code = ("import sys, json, gc\n"
            "def rss():\n"
            "    for l in open('/proc/self/status'):\n"
            "        if l.startswith('VmRSS:'): return int(l.split()[1]) * 1024\n"
            "from viz.trace.model import Trace\n"
            "gc.collect(); before = rss()\n"
            "t = Trace.load(sys.argv[1]); gc.collect()\n"
            "print(json.dumps({'before': before, 'after': rss(), 'spans': sum(len(l) for l in t.lanes)}))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + (os.pathsep + os.environ["PYTHONPATH"]
                                                   if os.environ.get("PYTHONPATH") else ""))
    p = subprocess.run([PY, "-c", code, path], capture_output=True, env=env, timeout=300)
    if p.returncode != 0:
        raise SystemExit(p.stderr.decode(errors="replace")[-2000:])
    return json.loads(p.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `load_s=X` (last line).")
    ap.add_argument("--events", type=lambda s: int(float(s)), default=1_000_000,
                    help="records in the trace (default 1e6)")
    ap.add_argument("--lanes", type=int, default=1000, help="tasks (default 1000)")
    ap.add_argument("--runs", type=min_runs, default=5, help="loads to time, >= 5 (default 5)")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="viz-bench-") as tmp:
        path = os.path.join(tmp, "big.jsonl")
        t0 = time.perf_counter()
        counts = build(path, a.events, a.lanes)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            lines = sum(1 for _ in f)
        log(f"load: wrote {lines:,} lines ({size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s: "
            f"{counts['state']:,} state records, {counts['output']:,} outputs, {a.lanes} lanes")

        times = []
        for i in range(a.runs):
            gc.collect()
            t0 = time.perf_counter()
            trace = Trace.load(path)
            times.append(time.perf_counter() - t0)
            spans = sum(len(lane) for lane in trace.lanes)
            log(f"  load {i + 1}/{a.runs}: {times[-1]:.3f} s ({spans:,} spans)")
            del trace
        gc.collect()

        import tracemalloc
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        trace = Trace.load(path)
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        held -= base
        spans = sum(len(lane) for lane in trace.lanes)
        outputs = len(trace.outputs)
        out_bytes = sum(sys.getsizeof(o) + sys.getsizeof(o.text) for o in trace.outputs)
        lanes = len(trace.lanes)
        del trace
        gc.collect()
        rss = measure_rss(path)

    load_s = median(times)
    per_span = held / spans
    per_span_no_out = (held - out_bytes) / spans
    rss_per_span = (rss["after"] - rss["before"]) / spans
    print(f"trace load: {lines:,} lines ({size / 1e6:.0f} MB), {lanes:,} lanes, {spans:,} spans, {outputs:,} outputs")
    print(table([
        ["Trace.load, median of " + str(a.runs), load_s, "s", f"<= {TARGET_S:g} s",
         "met" if load_s <= TARGET_S else f"MISSED by {load_s / TARGET_S - 1:.0%}"],
        ["  min / max", f"{min(times):.3f} / {max(times):.3f}", "s", "", ""],
        ["  per record", load_s / lines * 1e6, "us", "", ""],
        ["memory held by the model / span (tracemalloc)", per_span, "bytes", f"<= {TARGET_BYTES}",
         "met" if per_span <= TARGET_BYTES else f"MISSED by {per_span / TARGET_BYTES - 1:.0%}"],
        ["  the same without the output lines", per_span_no_out, "bytes", "", ""],
        ["  peak while loading / span (tracemalloc)", (peak - base) / spans, "bytes", "", ""],
        ["RSS growth of a fresh process / span", rss_per_span, "bytes", "", "information"],
    ], ["figure", "value", "unit", "target", "met?"]))
    print(f"bytes_per_span={per_span:.1f}")
    print(f"load_s={load_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
