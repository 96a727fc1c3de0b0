"""Recorder overhead on a call-heavy program that defines a generator (issue 13: target <= 1.2x).

The workload (written to a temporary folder) is a recursive fib, about 0.5 s untraced, whose sizes come from a
small generator: the script defines a generator function, so the recorder follows it, while nearly all of the work
is plain calls that are no generator's business. It runs untraced and under the recorder (Session +
Trace.add_many, as `viz record` does), alternating, and compares the work time the program itself prints
(`work_s=`). Modes per round, the order rotating:

- untraced; traced (the recorder as it runs on this Python: sys.monitoring on 3.12+, the profile function with its
  C filter on 3.11);
- traced-profile (3.12+ only: VIZ_GENERATOR_HOOK=profile, the profile-function path the recorder used before);
- profile-floor (no viz: the C filter `Profiler` set as the profile function with no code objects to follow, the
  interpreter's own cost of having a profile function set, the floor under the profile path).

The headline is the median over rounds of traced / untraced within a round. Run it with each Python to compare
(`/tmp/venv-3.12.1/bin/python bench/overhead_generators.py`).

Last line of stdout: overhead_ratio=<median traced/untraced>.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ behind in bench/

from _common import PY, PlainRun, Rounds, child_env, env_set, log, median, min_runs, table  # noqa: E402

TARGET = 1.2

WORKLOAD = '''"""Call-heavy with a generator: fib(n) for the sizes a generator yields."""
import sys
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def sizes(top, count):
    for n in range(top - count + 1, top + 1):
        yield n


def main():
    top = int(sys.argv[1])
    t0 = time.perf_counter()
    total = 0
    for n in sizes(top, 4):
        total += fib(n)
    print(f"work_s={time.perf_counter() - t0:.6f}", file=sys.stderr)
    print(f"total={total}")


main()
'''

PROFILE_FLOOR = """
import runpy, sys
from viz.recorder._fasthook import Profiler
Profiler(set(), print).install()  # a profile function in C that follows no code object
sys.argv = sys.argv[1:]
sys.path[0] = __import__("os").path.dirname(sys.argv[0])
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_profile_floor(script, args=(), timeout: float = 300.0) -> PlainRun:
    """The program under the C filter with nothing to follow, and no viz otherwise."""
    t0 = time.perf_counter()
    p = subprocess.run([PY, "-c", PROFILE_FLOOR, str(script), *map(str, args)], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, env=child_env())
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{script} under an empty profiler exited with {p.returncode}: "
                           f"{p.stderr.decode(errors='replace')[-2000:]}")
    return PlainRun(wall, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), p.returncode)


class GeneratorRounds(Rounds):
    """Rounds with two more modes: traced-profile and profile-floor."""

    def run_one(self, m: str) -> float:
        if m == "traced-profile":
            with env_set(VIZ_GENERATOR_HOOK="profile"):
                return super().run_one(m)
        if m == "profile-floor":
            p = run_profile_floor(self.program, self.args, timeout=self.timeout)
            w = p.figure(self.pattern)
            if w is None:
                raise SystemExit(f"{m}: the workload printed no figure matching {self.pattern!r}")
            self.work[m].append(w)
            self.wall[m].append(p.wall)
            return w
        return super().run_one(m)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Prints progress to stderr, a table and `overhead_ratio=X` (last line).")
    ap.add_argument("--top", type=int, default=31,
                    help="fib of the four sizes up to TOP (default 31: about 0.5 s untraced on Python 3.11)")
    ap.add_argument("--runs", type=min_runs, default=7, help="alternating rounds, >= 5 (default 7)")
    ap.add_argument("--no-profile", action="store_true",
                    help="skip the traced-profile and profile-floor runs (the profile-function path and its floor)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-run timeout in seconds (default 120)")
    a = ap.parse_args()

    monitoring = hasattr(sys, "monitoring")
    modes = ["untraced", "traced"]
    if not a.no_profile:
        modes += (["traced-profile"] if monitoring else []) + ["profile-floor"]
    version = ".".join(map(str, sys.version_info[:3]))
    path = "sys.monitoring" if monitoring else "the profile function (C filter)"
    log(f"overhead_generators: Python {version}, fib of the 4 sizes up to {a.top}, {a.runs} rounds of "
        f"{', '.join(modes)}; the recorder follows generators with {path}")
    with tempfile.TemporaryDirectory(prefix="viz-bench-") as tmp:
        program = Path(tmp) / "fib_with_generator.py"
        program.write_text(WORKLOAD)
        rounds = GeneratorRounds(program, [a.top], modes, timeout=a.timeout)
        rounds.run(a.runs)

    print(f"Call-heavy with a generator, Python {version}: fib of the 4 sizes up to {a.top} from a generator, "
          f"median of {a.runs} alternating rounds (work = the program's own work_s; wall = start to exit); "
          f"traced follows generators with {path}")
    rows = [r[:4] + [r[4]] for r in rounds.rows(per_count=1)]
    print(table(rows, ["mode", "work s", "wall s", "ratio", "running spans"]))
    ratio = rounds.ratio("traced")
    print(f"target <= {TARGET}x: {'met' if ratio <= TARGET else f'MISSED by {ratio / TARGET - 1:.0%}'}")
    if "traced-profile" in rounds.ratios:
        print(f"overhead_ratio_profile={rounds.ratio('traced-profile'):.2f}  (the profile-function path on this "
              "Python, VIZ_GENERATOR_HOOK=profile)")
    if "profile-floor" in rounds.ratios:
        print(f"overhead_ratio_profile_floor={rounds.ratio('profile-floor'):.2f}  (no viz: a C profile function "
              "that follows nothing, the floor under the profile path)")
    print(f"untraced work median: {median(rounds.work['untraced']):.3f} s")
    print(f"overhead_ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
