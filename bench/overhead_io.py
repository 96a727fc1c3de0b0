"""Recorder overhead on an I/O-bound gevent program (issue 4: target <= 1.2x).

Runs bench/programs/echo_io.py (a gevent StreamServer on 127.0.0.1, port 0, and C client greenlets x M send/recv
round trips) untraced and under the recorder (Session + Trace.add_many, as `viz record` does), alternating, and
compares the work time the program itself prints (`work_s=`). Per round: untraced, traced (C hook) and the recorder
child alone with its event pipe discarded (the child's share of the overhead), and a null-tracer run (no viz:
greenlet.settrace given a C function that does nothing, what greenlet itself adds to every switch once any tracer is
set); `--pure` adds the pure-Python hook (VIZ_PURE_PYTHON=1). The order rotates every round. The headline is the
median over rounds of traced / untraced within a round. Also: extra microseconds per round trip and per recorded
switch, and the end-to-end wall time of `viz record` (information).

Last line of stdout: overhead_ratio=<median traced/untraced>.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, Rounds, log, median, min_runs, run_cli_record, table  # noqa: E402

PROGRAM = PROGRAMS / "echo_io.py"
TARGET = 1.2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `overhead_ratio=X` (last line).")
    ap.add_argument("--clients", "-c", type=int, default=100, help="client greenlets (default 100)")
    ap.add_argument("--messages", "-m", type=int, default=100, help="round trips per client (default 100)")
    ap.add_argument("--size", type=int, default=64, help="bytes per message (default 64)")
    ap.add_argument("--runs", type=min_runs, default=15,
                    help="alternating rounds, >= 5 (default 15: single rounds swing by +-20%% on a shared machine)")
    ap.add_argument("--pure", action="store_true", help="also run the pure-Python hook (VIZ_PURE_PYTHON=1)")
    ap.add_argument("--no-child-only", action="store_true",
                    help="skip the child-only runs (the recorder child with its event pipe discarded: no viewer work)")
    ap.add_argument("--generator", action="store_true",
                    help="record a copy of the workload with one unused generator function appended (a script that "
                         "defines any generator turns on the recorder's profile hook for every call)")
    ap.add_argument("--cli-runs", type=int, default=3, help="end-to-end `viz record` runs, information (default 3)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-run timeout in seconds (default 120)")
    a = ap.parse_args()
    args = [a.clients, a.messages, a.size]
    trips = a.clients * a.messages

    modes = ["untraced", "traced"] + (["traced-pure"] if a.pure else []) + \
        ([] if a.no_child_only else ["child-only"]) + ["null-tracer"]
    log(f"overhead_io: echo server, {a.clients} clients x {a.messages} round trips of {a.size} bytes = {trips:,}, "
        f"{a.runs} rounds of {', '.join(modes)}")
    with tempfile.TemporaryDirectory(prefix="viz-bench-") as tmp:
        program = PROGRAM
        if a.generator:
            program = Path(tmp) / PROGRAM.name
            program.write_text(PROGRAM.read_text() + "\n\ndef _unused_generator():\n    yield 1\n")
            log(f"  recording a copy with an unused generator function appended: {program}")
        rounds = Rounds(program, args, modes, timeout=a.timeout)
        rounds.run(a.runs)
        cli = []
        for i in range(a.cli_runs):
            cli.append(run_cli_record(program, args, timeout=a.timeout))
            log(f"  viz record end to end {i + 1}/{a.cli_runs}: {cli[-1]:.3f} s")

    base = median(rounds.work["untraced"])
    switches = median(rounds.switches["traced"])
    print(f"I/O-bound{' (with an unused generator function appended)' if a.generator else ''}: echo server, {a.clients} clients x {a.messages} round trips of {a.size} bytes, median of "
          f"{a.runs} alternating rounds (work = the program's own work_s; wall = start to exit as the viewer sees it)")
    rows = rounds.rows()
    for r in rows:
        r.append((r[1] - base) / trips * 1e6 if r[0] != "untraced" else "-")
    print(table(rows, ["mode", "work s", "wall s", "ratio", "switches", "records", "extra us/switch",
                       "extra us/trip"]))
    print(f"switches recorded per round trip: {switches / trips:.2f}")
    if cli:
        print(f"viz record end to end (information): median {median(cli):.3f} s over {len(cli)} runs "
              f"(untraced program wall {median(rounds.wall['untraced']):.3f} s)")
    ratio = rounds.ratio("traced")
    print(f"target <= {TARGET}x: {'met' if ratio <= TARGET else f'MISSED by {ratio / TARGET - 1:.0%}'}")
    if "traced-pure" in rounds.ratios:
        print(f"overhead_ratio_pure={rounds.ratio('traced-pure'):.2f}")
    print(f"overhead_ratio_null_tracer={rounds.ratio('null-tracer'):.2f}  (no viz: greenlet calling a tracer that "
          "does nothing, the floor under any switch hook)")
    if "child-only" in rounds.ratios:
        print(f"overhead_ratio_child_only={rounds.ratio('child-only'):.2f}")
    print(f"overhead_ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
