"""The headless command line, run as a user runs it: real subprocesses, real child processes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import viz
from viz import __version__, native
from viz.scenarios import list_scenarios
from viz.trace.model import Trace


def test_viz_list_names_every_scenario_with_its_title():
    result = viz("list")
    assert result.returncode == 0
    for s in list_scenarios():
        assert any(line.startswith(s.name) and s.title in line for line in result.stdout.splitlines())
    assert len(list_scenarios()) >= 13


@pytest.mark.parametrize("command", [[], ["list"], ["record"], ["run"], ["show"], ["export"]])
def test_every_subcommand_has_help(command):
    result = viz(*command, "--help")
    assert result.returncode == 0
    assert "usage: viz" in result.stdout


def test_record_prints_output_swimlanes_a_legend_and_per_task_totals(tmp_path):
    out = tmp_path / "gs.jsonl"
    result = viz("record", "greenlet_switch", "-o", str(out), "--no-color", "--width", "100")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for lane_name in ("main", "test1", "test2"):
        assert any(line.startswith(lane_name) for line in text.splitlines())
    assert "running" in text and "ready" in text and "blocked" in text and "idle" in text  # legend and table
    assert "wall time" in text and "finished" in text
    assert "test1 │ 12" in text and "test2 │ 78" in text
    trace = Trace.load(out)
    assert [o.text for o in trace.outputs] == ["12", "56", "34", "78"]
    assert "greenlet_switch.py" in trace.sources and "gr1.switch()" in trace.sources["greenlet_switch.py"]


def test_record_a_script_by_path_passes_the_arguments_after_the_double_dash(script):
    path = script("import sys\nprint('args:', sys.argv[1:])\n")
    result = viz("record", str(path), "--no-color", "--", "one", "--two")
    assert result.returncode == 0, result.stderr
    assert "args: ['one', '--two']" in result.stdout


def test_a_script_that_raises_leaves_its_trace_with_the_traceback_and_exits_non_zero(script, tmp_path):
    path = script("print('before')\ndef f():\n    1 / 0\nf()\n")
    out = tmp_path / "t.jsonl"
    result = viz("record", str(path), "-o", str(out), "--no-color")
    assert result.returncode == 1
    assert "ZeroDivisionError" in result.stdout
    trace = Trace.load(out)
    assert trace.exit["outcome"] == "raised" and "ZeroDivisionError" in trace.exit["detail"]
    errors = [o for o in trace.outputs if o.stream == "stderr"]
    assert any("Traceback" in o.text for o in errors) and any("1 / 0" in o.text for o in errors)
    assert all(o.task == 1 for o in errors)
    assert "viz/recorder" not in "\n".join(o.text for o in errors), "the recorder's own frames are hidden"
    assert [o.text for o in trace.outputs if o.stream == "stdout"] == ["before"]


def test_a_script_that_never_ends_is_stopped_by_the_timeout_and_keeps_its_trace(script, tmp_path):
    path = script("import time\nprint('started', flush=True)\nwhile True:\n    time.sleep(0.05)\n")
    out = tmp_path / "t.jsonl"
    result = viz("record", str(path), "-o", str(out), "--timeout", "1", "--no-color")
    assert result.returncode != 0
    assert "timed out" in result.stdout
    trace = Trace.load(out)
    assert trace.exit["outcome"] == "timeout"
    assert [o.text for o in trace.outputs] == ["started"]
    assert trace.duration > 0.5


def test_os_exit_keeps_the_last_output(script, tmp_path):
    path = script("import os\nprint('last words')\nos._exit(3)\n")
    out = tmp_path / "t.jsonl"
    result = viz("record", str(path), "-o", str(out), "--quiet")
    assert result.returncode != 0
    trace = Trace.load(out)
    assert [o.text for o in trace.outputs] == ["last words"]
    assert trace.exit["outcome"] == "os._exit" and trace.exit["status"] == 3


@pytest.mark.parametrize("args, words", [
    (["record", "no_such_scenario"], "unknown scenario 'no_such_scenario'"),
    (["record", "missing/script.py"], "no such script"),
    (["show", "missing.jsonl", "--text"], "missing.jsonl: no such trace file"),
    (["export", "missing.jsonl", "-o", "x.json"], "missing.jsonl: no such trace file"),
])
def test_bad_input_gets_one_clear_line_and_a_non_zero_exit(args, words, tmp_path):
    result = viz(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("viz: error: ") and words in lines[0]
    assert "Traceback" not in result.stderr


def test_a_corrupt_trace_file_is_named_with_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"viz_trace": 1}\n{"k": "task", "t": 0, "task": 1, "name": "main", "kind": "main"}\nnot json\n')
    result = viz("show", str(bad), "--text")
    assert result.returncode == 2
    assert f"{bad}:3: not valid JSON" in result.stderr and "Traceback" not in result.stderr


def test_export_writes_the_trace_event_format_perfetto_opens(tmp_path):
    out = tmp_path / "gs.jsonl"
    assert viz("record", "gevent_sleepers", "-o", str(out), "--quiet").returncode == 0
    chrome = tmp_path / "gs.json"
    result = viz("export", str(out), "--format", "chrome", "-o", str(chrome))
    assert result.returncode == 0, result.stderr
    doc = json.loads(chrome.read_text())
    events = doc["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"main", "fun", "inner", "outer", "hub"} <= set(names.values())
    slices = [e for e in events if e["ph"] == "X"]
    assert {e["name"] for e in slices} <= {"running", "ready", "blocked", "idle"}
    fun = next(tid for tid, n in names.items() if n == "fun")
    sleep = [e for e in slices if e["tid"] == fun and e["args"]["reason"] == "gevent.sleep(2)"]
    assert len(sleep) == 1 and 1.9e6 < sleep[0]["dur"] < 2.3e6
    assert sleep[0]["args"]["line"].startswith("gevent_sleepers.py:")
    instants = [e for e in events if e["ph"] == "i"]
    assert any(e["args"]["text"].startswith("In the function fun") for e in instants)
    for tid in names:  # slices of one task never overlap
        mine = sorted((e["ts"], e["ts"] + e["dur"]) for e in slices if e["tid"] == tid)
        assert all(a[1] <= b[0] + 0.001 for a, b in zip(mine, mine[1:]))


def test_the_scenarios_are_found_from_any_folder_without_viz_scenarios(tmp_path, monkeypatch):
    monkeypatch.delenv("VIZ_SCENARIOS", raising=False)
    listed = viz("list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {"baozi", "gevent_sleepers"} <= {line.split()[0] for line in listed.stdout.splitlines()}
    recorded = viz("record", "gevent_sleepers", "--quiet", "-o", "t.jsonl", cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    assert (tmp_path / "t.jsonl").stat().st_size > 0


def test_version_says_the_c_hot_paths_are_in_use_or_names_each_one_missing(monkeypatch):
    monkeypatch.delenv("VIZ_PURE_PYTHON", raising=False)
    result = viz("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"viz {__version__} (Python ")
    gone = native.missing()
    if gone:  # a build without a C compiler
        assert "not built" in result.stdout
    else:
        assert "C hot paths in use: switch hook, deriver" in result.stdout
    for e in native.EXTENSIONS:
        assert (e.cost in result.stdout) == (e in gone)


def test_version_under_viz_pure_python_names_every_fallback_and_what_it_costs(monkeypatch):
    monkeypatch.setenv("VIZ_PURE_PYTHON", "1")
    result = viz("--version")
    assert result.returncode == 0, result.stderr
    n = len(native.EXTENSIONS)
    assert f"pure-Python fallback for {n} of {n} C hot paths (turned off by VIZ_PURE_PYTHON)" in result.stdout
    assert "4.6x slower, not 1.46x" in result.stdout and "1,911 vs 438 ns a record" in result.stdout
    assert all(f"{e.what} ({e.module.rpartition('.')[2]}): {e.cost}" in result.stdout for e in native.EXTENSIONS)


def test_version_names_an_extension_that_does_not_import_and_its_cost(monkeypatch):
    monkeypatch.delenv("VIZ_PURE_PYTHON", raising=False)
    blocked = "import sys; sys.modules['viz.ingest._derive'] = None; from viz.cli import main; main(['--version'])"
    result = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    gone = {e.module for e in native.missing()} | {"viz.ingest._derive"}
    assert f"pure-Python fallback for {len(gone)} of {len(native.EXTENSIONS)} C hot paths" in result.stdout
    assert "deriver (_derive): the viewer derives about 4x slower" in result.stdout
