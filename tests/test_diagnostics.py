"""Findings in plain language (viz.views.diagnostics) on real runs: the seed's lessons, and the CLI that reports them."""

from __future__ import annotations

import json

import pytest

from conftest import record, viz
from viz.views.diagnostics import diagnose
from viz.views.thresholds import THRESHOLDS, parse_thresholds


@pytest.fixture(scope="module")
def findings():
    cache: dict[str, list] = {}

    def of(name: str, **limits):
        key = f"{name}{sorted(limits.items())}"
        if key not in cache:
            cache[key] = diagnose(record(name, timeout=30), {**THRESHOLDS, **limits})
        return cache[key]
    return of


def test_sleepers_unpatched_names_the_time_sleep_that_held_the_loop_and_the_greenlets_it_starved(findings):
    found = [f for f in findings("sleepers_unpatched") if f.kind == "loop-blocked"]
    first = found[0]
    assert first.text.startswith("time.sleep(2) held the whole loop for"), first
    assert first.line == 13 and first.file == "sleepers_unpatched.py" and 1.9 <= first.duration <= 2.3, first
    assert "inner" in first.text and "outer(" in first.text, first.text  # the two it starved
    assert "gevent.sleep" in first.fix and "patch_all" in first.fix
    assert [f.text.split(" held")[0] for f in found] == ["time.sleep(2)", "time.sleep(1)", "time.sleep(0.5)"]


@pytest.mark.parametrize("name", ["gevent_sleepers", "sleepers_patched"])
def test_sleepers_that_yield_to_the_hub_have_no_finding_about_the_loop(findings, name):
    assert not [f for f in findings(name) if f.kind in ("loop-blocked", "long-run", "serial-io")], findings(name)


def test_crawler_serial_gets_the_serial_io_finding_and_crawler_gevent_does_not(findings):
    serial = [f for f in findings("crawler_serial") if f.kind == "serial-io"]
    assert len(serial) == 1 and serial[0].text.startswith("3 tasks did their I/O one after another"), serial
    assert "patch_all" in serial[0].fix
    assert not [f for f in findings("crawler_gevent") if f.kind == "serial-io"], findings("crawler_gevent")


def test_a_higher_threshold_drops_the_shorter_loop_blocking_calls(findings):
    found = [f for f in findings("sleepers_unpatched", **{"loop-blocked": 800.0}) if f.kind == "loop-blocked"]
    assert [round(f.duration) for f in found] == [2, 1], found


def test_a_greenlet_that_runs_without_switching_is_a_long_run_naming_who_it_starved(script):
    path = script(
        "import time, gevent\n"
        "def busy():\n    t = time.perf_counter()\n    while time.perf_counter() - t < 0.12:\n        pass\n"
        "def polite():\n    for _ in range(3):\n        gevent.sleep(0.01)\n"
        "gevent.joinall([gevent.spawn(busy), gevent.spawn(polite)])\n")
    found = diagnose(record(str(path)))
    runs = [f for f in found if f.kind == "long-run"]
    assert len(runs) == 1 and runs[0].task_name == "busy" and 0.1 <= runs[0].duration <= 0.3, found
    assert "polite" in runs[0].text
    assert not [f for f in found if f.kind == "starved"], found  # the long run already accounts for polite's wait


def test_thresholds_are_checked_with_a_one_line_reason():
    assert parse_thresholds(["starved=250"])["starved"] == 250.0
    for bad in ("starved", "nosuch=1", "starved=soon", "starved=-1"):
        with pytest.raises(ValueError):
            parse_thresholds([bad])


def test_fail_on_loop_blocked_exits_3_when_a_call_held_the_loop_and_0_when_none_did(script):
    blocking = script("import time, gevent\n"
                      "def slow():\n    time.sleep(0.05)\n"
                      "def other():\n    gevent.sleep(0.01)\n"
                      "gevent.joinall([gevent.spawn(slow), gevent.spawn(other)])\n", name="blocking.py")
    polite = script("import gevent\n"
                    "gevent.joinall([gevent.spawn(gevent.sleep, 0.05), gevent.spawn(gevent.sleep, 0.01)])\n",
                    name="polite.py")
    failed = viz("record", str(blocking), "--quiet", "--fail-on", "loop-blocked")
    assert failed.returncode == 3, failed.stderr
    assert "--fail-on loop-blocked (≥ 20 ms): 1 finding, the first: time.sleep(0.05)" in failed.stderr
    assert viz("record", str(blocking), "--quiet", "--fail-on", "loop-blocked=80").returncode == 0
    assert viz("record", str(polite), "--quiet", "--fail-on", "loop-blocked").returncode == 0
    bad = viz("record", str(polite), "--fail-on", "slow")
    assert bad.returncode == 2 and "'slow' is not a kind of finding" in bad.stderr


def test_json_gives_the_outcome_and_each_finding_with_its_moment_line_and_fix(script, tmp_path):
    path = script("import time, gevent\n"
                  "def slow():\n    time.sleep(0.05)\n"
                  "gevent.joinall([gevent.spawn(slow), gevent.spawn(gevent.sleep, 0.01)])\n")
    out = tmp_path / "t.jsonl"
    recorded = viz("record", str(path), "--json", "-o", str(out))
    doc = json.loads(recorded.stdout)
    assert doc["outcome"]["outcome"] == "finished"
    (finding,) = [f for f in doc["findings"] if f["kind"] == "loop-blocked"]
    assert finding["line"] == 3 and finding["task_name"] == "slow" and finding["fix"], finding
    shown = json.loads(viz("show", str(out), "--json").stdout)
    assert shown["findings"] == doc["findings"]  # the saved trace gives the same findings
    text = viz("show", str(out), "--text", "--no-color", "--width", "100").stdout
    assert "! loop-blocked" in text and "fix: " in text


def test_a_time_sleep_in_a_coroutine_is_found_holding_the_asyncio_loop_with_the_asyncio_fix(script):
    path = script("import asyncio, time\n"
                  "async def hog():\n    time.sleep(0.2)\n"
                  "async def tick():\n    for _ in range(3):\n        await asyncio.sleep(0.05)\n"
                  "async def main():\n    await asyncio.gather(hog(), tick())\n"
                  "asyncio.run(main())\n")
    (finding,) = [f for f in diagnose(record(str(path))) if f.kind == "loop-blocked"]
    assert finding.task_name == "hog()" and finding.line == 3 and 0.15 <= finding.duration <= 0.4, finding
    assert "tick()" in finding.text and "await asyncio.sleep" in finding.fix


def test_threads_fighting_over_a_lock_are_a_lock_contention_finding_naming_the_holder(script):
    path = script("import threading, time\nlock = threading.Lock()\n"
                  "def worker():\n    for _ in range(2):\n        with lock:\n            time.sleep(0.05)\n"
                  "ts = [threading.Thread(target=worker, name=f'w{i}') for i in range(3)]\n"
                  "for t in ts: t.start()\nfor t in ts: t.join()\n")
    (finding,) = [f for f in diagnose(record(str(path))) if f.kind == "lock-contention"]
    assert finding.text.startswith("threads waited ") and "Lock.acquire()" in finding.text, finding
    assert "held by w" in finding.text and finding.line == 5, finding
    assert 0.1 <= finding.duration <= 0.8, finding  # six 50 ms holds, the others waiting meanwhile
