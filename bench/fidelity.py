"""Fidelity: a recorded run takes as long as a plain one (issue 4: the program's own time within 5 %).

Runs the scenarios gevent_sleepers and sleepers_unpatched (scenarios/*.py; each prints `time spent: X`) plainly and
under the recorder (Session + Trace.add_many, as `viz record` does), alternating, >= 5 rounds each, and compares the
time each prints. The figure per scenario is the median over rounds of recorded / plain within a round, as a
deviation in percent; the headline is the worst scenario. The end-to-end wall time of `viz record` is shown for
information.

Last line of stdout: fidelity_worst_pct=<largest |recorded/plain - 1| in percent>.
"""

from __future__ import annotations

import argparse
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import REPO, Rounds, log, median, min_runs, run_cli_record, table  # noqa: E402

SCENARIOS = ["gevent_sleepers", "sleepers_unpatched"]
PATTERN = r"time spent: ([0-9.eE+-]+)"
TARGET_PCT = 5.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `fidelity_worst_pct=X` (last line).")
    ap.add_argument("--runs", type=min_runs, default=5, help="alternating rounds per scenario, >= 5 (default 5)")
    ap.add_argument("--scenarios", nargs="+", default=SCENARIOS, metavar="NAME",
                    help=f"scenarios that print 'time spent: X' (default: {' '.join(SCENARIOS)})")
    ap.add_argument("--cli-runs", type=int, default=1,
                    help="end-to-end `viz record` runs per scenario, information (default 1)")
    ap.add_argument("--timeout", type=float, default=60.0, help="per-run timeout in seconds (default 60)")
    a = ap.parse_args()

    rows = []
    worst = 0.0
    for name in a.scenarios:
        path = REPO / "scenarios" / f"{name}.py"
        if not path.is_file():
            raise SystemExit(f"no scenario {name!r} ({path})")
        log(f"fidelity: {name}, {a.runs} rounds of plain / recorded")
        rounds = Rounds(path, [], ["untraced", "traced"], pattern=PATTERN, timeout=a.timeout)
        rounds.run(a.runs)
        cli = [run_cli_record(name, timeout=a.timeout) for _ in range(a.cli_runs)]
        if cli:
            log(f"  viz record {name} end to end: {', '.join(f'{c:.3f} s' for c in cli)}")
        ratio = rounds.ratio("traced")
        dev = abs(ratio - 1) * 100
        worst = max(worst, dev)
        rows.append([name, median(rounds.work["untraced"]), median(rounds.work["traced"]), f"{(ratio - 1) * 100:+.2f} %",
                     median(rounds.wall["untraced"]), median(rounds.wall["traced"]), median(cli) if cli else "-",
                     "yes" if dev <= TARGET_PCT else "NO"])
    print(f"fidelity: the scenario's own 'time spent', plain vs recorded, median of {a.runs} alternating rounds")
    print(table(rows, ["scenario", "plain s", "recorded s", "recorded/plain", "plain wall s", "recorded wall s",
                       "viz record wall s", f"within {TARGET_PCT:g} %"]))
    print(f"target within {TARGET_PCT:g} %: {'met' if worst <= TARGET_PCT else f'MISSED by {worst - TARGET_PCT:.2f} points'}")
    print(f"fidelity_worst_pct={worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
