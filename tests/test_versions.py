"""The interpreters viz records on: 3.11, 3.12 and 3.13, each tested; any other is refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import record, spans


def test_recording_on_an_untested_python_is_refused_in_one_line(tmp_path):
    """On an interpreter outside PYTHONS, `viz record` says so and records nothing (saved traces still open)."""
    code = ("import sys, viz.protocol as p; p.PYTHONS = ((3, 99),); from viz.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "record", "baozi", "-o", str(tmp_path / "t.jsonl")],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "viz records programs on Python 3.99" in lines[0]
    assert f"this is Python {sys.version_info[0]}.{sys.version_info[1]}" in lines[0]
    assert not (tmp_path / "t.jsonl").exists()
    from viz.protocol import PYTHONS, UnsupportedPython, check_python
    assert (3, 11) in PYTHONS and (3, 13) in PYTHONS
    for version in ((3, 10), (3, 14)):
        with pytest.raises(UnsupportedPython, match=r"3\.11, 3\.12, 3\.13; this is Python 3\.1[04]"):
            check_python(version)


def test_a_generator_waits_at_its_yield_and_ends_when_it_returns_on_this_python(script):
    """Where f_lasti points at a profile 'return' moved in 3.13 (to the RESUME after the yield)."""
    path = script("def gen():\n    x = yield 1\n    yield x\n\n\ng = gen()\nnext(g)\ng.send(5)\n"
                  "try:\n    next(g)\nexcept StopIteration:\n    print('done')\n")
    trace = record(str(path))
    waits = spans(trace, "gen()", "blocked")
    assert [s.reason for s in waits] == ["waiting at yield", "waiting at yield"]
    assert [s.line for s in waits] == [2, 3]
    (lane,) = [ln for ln in trace.lanes if ln.name == "gen()"]
    assert lane.ended is not None and lane.ended >= waits[-1].end
