"""Shared helpers for the benchmarks in bench/: running a program plainly and under the recorder, medians, tables.

Not a benchmark itself. Every benchmark imports it as `_common` (the script's own folder is on sys.path).

Traced runs go through `viz.ingest.session.Session` with `Trace.add_many` as the records callback, exactly as
`viz record` does without `-o`: the benchmark process is the viewer. Untraced runs are a plain `python SCRIPT`.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PROGRAMS = BENCH / "programs"
PY = sys.executable

if str(REPO) not in sys.path:  # run from a checkout without the package installed
    sys.path.insert(0, str(REPO))

from viz.ingest.session import Session  # noqa: E402
from viz.trace.model import Trace  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def median(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


@contextlib.contextmanager
def env_set(**values):
    """Set environment variables for child processes started inside the block (Session copies os.environ)."""
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = str(v)
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def child_env(**values) -> dict:
    """This environment for a timed command, with `values` set (None: unset). viz's bytecode is cached as an
    installed viz has it (pip compiles it; a checkout's first run writes it): PYTHONDONTWRITEBYTECODE, which some
    machines set, is unset unless given, or every start would compile viz's modules from source while the peers'
    and the dependencies' stay cached."""
    env = dict(os.environ)
    env.pop("VIZ_PURE_PYTHON", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for k, v in values.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def find_figure(text: str, pattern: str) -> float | None:
    """The last number matched by `pattern` (a regex with one group) in `text`."""
    found = re.findall(pattern, text)
    return float(found[-1]) if found else None


WORK_RE = r"work_s=([0-9.eE+-]+)"


class PlainRun:
    def __init__(self, wall: float, stdout: str, stderr: str, status: int):
        self.wall, self.stdout, self.stderr, self.status = wall, stdout, stderr, status

    def figure(self, pattern: str = WORK_RE) -> float | None:
        return find_figure(self.stdout + "\n" + self.stderr, pattern)


def run_plain(script, args=(), timeout: float = 300.0, env: dict | None = None) -> PlainRun:
    """`python SCRIPT ARGS` untraced; its stdout / stderr captured."""
    t0 = time.perf_counter()
    p = subprocess.run([PY, str(script), *map(str, args)], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=env if env is not None else child_env())
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{script} exited with {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    return PlainRun(wall, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), p.returncode)


class TracedRun:
    def __init__(self):
        self.wall = 0.0            # Session.start() -> exit record, in the viewer
        self.trace: Trace | None = None
        self.exit: dict | None = None
        self.records = 0           # records delivered to the model
        self.first = self.last = None  # perf_counter when the first / last batch of records arrived
        self.session: Session | None = None

    def outputs_text(self) -> str:
        return "\n".join(o.text for o in self.trace.outputs)

    def figure(self, pattern: str = WORK_RE) -> float | None:
        return find_figure(self.outputs_text(), pattern)

    def count_states(self, state: str = "running") -> int:
        """Spans of `state` over every lane: each recorded switch starts exactly one running span (the target's)."""
        from viz.trace.model import STATE_CODE
        code = STATE_CODE[state]
        return sum(lane.states.count(code) for lane in self.trace.lanes)

    def notes(self) -> list[str]:
        return [n.get("text", "") for n in self.trace.notes]


def run_traced(script, args=(), *, timeout: float | None = 300.0, pure: bool = False, name: str | None = None,
               session_class=Session, keep_trace: bool = True, **session_kw) -> TracedRun:
    """Record `script` with Session + Trace.add_many, as `viz record` does (without -o)."""
    run = TracedRun()
    with env_set(VIZ_PURE_PYTHON="1" if pure else None):
        session = session_class(script, [str(a) for a in args], name=name, timeout=timeout, **session_kw)
        trace = Trace(session.header)
        clock = time.perf_counter

        def on_records(recs):
            now = clock()
            if run.first is None:
                run.first = now
            run.last = now
            run.records += len(recs)
            trace.add_many(recs)

        t0 = clock()
        session.start()
        try:
            run.exit = session.run(on_records)
        finally:
            session.close()
        run.wall = clock() - t0
    run.trace = trace if keep_trace else None
    run.session = session
    return run


NULL_TRACER = """
import runpy, sys
import greenlet
greenlet.settrace({}.get)  # a C function that does nothing with (event, (origin, target))
sys.argv = sys.argv[1:]
sys.path[0] = __import__("os").path.dirname(sys.argv[0])
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_null_tracer(script, args=(), timeout: float = 300.0) -> PlainRun:
    """The program with a greenlet tracer that does nothing and no viz at all: what greenlet costs a program just to
    call a tracer on every switch, the part of the recorder's overhead no hook can avoid."""
    t0 = time.perf_counter()
    p = subprocess.run([PY, "-c", NULL_TRACER, str(script), *map(str, args)], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, env=child_env())
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{script} with a null tracer exited with {p.returncode}: "
                           f"{p.stderr.decode(errors='replace')[-2000:]}")
    return PlainRun(wall, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), p.returncode)


def run_child_only(script, args=(), timeout: float = 300.0, pure: bool = False) -> PlainRun:
    """The recorder's child alone: `python -m viz.recorder.child FD SCRIPT`, its event pipe read and discarded.

    No decoding, deriving or model in the viewer, so what this costs over an untraced run is the child's own share
    of the overhead (hooks, buffering, marshal, pipe writes); the rest of a traced run's overhead is the viewer.
    """
    rfd, wfd = os.pipe()
    env = child_env(VIZ_PURE_PYTHON="1" if pure else None, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    try:
        p = subprocess.Popen([PY, "-m", "viz.recorder.child", str(wfd), str(script), *map(str, args)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             pass_fds=(wfd,), env=env)
    finally:
        os.close(wfd)
    import threading
    outs = {}

    def drain(name, f):
        outs[name] = f.read()
    threads = [threading.Thread(target=drain, args=(n, f), daemon=True) for n, f in (("out", p.stdout),
                                                                                     ("err", p.stderr))]
    for th in threads:
        th.start()
    n = 0
    try:
        while True:
            data = os.read(rfd, 1 << 20)
            if not data:
                break
            n += len(data)
            if time.perf_counter() - t0 > timeout:
                p.kill()
    finally:
        os.close(rfd)
    p.wait(timeout)
    for th in threads:
        th.join(5)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"recorder child for {script} exited with {p.returncode}")
    run = PlainRun(wall, outs.get("out", b"").decode(errors="replace"), outs.get("err", b"").decode(errors="replace"),
                   p.returncode)
    run.pipe_bytes = n
    return run


def run_cli_record(target, args=(), timeout: float = 300.0, pure: bool = False) -> float:
    """End-to-end wall time of `viz record TARGET --quiet -- ARGS` (information only)."""
    cmd = [PY, "-m", "viz", "record", str(target), "--quiet"]
    if args:
        cmd += ["--", *map(str, args)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=child_env(VIZ_PURE_PYTHON="1" if pure else None), cwd=str(REPO))
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"viz record {target} exited with {p.returncode}: {p.stdout.decode()[-500:]} "
                           f"{p.stderr.decode(errors='replace')[-1500:]}")
    return wall


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(c) -> str:
    if isinstance(c, float):
        if c != c:
            return "-"
        if abs(c) >= 1000:
            return f"{c:,.0f}"
        if abs(c) >= 10:
            return f"{c:.1f}"
        return f"{c:.3f}"
    if isinstance(c, int):
        return f"{c:,}"
    return str(c)


def min_runs(value: str) -> int:
    n = int(value)
    if n < 5:
        import argparse
        raise argparse.ArgumentTypeError("at least 5 runs (the figures are medians of >= 5)")
    return n


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's children that have ended and been waited for."""
    import resource
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def in_terminal(argv: list[str], cols: int, rows: int, until, env: dict, timeout: float = 20.0) -> tuple[float, object]:
    """Run `argv` (a viz command) in a pseudo-terminal of `cols` x `rows` (TERM=xterm-256color), as a user's terminal
    runs it, until `until(output so far)` gives something other than None (asked at every read of its screen, and
    every 5 ms); then press q and wait for it to end (killed, and said, if it has not within 10 s). Returns the
    time.time() just before the spawn and what `until` gave. RuntimeError, quoting the end of its output, if it ended
    or `timeout` s passed first. `env` is the command's environment (the terminal's variables are added)."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(env, TERM="xterm-256color", COLORTERM="truecolor", COLUMNS=str(cols), LINES=str(rows))
    env.pop("TEXTUAL", None)
    seen, proc = b"", None
    try:
        launched = time.time()
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env,
                                start_new_session=True)
        os.close(slave)
        slave = None
        while (got := until(seen)) is None and proc.poll() is None and time.time() - launched < timeout:
            if select.select([master], [], [], 0.005)[0]:  # (its screen is read as it comes: it never blocks)
                try:
                    seen += os.read(master, 1 << 16)
                except OSError:
                    break
        if got is None and (got := until(seen)) is None:
            tail = seen[-400:].decode("utf-8", "replace")
            raise RuntimeError(f"{' '.join(argv[1:4])}…: nothing within {timeout:.0f} s (exit {proc.poll()}); "
                               f"last output: {tail!r}")
        os.write(master, b"q")
        deadline = time.time() + 10
        while proc.poll() is None and time.time() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 1 << 16)
                except OSError:
                    break
    finally:
        if slave is not None:
            os.close(slave)
        if proc is not None:
            if proc.poll() is None:  # (a live run's ingest process and program end by themselves once it is gone)
                log(f"{' '.join(argv[1:4])}… did not end within 10 s of q: killed")
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    if proc.returncode:
        log(f"{' '.join(argv[1:4])}… exited with {proc.returncode}")
    return launched, got


@contextlib.contextmanager
def busy_core():
    """Another process spinning on a core for the length of the block (what a busy viewer does to the machine)."""
    p = subprocess.Popen([PY, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.1)
        yield
    finally:
        p.kill()
        p.wait()


class Rounds:
    """Alternating rounds of untraced / traced runs of one program, each printing its own work time.

    Modes: `untraced`, `traced` (C hook), `traced-pure` (VIZ_PURE_PYTHON=1), `child-only` (recorder child, pipe
    discarded), `null-tracer` (no viz, a greenlet tracer that does nothing). The order rotates every round so slow
    drift on a shared machine hits every mode alike; each traced mode's ratio is taken against the untraced run of
    the same round.
    """

    def __init__(self, program, args, modes, pattern: str = WORK_RE, timeout: float = 120.0):
        self.program, self.args, self.modes, self.pattern, self.timeout = program, list(args), list(modes), \
            pattern, timeout
        self.work = {m: [] for m in modes}
        self.wall = {m: [] for m in modes}
        self.ratios = {m: [] for m in modes if m != "untraced"}
        self.switches = {m: [] for m in modes}
        self.records = {m: [] for m in modes}
        self.notes: list[str] = []
        self.last_traced: TracedRun | None = None

    def run_one(self, m: str) -> float:
        if m == "untraced":
            p = run_plain(self.program, self.args, timeout=self.timeout)
            w, wall = p.figure(self.pattern), p.wall
        elif m == "child-only":
            p = run_child_only(self.program, self.args, timeout=self.timeout)
            w, wall = p.figure(self.pattern), p.wall
        elif m == "null-tracer":
            p = run_null_tracer(self.program, self.args, timeout=self.timeout)
            w, wall = p.figure(self.pattern), p.wall
        else:
            t = run_traced(self.program, self.args, timeout=self.timeout, pure=(m == "traced-pure"))
            if t.exit.get("outcome") != "finished":
                raise SystemExit(f"{m} run did not finish: {t.exit}")
            w, wall = t.figure(self.pattern), t.wall
            self.switches[m].append(t.count_states("running"))
            self.records[m].append(t.records)
            for n in t.notes():
                if n not in self.notes:
                    self.notes.append(n)
                    log(f"  note in the trace: {n}")
            self.last_traced = t
        if w is None:
            raise SystemExit(f"{m}: {Path(self.program).name} printed no figure matching {self.pattern!r}")
        self.work[m].append(w)
        self.wall[m].append(wall)
        return w

    def run(self, n: int) -> None:
        modes = self.modes
        for r in range(n):
            order = modes[r % len(modes):] + modes[:r % len(modes)]
            got = {m: self.run_one(m) for m in order}
            for m in self.ratios:
                self.ratios[m].append(got[m] / got["untraced"])
            log(f"  round {r + 1}/{n}: " + ", ".join(f"{m} {got[m]:.3f} s" for m in modes) + "; ratio " +
                ", ".join(f"{m} {self.ratios[m][-1]:.2f}x" for m in self.ratios))
            self.last_traced = None  # free the trace

    def ratio(self, m: str) -> float:
        return median(self.ratios[m])

    def rows(self, per: str = "switch", per_count: float | None = None) -> list[list]:
        """Table rows: mode, work, wall, ratio, switches, records, extra microseconds per switch (or per `per`)."""
        base = median(self.work["untraced"])
        count = per_count if per_count is not None else median(self.switches.get("traced") or [])
        rows = []
        for m in self.modes:
            extra = (median(self.work[m]) - base) / count * 1e6 if m != "untraced" and count else "-"
            sw = int(median(self.switches[m])) if self.switches[m] else "-"
            rc = int(median(self.records[m])) if self.records[m] else "-"
            rows.append([m, median(self.work[m]), median(self.wall[m]),
                         self.ratio(m) if m in self.ratios else 1.0, sw, rc, extra])
        return rows
