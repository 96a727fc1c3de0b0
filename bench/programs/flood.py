"""Flood workload: a gevent program that produces EVENTS events for the recorder as fast as it can, as a mix.

    python flood.py [EVENTS] [SWITCH_PCT] [PRINT_PCT]

In rounds of 100,000 events: gevent.sleep(0) in 4 greenlets (each sleep is 2 switches, 2 raw events), print()ed
lines written in blocks of 1,000 lines per sys.stdout.write (one output event per line), and the rest as lines
written straight to fd 1 with os.write in blocks (raw output the viewer splits into lines). Defaults: 50,000,000
events, 10 % switches, 45 % printed lines, the rest raw lines. Prints `work_s=` and `events=` to fd 2 at the end
(the viewer may already be dropping lines by then).
"""
import os
import sys
import time

import gevent

EVENTS = int(float(sys.argv[1])) if len(sys.argv) > 1 else 50_000_000
SWITCH_PCT = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
PRINT_PCT = float(sys.argv[3]) if len(sys.argv) > 3 else 45.0
ROUND = 100_000
BLOCK = 1_000
GREENLETS = 4

per_round_sleeps = int(ROUND * SWITCH_PCT / 100 / 2 / GREENLETS)
per_round_print_blocks = int(ROUND * PRINT_PCT / 100 / BLOCK)
per_round_raw_blocks = max(0, (ROUND - per_round_sleeps * GREENLETS * 2 - per_round_print_blocks * BLOCK) // BLOCK)
print_block = "flood line printed by the program\n" * BLOCK
raw_block = b"flood line written to fd 1\n" * BLOCK
counts = {"switch events": 0, "printed lines": 0, "raw lines": 0}


def sleeper():
    for _ in range(per_round_sleeps):
        gevent.sleep(0)


t0 = time.perf_counter()
done = 0
while done < EVENTS:
    gevent.joinall([gevent.spawn(sleeper) for _ in range(GREENLETS)])
    counts["switch events"] += per_round_sleeps * GREENLETS * 2
    for _ in range(per_round_print_blocks):
        sys.stdout.write(print_block)
    counts["printed lines"] += per_round_print_blocks * BLOCK
    for _ in range(per_round_raw_blocks):
        os.write(1, raw_block)
    counts["raw lines"] += per_round_raw_blocks * BLOCK
    done = sum(counts.values())
report = f"work_s={time.perf_counter() - t0:.6f}\nevents={done}\n"
for k, v in counts.items():  # (no generator expressions here: a script defining one gets the recorder's profile hook)
    report += f"{k}={v}\n"
os.write(2, report.encode())
