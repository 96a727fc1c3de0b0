"""The headless command line, run as a user runs it: real subprocesses, real child processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, viz
from viz import __version__, native
from viz.views import MIN_WIDTH
from viz.scenarios import list_scenarios
from viz.trace.model import Trace

DATA = Path(__file__).parent / "data"


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


# ---- issue 17: the command line's report, widths, colours, exit statuses, Ctrl-C and timeouts ----------------------

FIGURE = re.compile(r"\d+(?:\.\d+)? (?:ns|µs|ms|s)(?!\S)|(?<!\S)-(?!\S)")  # a totals figure, or '-' for none


def totals_rows(text: str) -> dict[str, list[str]]:
    """The totals table of a report: each task's figures, by the task's name."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:5] == ["task", "running", "ready", "blocked",
                                                                           "idle"])
    rows = {}
    for line in lines[start + 1:]:
        if line.startswith("the program ") or line.startswith("note:") or not line.strip():
            break
        name, rest = line.split(None, 1)
        rows[name] = FIGURE.findall(rest)
    return rows


def test_totals_and_wall_time_use_units_that_fit_so_microseconds_never_read_zero(script):
    path = script("import greenlet\ndef f():\n    return 1\ngreenlet.greenlet(f).switch()\n")
    result = viz("record", str(path), "--no-color", "--width", "100")
    assert result.returncode == 0, result.stderr
    assert "0.000 s" not in result.stdout
    rows = totals_rows(result.stdout)
    assert set(rows) == {"main", "f"} and all(len(figures) == 5 for figures in rows.values()), rows
    running = rows["f"][0]  # f ran for microseconds (longer on a loaded machine): a figure in its unit, not 0
    assert re.fullmatch(r"\d+(\.\d+)? (ns|µs|ms)", running) and float(running.split()[0]) > 0, running
    last = result.stdout.strip().splitlines()[-1]
    assert re.search(r"wall time \d+(\.\d+)? ms · .* done in \d+(\.\d+)? (ms|µs): \d+\.\dx$", last), last


@pytest.mark.parametrize("command", [["record", "greenlet_switch"], ["show", str(DATA / "baozi.jsonl"), "--text"]])
@pytest.mark.parametrize("width", ["0", "-5", "40", f"{MIN_WIDTH - 1}", "wide"])
def test_a_width_under_the_minimum_is_refused_with_one_clear_line(command, width):
    result = viz(*command, "--width", width)
    assert result.returncode == 2
    assert result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"viz {command[0]}: error: argument --width: "), result.stderr
    assert f"must be at least {MIN_WIDTH} columns" in last or "not a whole number of columns: 'wide'" in last
    assert "Traceback" not in result.stderr


def test_the_help_says_the_minimum_width():
    for command in ("record", "show"):
        assert f"at least {MIN_WIDTH}" in " ".join(viz(command, "--help").stdout.split())


def test_at_the_minimum_width_the_report_fits_and_every_figure_is_whole():
    result = viz("show", str(DATA / "gevent_sleepers.jsonl"), "--text", "--width", str(MIN_WIDTH))
    assert result.returncode == 0, result.stderr
    drawn = [line for line in result.stdout.splitlines() if " │ " not in line]  # the program's lines are as printed
    assert drawn and all(len(line) <= MIN_WIDTH for line in drawn), max(drawn, key=len)
    rows = totals_rows(result.stdout)
    assert set(rows) == {"main", "fun", "inner", "outer", "hub"}
    assert all(len(figures) == 5 for figures in rows.values()), rows
    table = result.stdout[result.stdout.index("task "):]
    assert "…" not in table
    assert rows["fun"][2] == "2.00 s" and rows["hub"][3] == "2.00 s"


def in_a_terminal(*args: str, env: dict[str, str]) -> str:
    """Run the real `viz` with its stdout and stderr on a pseudo-terminal; everything it wrote there."""
    import pty
    import select
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "viz", *args], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=env)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, "viz wrote nothing for 60 s"
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the terminal's other end is closed, viz is done
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        proc.wait(30)
    assert proc.returncode == 0, out
    return out.decode("utf-8", "replace")


COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7]|4[0-8]|10[0-7])(?:;[0-9;]*)?m")  # SGR with a colour in it


@pytest.mark.parametrize("no_color, coloured", [(None, True), ("", True), ("1", False), ("yes please", False)])
def test_no_color_in_the_environment_turns_colour_off_on_a_terminal(no_color, coloured):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM")}
    env["TERM"] = "xterm-256color"
    if no_color is not None:
        env["NO_COLOR"] = no_color  # https://no-color.org: set and not empty turns colour off
    text = in_a_terminal("show", str(DATA / "baozi.jsonl"), "--text", "--width", "100", env=env)
    assert bool(COLOUR.search(text)) == coloured
    assert bool(re.search(r"^main +RRR", text, re.M)) != coloured  # with colour off, the states are letters
    assert ("█" in text) == coloured


def test_output_that_is_not_a_terminal_gets_no_colour_and_letters():
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    result = subprocess.run([sys.executable, "-m", "viz", "show", str(DATA / "baozi.jsonl"), "--text"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout and "█" not in result.stdout and "R running" in result.stdout


@pytest.mark.parametrize("source, status", [
    ("print('done')\n", 0),
    ("import sys\nsys.exit(3)\n", 3),
    ("import os\nprint('last words')\nos._exit(5)\n", 5),
    ("raise ValueError('no')\n", 1),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", 128 + 9),
])
def test_record_exits_with_the_programs_own_exit_status(script, source, status):
    result = viz("record", str(script(source)), "--quiet")
    assert result.returncode == status, (result.stdout, result.stderr)


def test_the_exit_statuses_are_in_the_help_and_the_docs():
    help_text = viz("record", "--help").stdout
    guarantees = (ROOT / "docs" / "guarantees.md").read_text()
    for status in ("128+N", "124", "130"):
        assert status in help_text and f"`{status}`" in guarantees


def test_a_timeout_counts_the_programs_time_so_the_wall_time_is_the_runs(script, tmp_path):
    path = script("import time\nprint('started', flush=True)\nwhile True:\n    time.sleep(0.05)\n")
    out = tmp_path / "t.jsonl"
    result = viz("record", str(path), "--timeout", "1", "-o", str(out), "--no-color")
    trace = Trace.load(out)
    assert trace.exit["outcome"] == "timeout"
    assert 1.0 <= trace.duration < 3.0  # not 1 s less the interpreter's start
    wall = re.search(r"timed out: stopped after the 1 s timeout · wall time (\d+\.\d+) s · ", result.stdout.strip())
    assert wall and float(wall.group(1)) >= 1.0, result.stdout.splitlines()[-1]
    assert result.returncode == 124, result.stderr


def wait_for_line(fifo, timeout: float = 60) -> str:
    """The first line a program writes into the named pipe `fifo` (it opens it when it gets there)."""
    import select
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # at once, writer or not; select then waits for its line
    try:
        data = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in data:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"the program did not write to {fifo} within {timeout} s"
            chunk = os.read(fd, 4096)
            assert chunk or data, "the program closed the pipe without a line"
            data += chunk
        return data.decode().split("\n")[0]
    finally:
        os.close(fd)


@pytest.mark.parametrize("keep", [True, False])
def test_ctrl_c_during_record_prints_the_report_says_where_the_trace_went_and_exits_130(script, tmp_path, keep):
    fifo = tmp_path / "ready"
    os.mkfifo(fifo)
    path = script("import sys, time\nprint('started', flush=True)\nwith open(sys.argv[1], 'w') as f:\n"
                  "    f.write('running\\n')\nwhile True:\n    time.sleep(0.05)\n")
    out = tmp_path / "t.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "viz", "record", str(path), "--no-color", "--width", "100",
                             *(["-o", str(out)] if keep else []), "--", str(fifo)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for_line(fifo) == "running"  # the program is under way, past its first line of output
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "main │ started" in stdout  # the report: the output so far, the lanes and the totals
    assert set(totals_rows(stdout)) == {"main"}
    assert stdout.strip().splitlines()[-1].startswith("the program was interrupted · wall time ")
    assert re.search(r"^viz: Ctrl-C stopped the program at \d+(\.\d+)? (ms|s); kept its [\d,]+ events up to then$",
                     stderr, re.M), stderr
    assert "Traceback" not in stderr
    if keep:
        assert f"trace written to {out}" in stderr
        trace = Trace.load(out)
        assert trace.exit["outcome"] == "interrupted" and [o.text for o in trace.outputs] == ["started"]
    else:
        assert "the trace was not saved (-o FILE keeps it)" in stderr


def test_a_binary_trace_exports_to_json_lines_and_back_with_every_span_kept(script, tmp_path):
    path = script("import gevent\ndef f():\n    gevent.sleep(0.2)\ngevent.joinall([gevent.spawn(f)])\n")
    binary, lines, again = tmp_path / "run.viztrace", tmp_path / "run.jsonl", tmp_path / "again.viztrace"
    assert viz("record", str(path), "-q", "-o", str(binary)).returncode == 0
    assert binary.read_bytes()[:4] == b"\x89VIZ"
    result = viz("export", str(binary), "--format", "jsonl", "-o", str(lines))
    assert result.returncode == 0 and "JSON Lines" in result.stderr, result.stderr
    assert json.loads(lines.read_text().splitlines()[0])["viz_trace"] == 1
    assert viz("export", str(lines), "--format", "viztrace", "-o", str(again)).returncode == 0
    first, last = Trace.load(binary), Trace.load(again)
    assert [(ln.name, list(ln.starts), bytes(ln.states)) for ln in first.lanes] == \
        [(ln.name, list(ln.starts), bytes(ln.states)) for ln in last.lanes]
    f = next(ln for ln in last.lanes if ln.name == "f")
    sleep = [last.span(f, i) for i in range(len(f)) if last.span(f, i).reason == "gevent.sleep(0.2)"]
    assert len(sleep) == 1 and 0.15 <= sleep[0].duration <= 0.6
