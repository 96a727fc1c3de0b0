"""Broken programs: viz keeps every event it received, says how the run ended, and leaves nothing behind."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from conftest import ROOT, record, run_session, viz
from viz.ingest.session import Session
from viz.trace.model import Trace


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(pid))
    return found


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


run_script = run_session


def test_a_program_killed_with_sigkill_keeps_what_was_flushed_and_the_signal_is_named(script):
    path = script("import os, signal, time\nprint('before the kill')\ntime.sleep(0.3)\n"
                  "os.kill(os.getpid(), signal.SIGKILL)\n")
    _, trace = run_script(path)
    assert [o.text for o in trace.outputs] == ["before the kill"]
    assert trace.exit["outcome"] == "killed" and trace.exit["signal"] == "SIGKILL" and trace.exit["status"] is None


def test_a_crash_of_the_interpreter_is_reported_with_its_signal_and_the_crash_report(script):
    path = script("import ctypes, time\nprint('about to crash')\ntime.sleep(0.3)\nctypes.string_at(0)\n")
    _, trace = run_script(path)
    assert trace.exit["outcome"] == "crashed" and trace.exit["signal"] == "SIGSEGV"
    texts = [o.text for o in trace.outputs]
    assert texts[0] == "about to crash"
    assert any("Segmentation fault" in t for t in texts)


def test_sys_exit_with_a_status_is_an_exit_not_a_crash(script):
    path = script("import sys\nprint('bye')\nsys.exit(3)\n")
    session, trace = run_script(path)
    assert trace.exit["outcome"] == "exited" and trace.exit["status"] == 3
    assert [o.text for o in trace.outputs] == ["bye"]


def test_the_timeout_ends_the_whole_process_group_even_children_the_script_started(script):
    marker = "61.7231"
    path = script(f"import subprocess, time\np = subprocess.Popen(['sleep', '{marker}'])\nprint('child started')\n"
                  "while True:\n    time.sleep(0.05)\n")
    fds = _open_fds()
    session, trace = run_script(path, timeout=1)
    assert trace.exit["outcome"] == "timeout"
    assert "child started" in [o.text for o in trace.outputs]
    assert _processes_with(marker) == []
    assert session.proc.poll() is not None
    assert _open_fds() == fds, "the viewer closed every pipe it opened"


def test_a_program_that_ignores_sigterm_is_killed_after_the_grace_period(script):
    path = script("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('stubborn')\n"
                  "while True:\n    pass\n")
    _, trace = run_script(path, timeout=1)
    assert trace.exit["outcome"] == "timeout"
    assert [o.text for o in trace.outputs] == ["stubborn"]


def test_an_output_flood_keeps_a_bounded_number_of_lines_and_says_how_many_were_dropped(script):
    path = script("for i in range(20000):\n    print('line', i)\nprint('the end')\n")
    session, trace = run_script(path, max_output_lines=1000)
    assert len(trace.outputs) == 1000
    assert trace.outputs[-1].text == "line 999"
    note = trace.notes[-1]["text"]
    assert "kept the first 1,000 output lines" in note and "19,001 later lines" in note
    assert trace.exit["outcome"] == "finished"


def test_an_event_flood_past_the_record_limit_is_counted_and_the_outcome_still_known(script):
    path = script("import gevent\ndef spin():\n    for _ in range(2000):\n        gevent.sleep(0)\n"
                  "gevent.joinall([gevent.spawn(spin) for _ in range(5)])\n")
    session, trace = run_script(path, max_records=500)
    assert session.dropped > 10000
    assert any("events" in n["text"] and "dropped" in n["text"] for n in trace.notes)
    assert trace.exit["outcome"] == "finished"


def test_a_hundred_thousand_greenlets_that_never_end_are_stopped_by_the_timeout(script):
    path = script("import gevent\nprint('spawning')\n"
                  "gs = [gevent.spawn(gevent.sleep, 1000) for _ in range(100000)]\nprint('spawned')\n"
                  "gevent.joinall(gs)\n")
    session, trace = run_script(path, timeout=3)
    assert trace.exit["outcome"] == "timeout"
    assert "spawning" in [o.text for o in trace.outputs]
    assert session.proc.poll() is not None


def test_an_error_inside_a_recorder_hook_is_recorded_and_the_program_runs_on_unchanged(script):
    # The script sabotages the recorder's greenlet hook from inside, as a bug in viz would.
    path = script(
        "import sys, gevent\n"
        "hooks = sys.modules['viz_greenlet_hooks']\n"
        "def broken(*a):\n    raise RuntimeError('hook bug')\n"
        "hooks._why_waiting = broken\n"
        "def worker(n):\n    gevent.sleep(0.01)\n    print('worker', n, 'done')\n"
        "gevent.joinall([gevent.spawn(worker, n) for n in range(3)])\nprint('all done')\n")
    _, trace = run_script(path)
    assert [o.text for o in trace.outputs] == ["worker 0 done", "worker 1 done", "worker 2 done", "all done"]
    assert trace.exit["outcome"] == "finished"
    assert any("recorder error in greenlet switch hook" in n["text"] and "hook bug" in n["text"]
               for n in trace.notes)


def test_two_servers_recorded_at_once_do_not_interfere():
    from viz.scenarios import resolve
    sessions = [Session(resolve("select_server")[0]) for _ in range(2)]
    traces = [Trace(s.header) for s in sessions]
    for s in sessions:
        s.start()
    try:
        while not all(s.done for s in sessions):
            for s, t in zip(sessions, traces):
                t.add_many(s.poll(0.02))
    finally:
        for s in sessions:
            s.close()
    for t in traces:
        assert t.exit["outcome"] == "finished"
        assert sum("received reply" in o.text for o in t.outputs) == 6


_AUDIT_BINDS = """
import runpy, sys
binds = []
def hook(event, args):
    if event == "socket.bind":
        binds.append(args[1])
sys.addaudithook(hook)
try:
    runpy.run_path(sys.argv[1], run_name="__main__")
finally:
    sys.__stderr__.write("BINDS %r\\n" % (binds,))
"""


@pytest.mark.parametrize("name", [s.name for s in __import__("viz.scenarios").scenarios.list_scenarios()
                                  if "server" in s.name or "crawler" in s.name or "model" in s.name])
def test_scenario_servers_bind_only_to_loopback_on_a_port_the_system_picks(name):
    import ast
    import subprocess
    from viz.scenarios import resolve
    result = subprocess.run([sys.executable, "-c", _AUDIT_BINDS, str(resolve(name)[0])], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    binds = ast.literal_eval(result.stderr.rsplit("BINDS ", 1)[1].strip())
    assert binds, "the scenario binds a socket"
    assert all(addr == ("127.0.0.1", 0) for addr in binds), binds


def test_the_viewer_process_never_imports_gevent_or_the_script(tmp_path):
    code = ("import sys\nfrom viz.ingest.session import Session\nfrom viz.trace.model import Trace\n"
            "from viz.scenarios import resolve\n"
            "s = Session(resolve('sleepers_patched')[0]); t = Trace(s.header); s.start(); s.run(t.add_many)\n"
            "assert t.exit['outcome'] == 'finished', t.exit\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('gevent', 'greenlet', 'sleepers_patched')]\n"
            "print('imported:', bad)\n")
    import subprocess
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "imported: []" in result.stdout


def test_quitting_the_cli_with_ctrl_c_stops_the_child_and_keeps_the_trace(script, tmp_path):
    import signal
    import subprocess
    marker = "73.1197"
    path = script(f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'])\nprint('running', flush=True)\n"
                  "while True:\n    time.sleep(0.05)\n")
    out = tmp_path / "t.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "viz", "record", str(path), "-o", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the trace file shows the program's output: the run is really under way
    import time
    deadline = time.monotonic() + 30
    while not (out.exists() and "running" in out.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)  # polling for a condition, bounded
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    assert proc.returncode != 0
    trace = Trace.load(out)
    assert trace.exit is not None and trace.exit["outcome"] == "interrupted"
    assert _processes_with(marker) == []


def test_a_process_the_script_forks_does_not_corrupt_the_trace_and_its_output_is_kept(script):
    path = script("import os, gevent\npid = os.fork()\nif pid == 0:\n    for _ in range(200):\n"
                  "        gevent.sleep(0)\n    print('from the fork', flush=True)\n    os._exit(0)\n"
                  "os.waitpid(pid, 0)\ngevent.sleep(0.01)\nprint('parent done')\n")
    _, trace = run_script(path)
    assert trace.exit["outcome"] == "finished"
    assert [o.text for o in trace.outputs] == ["from the fork", "parent done"]
    assert not trace.notes


def test_a_backlog_of_records_comes_out_of_a_limited_poll_in_pieces_and_none_is_lost(script):
    """The live app polls with a limit so a flood reaches the screen in pieces it can fold between key presses."""
    path = script("for i in range(20000):\n    print('line', i)\n")
    session = Session(path)
    trace = Trace(session.header)
    session.start()
    try:
        session.proc.wait(30)  # everything the program wrote is now in the pipe or already read
        sizes = []
        while not session.done:
            records = session.poll(0.05, limit=1000)
            sizes.append(len(records))
            trace.add_many(records)
    finally:
        session.close()
    assert trace.exit["outcome"] == "finished"
    assert [o.text for o in trace.outputs] == [f"line {i}" for i in range(20000)]
    assert max(sizes) < 20000 and sum(1 for n in sizes if n) > 2


def test_a_stop_signal_handled_inside_the_recorders_own_write_ends_the_run_once_that_write_is_done(tmp_path,
                                                                                                   monkeypatch):
    """viz stops a program with SIGTERM, and the child's handler ends the run by writing out the buffer. Python runs
    a handler inside an interrupted write before it retries, and the program's own thread now writes the buffer
    too: there the handler must wait for that write (the lock taken, half a batch in the pipe), not flush again."""
    from viz import protocol
    from viz.recorder import core

    r, w = os.pipe()
    try:
        program = tmp_path / "p.py"
        program.write_text("pass\n")
        rec = core.Recorder(w, str(program))
        seen: list = []
        real_writev = core._real_writev

        def write_with_a_signal(fd, pieces):  # the handler, run inside the first write (a batch's length and events)
            n = real_writev(fd, pieces)
            if not seen:
                seen.append(rec.after_own_flush(lambda: seen.append(os.read(r, 1 << 20))))
            return n

        monkeypatch.setattr(core, "_real_writev", write_with_a_signal)
        rec.emit((protocol.RECORDER_NOTE, 0.0, "info", "before the stop"))
        rec.flush()
        assert seen[0] is True  # left for later...
        batches = protocol.FrameDecoder().feed(seen[1])  # ...and done once the whole batch was in the pipe
        assert any(ev[0] == protocol.RECORDER_NOTE and ev[3] == "before the stop" for b in batches for ev in b)
        assert rec.after_own_flush(lambda: None) is False  # outside a write: the handler goes on at once
    finally:
        os.close(r)
        os.close(w)
