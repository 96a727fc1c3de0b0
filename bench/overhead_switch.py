"""Recorder overhead on a switch-heavy gevent program (issue 4: target <= 2.0x).

Runs bench/programs/switch_heavy.py (N greenlets x M gevent.sleep(0)) untraced and under the recorder (Session +
Trace.add_many, as `viz record` does), alternating, and compares the work time the program itself prints
(`work_s=`). Per round: untraced, traced with the C hook, traced with the pure-Python hook (VIZ_PURE_PYTHON=1), and
the recorder child alone with its event pipe discarded (the child's share of the overhead, no viewer work); and the
program with a greenlet tracer that does nothing and no viz (null-tracer: the floor under any switch hook); the
order rotates every round so drift on a shared machine hits all alike. The headline is the median over rounds of
traced / untraced within a round. Also: microseconds per recorded switch (extra work time / switches counted in
the trace: each switch starts one `running` span), the end-to-end wall time of `viz record`, and how much a busy
second core alone slows the untraced program on this machine.

Last line of stdout: overhead_ratio=<median traced/untraced, C hook>.
"""

from __future__ import annotations

import argparse
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PROGRAMS, Rounds, busy_core, log, median, min_runs, run_cli_record, run_plain, table  # noqa: E402

PROGRAM = PROGRAMS / "switch_heavy.py"
TARGET = 2.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `overhead_ratio=X` (last line).")
    ap.add_argument("--greenlets", "-n", type=int, default=1000, help="greenlets (default 1000)")
    ap.add_argument("--sleeps", "-m", type=int, default=200, help="gevent.sleep(0) calls per greenlet (default 200)")
    ap.add_argument("--runs", type=min_runs, default=7, help="alternating rounds, >= 5 (default 7)")
    ap.add_argument("--no-pure", action="store_true", help="skip the pure-Python hook runs (VIZ_PURE_PYTHON=1)")
    ap.add_argument("--no-child-only", action="store_true",
                    help="skip the child-only runs (the recorder child with its event pipe discarded: no viewer work)")
    ap.add_argument("--cli-runs", type=int, default=3, help="end-to-end `viz record` runs, information (default 3)")
    ap.add_argument("--busy-runs", type=int, default=3,
                    help="untraced runs while another process spins on the other core, information (default 3)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-run timeout in seconds (default 120)")
    a = ap.parse_args()
    args = [a.greenlets, a.sleeps]
    sleeps = a.greenlets * a.sleeps

    modes = ["untraced", "traced"] + ([] if a.no_pure else ["traced-pure"]) + \
        ([] if a.no_child_only else ["child-only"]) + ["null-tracer"]
    log(f"overhead_switch: {a.greenlets} greenlets x {a.sleeps} gevent.sleep(0) = {sleeps:,} sleeps, "
        f"{a.runs} rounds of {', '.join(modes)}")
    rounds = Rounds(PROGRAM, args, modes, timeout=a.timeout)
    rounds.run(a.runs)

    busy = []
    for i in range(a.busy_runs):
        with busy_core():
            busy.append(run_plain(PROGRAM, args, timeout=a.timeout).figure())
        log(f"  untraced with the other core busy {i + 1}/{a.busy_runs}: {busy[-1]:.3f} s")
    cli = []
    for i in range(a.cli_runs):
        cli.append(run_cli_record(PROGRAM, args, timeout=a.timeout))
        log(f"  viz record end to end {i + 1}/{a.cli_runs}: {cli[-1]:.3f} s")

    base = median(rounds.work["untraced"])
    switches = median(rounds.switches["traced"])
    print(f"switch-heavy: {a.greenlets} greenlets x {a.sleeps} gevent.sleep(0), median of {a.runs} alternating "
          f"rounds (work = the program's own work_s; wall = start to exit as the viewer sees it)")
    print(table(rounds.rows(), ["mode", "work s", "wall s", "ratio", "switches", "records", "extra us/switch"]))
    print(f"switches recorded per sleep(0): {switches / sleeps:.2f}")
    if cli:
        print(f"viz record end to end (information): median {median(cli):.3f} s over {len(cli)} runs "
              f"(untraced program wall {median(rounds.wall['untraced']):.3f} s)")
    if busy:
        print(f"untraced while another process keeps the other core busy (information: what a busy viewer alone "
              f"costs the program on this machine): median {median(busy):.3f} s = {median(busy) / base:.2f}x")
    ratio = rounds.ratio("traced")
    print(f"target <= {TARGET}x: {'met' if ratio <= TARGET else f'MISSED by {ratio / TARGET - 1:.0%}'}")
    if "traced-pure" in rounds.ratios:
        print(f"overhead_ratio_pure={rounds.ratio('traced-pure'):.2f}")
    if "child-only" in rounds.ratios:
        print(f"overhead_ratio_child_only={rounds.ratio('child-only'):.2f}")
    print(f"overhead_ratio_null_tracer={rounds.ratio('null-tracer'):.2f}  (no viz: greenlet calling a tracer that "
          f"does nothing on every switch, the floor under any greenlet.settrace recorder)")
    print(f"us_per_switch={(median(rounds.work['traced']) - base) / switches * 1e6:.2f}")
    print(f"overhead_ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
