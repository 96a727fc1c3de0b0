"""The C step hook of asyncio tasks (viz/recorder/_aiohook.c) records what the Python methods (VIZ_PURE_PYTHON=1,
the reference) record: the same programs, recorded both ways in real child processes, give the same records."""

from __future__ import annotations

import pytest

from conftest import record_with, spans

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

def test_yields_blocks_errors_and_cancellation_record_the_same_with_the_c_step_hook_as_with_the_python_one(
        script, monkeypatch):
    path = script(YIELDS)
    c, c_trace = record_with(path, monkeypatch, False)
    pure, pure_trace = record_with(path, monkeypatch, True)
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
    c, _ = record_with(path, monkeypatch, False)
    pure, _ = record_with(path, monkeypatch, True)
    assert c == pure
    assert any(r[0] == ("k", "output") or ("text", "3 10") in r for task in c.values() for r in task)


def test_the_c_step_hook_is_the_loops_call_soon_unless_turned_off(script, monkeypatch):
    path = script("import asyncio\n"
                  "async def main():\n"
                  "    print(type(asyncio.get_running_loop().call_soon).__name__)\n"
                  "asyncio.run(main())\n")
    for pure, kind in ((False, "builtin_function_or_method"), (True, "method")):
        normal, _ = record_with(path, monkeypatch, pure)
        outputs = [dict(r)["text"] for task in normal.values() for r in task
                   if isinstance(r, tuple) and r and isinstance(r[0], tuple) and dict(r).get("k") == "output"]
        assert outputs == [kind]
