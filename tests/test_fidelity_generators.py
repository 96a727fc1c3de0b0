"""Generators record the same states on Python 3.11 (a profile function) and 3.12+ (sys.monitoring): real small
programs with a known timeline, recorded in real child processes, checked for their states, reasons and times."""

from __future__ import annotations

import sys

import pytest

from conftest import lane, record, run_session, spans, texts

MONITORING = hasattr(sys, "monitoring")


def about(seconds: float, low: float = 0.8, high: float = 2.5):
    """A span of a `seconds` sleep, as recorded on a shared machine: a little shorter at worst, maybe much longer."""
    return lambda d: seconds * low <= d <= seconds * high


def states(trace, name: str) -> list[tuple[str, str | None]]:
    return [(s.state, s.reason) for s in spans(trace, name)]


def test_baozi_consumers_and_producer_take_turns_in_the_same_states_on_every_python():
    trace = record("baozi")
    sends = []
    for n in range(5):
        sends += [("blocked", "con.send(n)"), ("running", None), ("blocked", "con2.send(n)"), ("running", None)]
    assert states(trace, "main") == [("running", None), ("blocked", "con.__next__()"), ("running", None),
                                     ("blocked", "con2.__next__()"), ("running", None)] + sends
    for name in ("consumer('c1')", "consumer('c2')"):  # started once, then sent five baozi
        assert states(trace, name) == [("running", None), ("blocked", "waiting at yield")] * 6
    running = sorted((s for ln in trace.lanes for s in trace.spans(ln) if s.state == "running"),
                     key=lambda s: s.start)
    assert all(b.start >= a.end - 1e-6 for a, b in zip(running, running[1:])), "one lane runs at a time"


def test_a_consumer_generator_that_sleeps_blocks_its_own_lane_and_the_sender_waits_on_the_send(script):
    path = script("import time\n"
                  "def consumer():\n    while True:\n        item = yield\n        time.sleep(0.1)\n"
                  "        print('ate', item)\n"
                  "def producer(con):\n    next(con)\n    for i in range(3):\n        time.sleep(0.15)\n"
                  "        con.send(i)\n"
                  "con = consumer()\nproducer(con)\n")
    trace = record(str(path))
    naps = [s for s in spans(trace, "consumer()", "blocked") if s.reason == "time.sleep(0.1)"]
    assert len(naps) == 3 and all(map(about(0.1), (s.duration for s in naps)))
    waits = [s for s in spans(trace, "consumer()", "blocked") if s.reason == "waiting at yield"]
    assert sum(1 for s in waits if about(0.15)(s.duration)) >= 3  # the producer's sleeps, between the sends
    sent = [s for s in spans(trace, "main", "blocked") if s.reason == "con.send(i)"]
    assert len(sent) == 3 and all(map(about(0.1), (s.duration for s in sent)))
    for send, nap in zip(sent, naps):  # the sender waits exactly while the consumer eats
        assert nap.start == pytest.approx(send.start, abs=0.01) and nap.end == pytest.approx(send.end, abs=0.01)
    assert [s.reason for s in spans(trace, "main", "blocked") if "sleep" in s.reason] == ["time.sleep(0.15)"] * 3
    assert texts(trace, "consumer()") == ["ate 0", "ate 1", "ate 2"]


def test_a_generator_closed_early_ends_its_lane_at_the_close_and_runs_its_finally_there(script):
    path = script("import time\n"
                  "def ticker():\n    try:\n        while True:\n            n = yield\n            print('tick', n)\n"
                  "    finally:\n        print('cleanup')\n"
                  "def plain():\n    while True:\n        yield\n"
                  "t = ticker()\nnext(t)\nt.send(1)\np = plain()\nnext(p)\n"
                  "time.sleep(0.2)\nt.close()\np.close()\nprint('closed')\ntime.sleep(0.2)\n")
    trace = record(str(path))
    closed_at = spans(trace, "main", "blocked")[-1].start  # the second sleep starts right after the closes
    assert about(0.2)(trace.duration - closed_at)
    for name in ("ticker()", "plain()"):
        assert lane(trace, name).ended == pytest.approx(closed_at, abs=0.02), name
        waits = [s for s in spans(trace, name, "blocked") if s.reason == "waiting at yield"]
        assert any(about(0.2)(s.duration) and s.end == pytest.approx(closed_at, abs=0.02) for s in waits), name
        assert all(s.start <= closed_at + 0.02 for s in spans(trace, name)), f"{name} has no span after it closed"
    assert texts(trace, "ticker()") == ["tick 1", "cleanup"]  # the finally runs on the generator's lane
    assert texts(trace, "main") == ["closed"]


def test_a_generator_that_raises_ends_its_lane_and_its_caller_goes_on(script):
    path = script("import time\n"
                  "def parse(lines):\n    for line in lines:\n        time.sleep(0.1)\n"
                  "        if line == 'bad':\n            raise ValueError(line)\n        yield int(line)\n"
                  "try:\n    for v in parse(['1', 'bad', '3']):\n        print('got', v)\n"
                  "except ValueError:\n    print('bad input')\ntime.sleep(0.2)\n")
    trace = record(str(path))
    name = "parse(['1', 'bad', '3…)"
    naps = [s for s in spans(trace, name, "blocked") if s.reason == "time.sleep(0.1)"]
    assert len(naps) == 2 and all(map(about(0.1), (s.duration for s in naps)))
    assert lane(trace, name).ended == pytest.approx(naps[-1].end, abs=0.02), "ended when it raised"
    waits = [s for s in spans(trace, "main", "blocked") if "parse" in s.reason]  # the for loop's wording varies
    assert len(waits) == 2 and all(map(about(0.1), (s.duration for s in waits)))
    after = spans(trace, "main", "blocked")[-1]
    assert after.reason == "time.sleep(0.2)" and after.start == pytest.approx(naps[-1].end, abs=0.02)
    assert texts(trace, "main") == ["got 1", "bad input"]


def test_yield_from_blocks_the_outer_generator_while_the_inner_one_runs(script):
    path = script("import time\n"
                  "def inner():\n    time.sleep(0.1)\n    yield 1\n    time.sleep(0.1)\n    yield 2\n"
                  "def outer():\n    yield from inner()\n    yield 3\n"
                  "for v in outer():\n    print('got', v)\n    time.sleep(0.05)\n")
    trace = record(str(path))
    naps = [s for s in spans(trace, "inner()", "blocked") if s.reason == "time.sleep(0.1)"]
    assert len(naps) == 2 and all(map(about(0.1), (s.duration for s in naps)))
    delegating = [s for s in spans(trace, "outer()", "blocked") if s.reason == "yield from inner()"]
    assert len(delegating) == 3  # two items and the inner generator's return
    for d, nap in zip(delegating, naps):
        assert d.start == pytest.approx(nap.start, abs=0.01) and d.end == pytest.approx(nap.end, abs=0.01)
    inner_end, outer_end = lane(trace, "inner()").ended, lane(trace, "outer()").ended
    assert inner_end == pytest.approx(delegating[-1].end, abs=0.01)
    assert about(0.05)(outer_end - inner_end), "outer yields 3 once inner returned, then finishes"
    assert [s.reason for s in spans(trace, "outer()", "blocked")].count("waiting at yield") == 3
    assert texts(trace, "main") == ["got 1", "got 2", "got 3"]


def test_a_generator_thrown_into_keeps_its_lane_if_it_catches_and_ends_it_if_it_does_not(script):
    path = script("import time\n"
                  "def guard():\n    while True:\n        try:\n            yield\n"
                  "        except KeyError:\n            print('caught')\n"
                  "g = guard()\nnext(g)\ntime.sleep(0.1)\ng.throw(KeyError)\ntime.sleep(0.1)\n"
                  "try:\n    g.throw(IndexError)\nexcept IndexError:\n    print('escaped')\ntime.sleep(0.1)\n")
    trace = record(str(path))
    sleeps = [s for s in spans(trace, "main", "blocked") if s.reason == "time.sleep(0.1)"]
    assert len(sleeps) == 3 and all(map(about(0.1), (s.duration for s in sleeps)))
    waits = [s for s in spans(trace, "guard()", "blocked") if s.reason == "waiting at yield"]
    assert sum(1 for s in waits if about(0.1)(s.duration)) == 2, "waiting before each throw"
    assert lane(trace, "guard()").ended == pytest.approx(sleeps[-1].start, abs=0.02)
    assert texts(trace, "guard()") == ["caught"]
    assert texts(trace, "main") == ["escaped"]


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is Python 3.12+")
def test_on_3_12_no_profile_function_is_set_and_only_the_generators_code_has_events(script):
    path = script("import sys\n"
                  "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
                  "def sizes():\n    yield 5\n    yield 6\n"
                  "print('profile', sys.getprofile())\n"
                  "tool = next(t for t in range(6) if sys.monitoring.get_tool(t) == 'viz')\n"
                  "print('fib events', sys.monitoring.get_local_events(tool, fib.__code__))\n"
                  "print('sizes events', sys.monitoring.get_local_events(tool, sizes.__code__) > 0)\n"
                  "print('total', sum(fib(n) for n in sizes()))\n")
    trace = record(str(path))
    assert texts(trace, "main") == ["profile None", "fib events 0", "sizes events True", "total 13"]
    assert states(trace, "sizes()") == [("running", None), ("blocked", "waiting at yield")] * 2 + [("running", None)]


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is Python 3.12+")
def test_on_3_12_a_script_profiling_itself_with_cprofile_keeps_its_generators_followed(script):
    """cProfile takes sys.monitoring's profiler tool id on 3.12+: viz leaves it free. (On 3.11 cProfile replaces
    the profile function, and the generators go unseen.)"""
    path = script("import cProfile, pstats\n"
                  "def gen():\n    yield 1\n    yield 2\n"
                  "def main():\n    return sum(gen())\n"
                  "pr = cProfile.Profile()\npr.enable()\nprint('sum', main())\npr.disable()\n"
                  "print('profiled', any(k[2] == 'main' for k in pstats.Stats(pr).stats))\n")
    trace = record(str(path))
    assert texts(trace, "main") == ["sum 3", "profiled True"]
    assert states(trace, "gen()") == [("running", None), ("blocked", "waiting at yield")] * 2 + [("running", None)]
    assert [s.reason for s in spans(trace, "main", "blocked")] == ["sum(gen())"] * 3


def test_every_way_of_following_generators_records_the_same_states(script, monkeypatch):
    """sys.monitoring (3.12+), the profile function with its C filter, and the pure-Python profile function."""
    path = script("import time\n"
                  "def inner():\n    time.sleep(0.05)\n    yield 1\n    yield 2\n"
                  "def outer():\n    yield from inner()\n    raise ValueError('late')\n"
                  "def guard():\n    while True:\n        try:\n            yield\n"
                  "        except KeyError:\n            pass\n"
                  "g = guard()\nnext(g)\ng.throw(KeyError)\n"
                  "try:\n    for v in outer():\n        print('got', v)\nexcept ValueError:\n    print('late')\n"
                  "time.sleep(0.1)\n")

    def lanes(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        trace = run_session(path, timeout=20)[1]
        for name in env:
            monkeypatch.delenv(name)
        return {ln.name: ([(s.state, s.reason) for s in trace.spans(ln)], ln.ended < trace.duration - 0.05)
                for ln in trace.lanes}  # (states, ended before the final sleep)
    first = lanes()
    assert set(first) == {"main", "guard()", "outer()", "inner()"}
    assert first["inner()"][1] and first["outer()"][1] and not first["guard()"][1]
    assert lanes(VIZ_GENERATOR_HOOK="profile", VIZ_PURE_PYTHON="1") == first
    if MONITORING:  # the default was sys.monitoring: the profile function with the C filter too
        assert lanes(VIZ_GENERATOR_HOOK="profile") == first


def test_generators_in_two_greenlets_keep_to_their_own_greenlet(script):
    """Each greenlet resumes its own generator: a generator's lane never shows the other greenlet's calls, and each
    generator ends when its own greenlet has drained it."""
    path = script("import gevent\n"
                  "def ticks(k):\n    for i in range(k):\n        gevent.sleep(0.05)\n        yield i\n"
                  "def job(k):\n    print(k, list(ticks(k)))\n"
                  "gevent.joinall([gevent.spawn(job, 2), gevent.spawn(job, 3)])\n")
    trace = record(str(path))
    for k in (2, 3):
        assert texts(trace, f"job({k})") == [f"{k} {list(range(k))}"]
        assert {s.reason for s in spans(trace, f"ticks({k})", "blocked")} == {"waiting at yield"}
        assert "list(ticks(k))" in {s.reason for s in spans(trace, f"job({k})", "blocked")}
        started = spans(trace, f"ticks({k})")[0].start
        assert about(0.05 * k)(lane(trace, f"ticks({k})").ended - started)
