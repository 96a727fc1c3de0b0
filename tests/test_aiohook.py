"""The C step hook of asyncio tasks (viz/recorder/_aiohook.c) records what the Python methods (VIZ_PURE_PYTHON=1,
the reference) record: the same programs, recorded both ways in real child processes, give the same records."""

from __future__ import annotations

import re

import pytest

from conftest import spans
from viz.ingest.session import Session
from viz.trace.model import Trace
from viz.trace.record import StateRecord

pytest.importorskip("viz.recorder._aiohook")

YIELDS = """\
import asyncio


class Yield:  # an awaitable of the program's own: a bare yield from a generator
    def __await__(self):
        yield


async def inner(n):
    for _ in range(n):
        await asyncio.sleep(0)
    await Yield()


async def worker(n):
    for i in range(n):
        await asyncio.sleep(0)
        if i % 2:
            await inner(2)
        else:
            await asyncio.sleep(0)
    await asyncio.sleep(0.1)
    print("done", n)


async def failing():
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    raise ValueError("boom")


async def napper():
    for _ in range(3):
        await asyncio.sleep(0)
    await asyncio.sleep(10)


async def consumer(q):
    while True:
        item = await q.get()
        if item is None:
            return
        await asyncio.sleep(0)


async def main():
    q = asyncio.Queue()
    c = asyncio.create_task(consumer(q), name="consumer")
    nap = asyncio.create_task(napper())
    f = asyncio.create_task(failing())
    await asyncio.create_task(asyncio.sleep(0))  # a library coroutine as a task: never cached
    await asyncio.gather(worker(4), worker(6))
    for i in range(3):
        await q.put(i)
        await asyncio.sleep(0)
    await q.put(None)
    await c
    nap.cancel()
    try:
        await f
    except ValueError:
        print("failed")
    await asyncio.sleep(0)


asyncio.run(main())
"""

TWO_LOOPS = """\
import asyncio


async def spin(n):
    for _ in range(n):
        await asyncio.sleep(0)
    return n


async def main(k):
    return sum(await asyncio.gather(*[spin(n) for n in range(k)]))


print(asyncio.run(main(3)), asyncio.run(main(5)))  # a second loop: its own lane, the same places
"""

_PORT = re.compile(r"\b\d{4,5}\b")


def _normal(records: list) -> dict:
    """Each task's records in order, without timings: the loops' own records and the wake-ups whose reason depends
    on how long things took (timer fired, fd ready) left out, and so is the order between tasks."""
    loops = {r["task"] for r in records if isinstance(r, dict) and r.get("k") == "task" and r.get("kind") == "loop"}
    out: dict = {}
    for r in records:
        if isinstance(r, StateRecord):
            _, _, task, state, reason, file, line, held = r
            if task in loops or (state == "ready" and reason and re.search(r"(readable|writable|timer fired)$", reason)):
                continue
            out.setdefault(task, []).append((state, _PORT.sub("PORT", reason or ""), file, line, held))
        elif r.get("k") in ("task", "output", "end"):
            out.setdefault(r.get("task"), []).append(tuple((k, v) for k, v in sorted(r.items()) if k != "t"))
    return out


def _record(path, monkeypatch, pure: bool) -> tuple[dict, Trace]:
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
    return _normal(records), trace


def test_yields_blocks_errors_and_cancellation_record_the_same_with_the_c_step_hook_as_with_the_python_one(
        script, monkeypatch):
    path = script(YIELDS)
    c, c_trace = _record(path, monkeypatch, False)
    pure, pure_trace = _record(path, monkeypatch, True)
    assert c == pure
    yields = [r for task in c.values() for r in task if isinstance(r[1], str) and r[1].endswith("— yields")]
    assert len(yields) >= 40  # the steps the C hook explains from its cache, far more than the places
    assert {r[1] for r in yields} >= {"await asyncio.sleep(0) — yields", "yield — yields"}
    for trace in (c_trace, pure_trace):  # and the timeline: a 0.1 s sleep after the yields is a 0.1 s blocked span
        for name in ("worker(4)", "worker(6)"):
            slept, = [s for s in spans(trace, name, "blocked") if s.reason == "await asyncio.sleep(0.1)"]
            assert 0.08 <= slept.end - slept.start <= 0.3


def test_a_second_loop_in_the_same_program_records_the_same_with_the_c_step_hook(script, monkeypatch):
    path = script(TWO_LOOPS)
    c, _ = _record(path, monkeypatch, False)
    pure, _ = _record(path, monkeypatch, True)
    assert c == pure
    assert any(r[0] == ("k", "output") or ("text", "3 10") in r for task in c.values() for r in task)


def test_the_c_step_hook_is_the_loops_call_soon_unless_turned_off(script, monkeypatch):
    path = script("import asyncio\n"
                  "async def main():\n"
                  "    print(type(asyncio.get_running_loop().call_soon).__name__)\n"
                  "asyncio.run(main())\n")
    for pure, kind in ((False, "builtin_function_or_method"), (True, "method")):
        normal, _ = _record(path, monkeypatch, pure)
        outputs = [dict(r)["text"] for task in normal.values() for r in task
                   if isinstance(r, tuple) and r and isinstance(r[0], tuple) and dict(r).get("k") == "output"]
        assert outputs == [kind]
