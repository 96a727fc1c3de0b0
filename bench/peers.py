"""viz against the tracers and profilers a Python developer would reach for, on the same programs, in one run.

For each program (gevent switch-heavy, gevent echo, threads ping-pong, asyncio switch-heavy) and each tool (plain
Python; `viz record`, and `viz record -o x.viztrace` keeping its trace as the peers keep theirs; viztracer; yappi;
pyinstrument), the whole command is run as a user runs it, the tools taking
turns round after round (the machine is shared: ratios within one run, never across runs). Per tool it reports, as
ratios to the plain run: the program's own time (the `work_s=` it prints), the whole process's wall time (start-up,
recording, writing the trace, exit: what the user waits for) and its CPU time (children included). Install the peers
with `pip install -e '.[bench]'`; a peer that is not installed is skipped, saying so. The last line is viz's worst
whole-command ratio over the programs (`peers_viz_whole_worst=`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import tempfile
import time

from _common import PROGRAMS, PY, WORK_RE, child_env, children_cpu, find_figure, log, median

PROGRAMS_RUN = {
    # about a second on its own, as issue 18's target says: start-up and the report are not most of the figure
    "gevent switch-heavy (1,000 x 400 sleep(0))": ["switch_heavy.py", "1000", "400"],
    "gevent echo (100 clients x 100 messages)": ["echo_io.py", "100", "100", "64"],
    "threads, queue ping-pong (20,000 round trips)": ["thread_pingpong.py", "20000"],
    "asyncio, 1,000 tasks x 200 sleep(0)": ["asyncio_switch_heavy.py", "1000", "200"],
}


def tools(out: str) -> dict[str, list[str] | None]:
    """Each tool's command prefix (the program's path and arguments follow), or None when it is not installed."""
    have = lambda module: importlib.util.find_spec(module) is not None  # noqa: E731
    return {
        "plain": [PY],
        # the report is printed (the program's own output in it says its work_s=), as a user sees it
        "viz record": [PY, "-m", "viz", "record", "--no-color", "--width", "80"],
        # the same, keeping the trace as the peers keep theirs: in the binary form (docs/trace-format.md)
        "viz record -o": [PY, "-m", "viz", "record", "--no-color", "--width", "80", "-o",
                          os.path.join(out, "viz.viztrace")],
        "viztracer": [PY, "-m", "viztracer", "--quiet", "-o", os.path.join(out, "viztracer.json")]
        if have("viztracer") else None,
        "yappi": [PY, "-m", "yappi", "-o", os.path.join(out, "yappi.out")] if have("yappi") else None,
        "pyinstrument": [PY, "-m", "pyinstrument", "-o", os.path.join(out, "pyinstrument.txt")]
        if have("pyinstrument") else None,
    }


def run(cmd: list[str], timeout: float) -> tuple[float, float, float | None]:
    """(wall s, CPU s of the process and its children, the program's own work_s) of one whole command."""
    before = children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, env=child_env())
    wall = time.perf_counter() - t0
    cpu = children_cpu() - before
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return wall, cpu, find_figure(done.stderr + done.stdout, WORK_RE)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="rounds of every tool on every program (default 5)")
    p.add_argument("--timeout", type=float, default=300, help="seconds one command may take (default 300)")
    args = p.parse_args()
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="viz-peers-") as out:
        commands = tools(out)
        for name, cmd in commands.items():
            if cmd is None:
                log(f"{name}: not installed (pip install -e '.[bench]'), skipped")
        live = {name: cmd for name, cmd in commands.items() if cmd is not None}
        print(f"{'program':48} {'tool':14} {'own time':>9} {'whole':>7} {'CPU':>7}")
        for label, prog in PROGRAMS_RUN.items():
            path = [str(PROGRAMS / prog[0]), *prog[1:]]
            got: dict[str, list[tuple[float, float, float | None]]] = {name: [] for name in live}
            for r in range(args.rounds):
                for name, cmd in live.items():
                    log(f"{label}: round {r + 1}/{args.rounds}, {name}")
                    try:
                        sep = ["--"] if name.startswith("viz record") else []  # viz: script arguments after --
                        got[name].append(run(cmd + path[:1] + sep + path[1:], args.timeout))
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        log(f"  {name} failed: {e}")
            base = [median([g[i] for g in got["plain"]]) for i in range(3)]
            for name, runs in got.items():
                if not runs:
                    print(f"{label:48} {name:14} {'failed':>9}")
                    continue
                wall, cpu = median([g[0] for g in runs]), median([g[1] for g in runs])
                own = [g[2] for g in runs if g[2] is not None]
                own_ratio = f"{median(own) / base[2]:.2f}x" if own and base[2] else "-"
                print(f"{label:48} {name:14} {own_ratio:>9} {wall / base[0]:>6.2f}x {cpu / base[1]:>6.2f}x",
                      flush=True)
                if name.startswith("viz record"):
                    worst = max(worst, wall / base[0])
    print(f"peers_viz_whole_worst={worst:.2f}")


if __name__ == "__main__":
    main()
