"""Shared helpers: record a real scenario or script in a real child process and hand back the trace model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from viz.ingest.session import Session
from viz.scenarios import resolve
from viz.trace.model import Trace
from viz.trace.record import StateRecord

ROOT = Path(__file__).resolve().parent.parent


def run_session(path, *args: str, **options) -> tuple[Session, Trace]:
    """Record a script in a real child process with Session(**options); the session and the trace it built."""
    session = Session(path, list(args), **options)
    trace = Trace(session.header)
    session.start()
    try:
        session.run(trace.add_many)
    finally:
        session.close()
    return session, trace


def record(target: str, *args: str, timeout: float | None = 20, out: str | os.PathLike | None = None) -> Trace:
    path, name = resolve(target)
    return run_session(path, *args, name=name, timeout=timeout, out=out)[1]


def fed_batches(path) -> list[list]:
    """Record a script in a real child process; the batches of events its deriver was fed, to derive again."""
    from unittest import mock

    from viz.ingest.derive import Deriver
    seen: list = []
    feed = Deriver.feed

    def keep(self, batch):
        seen.append(list(batch))
        return feed(self, batch)
    with mock.patch.object(Deriver, "feed", keep):
        record(str(path))
    return seen


def derived(batches: list[list], pure_python: bool = False) -> list:
    """What a fresh deriver makes of `batches`: the C one (viz/ingest/_derive.c), or with `pure_python` derive.py's
    own code."""
    from unittest import mock

    from viz import protocol
    from viz.ingest import derive

    def run() -> list:
        d = derive.Deriver()
        return [r for batch in batches for r in d.feed(batch)]
    if not pure_python:
        return run()
    with mock.patch.multiple(derive, _switches=None, _Task=derive._PyTask, _Hub=derive._PyHub,
                             _expand_runs=protocol.expand_runs):
        return run()


def streamed_until_signalled(path, pieces: int) -> tuple[int, list[str]]:
    """Record a program that runs until SIGUSR1 (or a deadline of its own): poll its session, send the signal once
    `pieces` polls have brought running spans, and return (such polls seen before the signal, its output lines)."""
    import signal

    session = Session(str(path), timeout=30).start()
    seen, out = 0, []
    try:
        while not session.done:
            records = session.poll(0.05)
            out += [r["text"] for r in records if type(r) is dict and r["k"] == "output"]
            if seen < pieces and any(type(r) is StateRecord and r.state == "running" for r in records):
                seen += 1
                if seen == pieces:
                    os.kill(session.proc.pid, signal.SIGUSR1)
    finally:
        session.close()
    return seen, out


def lane(trace: Trace, name: str):
    found = [ln for ln in trace.lanes if ln.name == name]
    assert found, f"no lane {name!r} in {[ln.name for ln in trace.lanes]}"
    return found[0]


def spans(trace: Trace, name: str, state: str | None = None):
    return [s for s in trace.spans(lane(trace, name)) if state is None or s.state == state]


def texts(trace: Trace, task_name: str | None = None) -> list[str]:
    names = {ln.task: ln.name for ln in trace.lanes}
    return [o.text for o in trace.outputs if task_name is None or names.get(o.task) == task_name]


def viz(*args: str, timeout: float = 60, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run the real `viz` command line in a subprocess."""
    return subprocess.run([sys.executable, "-m", "viz", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def gone(pid: int | None, within: float = 5.0) -> bool:
    """The process has ended (or is a zombie whose parent, gone too, left it to init) within `within` s: a kill
    takes effect a moment after it is sent."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


_PORT = re.compile(r"\b\d{4,5}\b")  # port numbers (fds and lines are smaller)


def normal_records(records: list) -> dict:
    """Each task's records in order (keyed by the task's name), without timings: times dropped, port numbers masked, the loops' records and
    late wake-ups left out (they depend on how long things took), and so is the order between tasks: tasks are keyed
    by name, not by id (a thread pool's worker and the hub can be created in either order), with the ids inside
    records replaced by names too. Two recordings of one program made differently (the C hot paths, their Python
    fallbacks) compare equal this way."""
    names = {r["task"]: _PORT.sub("PORT", str(r.get("name"))) for r in records
             if isinstance(r, dict) and r.get("k") == "task"}
    loops = {r["task"] for r in records if isinstance(r, dict) and r.get("k") == "task" and r.get("kind") == "loop"}
    per_task: dict = {}
    for r in records:
        if isinstance(r, StateRecord):
            _, _, task, state, reason, file, line, held = r
            if task in loops or (state == "ready" and reason and re.search(r"(readable|writable|timer fired)$", reason)):
                continue
            per_task.setdefault(task, []).append((state, _PORT.sub("PORT", reason or ""), file, line, held))
        elif r.get("k") in ("task", "output", "end"):
            per_task.setdefault(r.get("task"), []).append(tuple(
                (k, names.get(v) if k in ("task", "parent") else _PORT.sub("PORT", v) if isinstance(v, str) else v)
                for k, v in sorted(r.items()) if k != "t"))
    out: dict = {}
    for task, recs in per_task.items():
        out.setdefault(names.get(task), []).append(recs)
    # each name's records: those of its tasks one after another, the tasks in a fixed order
    return {name: [r for recs in sorted(tasks, key=repr) for r in recs] for name, tasks in out.items()}


def record_with(path, monkeypatch, pure: bool) -> tuple[dict, Trace]:
    """Record a script with the C hot paths (pure=False) or their pure-Python fallbacks (VIZ_PURE_PYTHON=1): its
    records as normal_records gives them, and its trace."""
    if pure:
        monkeypatch.setenv("VIZ_PURE_PYTHON", "1")
    else:
        monkeypatch.delenv("VIZ_PURE_PYTHON", raising=False)
    records: list = []
    session = Session(str(path), [], timeout=30)
    trace = Trace(session.header)
    session.start()
    try:
        session.run(lambda batch: (records.extend(batch), trace.add_many(batch)))
    finally:
        session.close()
    return normal_records(records), trace


@pytest.fixture(scope="session")
def scenario_traces():
    """Every scenario, recorded once for the whole test session: {name: Trace} (tests must not change them)."""
    from viz.scenarios import list_scenarios
    return {s.name: record(s.name, timeout=30) for s in list_scenarios()}


@pytest.fixture
def script(tmp_path):
    """Write a Python script into a temp folder and return its path."""
    def write(source: str, name: str = "script.py") -> Path:
        p = tmp_path / name
        p.write_text(source, encoding="utf-8")
        return p
    return write
