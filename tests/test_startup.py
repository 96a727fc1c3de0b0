"""`viz record` starts fast (issue 18) without losing anything: its child is started before the viewer has read its
arguments and held until it knows the script (viz/ingest/held.py), and the child hooks socket, subprocess, asyncio
and gevent as the script imports them, not at every start (viz/recorder/imports.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import gone, lane, record, spans, texts, viz
from viz.trace.model import Trace


def test_a_one_line_program_starts_without_the_hooks_of_modules_it_does_not_import(script):
    path = script("import sys\n"
                  "print(sorted(m for m in ('socket', 'subprocess', 'asyncio', 'inspect', 'traceback',\n"
                  "    'viz.recorder.asyncio_loop', 'viz.recorder.gevent_sync', 'gevent')\n"
                  "    if m in sys.modules))\n")
    trace = record(str(path))
    assert texts(trace, "main") == ["[]"]


def test_held_child_times_the_run_from_the_scripts_first_line_not_from_viz_starting(script, tmp_path):
    """The held child waits for the viewer's imports before it is told to go: that wait is not the program's time.
    A 0.3 s sleep is a blocked span that starts at the script's start and the run lasts about 0.3 s."""
    path = script("import time\ntime.sleep(0.3)\nprint('done')\n")
    out = tmp_path / "run.jsonl"
    done = viz("record", "-q", str(path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    trace = Trace.load(out)
    sleep, = spans(trace, "main", "blocked")
    assert sleep.reason == "time.sleep(0.3)"
    assert sleep.start < 0.05
    assert 0.25 <= sleep.end - sleep.start <= 0.6
    assert 0.25 <= trace.duration <= 0.65
    assert texts(trace, "main") == ["done"]
    assert trace.exit["outcome"] == "finished"


@pytest.mark.parametrize("bad", [["--width", "5"], ["--timeout", "0"], ["--fail-on", "nonsense"]])
def test_held_child_runs_nothing_when_viz_record_refuses_its_arguments(script, tmp_path, bad):
    marker = tmp_path / "ran"
    path = script(f"open({str(marker)!r}, 'w').close()\n")
    done = viz("record", str(path), *bad)
    assert done.returncode == 2
    assert not marker.exists()


@pytest.mark.parametrize("bad", [["--timeout", "0"], ["--nonsense"], ["no-such-scenario-or-file"]])
def test_viz_run_refusing_its_arguments_runs_nothing(script, tmp_path, bad):
    marker = tmp_path / "ran"
    path = script(f"open({str(marker)!r}, 'w').close()\n")
    done = viz("run", *([str(path), *bad] if bad[0].startswith("-") else bad))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(("usage:", "viz: error:")), done.stderr
    assert not marker.exists()


def test_viz_run_starts_its_ingest_process_first_and_ends_it_when_the_run_is_refused(monkeypatch, capsys):
    """`viz run` starts the ingest process before it reads its arguments (the program then starts sooner); an
    unknown target ends it, unused, before viz returns: it exits by itself, having run nothing."""
    from viz import cli
    from viz.ingest import launch

    started = []

    class Recorded(launch.IngestProcess):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(launch, "IngestProcess", Recorded)
    assert cli.main(["run", "no-such-scenario-or-file"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
    ingest, = started
    assert ingest.proc.returncode == 0  # it was waited for, and ended as an unused one does
    assert ingest.stderr.closed


def test_an_ingest_process_given_no_run_ends_and_leaves_no_child():
    """Unused (end of input before a run), the ingest process ends, and the child it held is gone too."""
    import time
    from viz.ingest.launch import IngestProcess

    ingest = IngestProcess()
    pid, held, deadline = ingest.proc.pid, [], time.monotonic() + 30
    while not held and time.monotonic() < deadline:  # the held child appears: the process's first act
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            held = [int(c) for c in f.read().split()]
        time.sleep(0.005)
    assert held, "the ingest process started no held child"
    ingest.cancel()
    assert ingest.proc.returncode == 0
    assert gone(held[0])
    ingest.cancel()  # twice: a no-op


def test_the_ingest_process_reaches_its_held_childs_spawn_without_loading_what_it_needs_only_later():
    """The ingest process spawns the held child as its first act: the modules it loads before (viz.ingest.launch's)
    are on the way to the program's first line, and each one slows the child's start on two cores. json (the run's
    spec) and tempfile (the app's side) are loaded when they are needed, not there."""
    done = subprocess.run([sys.executable, "-c", "import sys, viz.ingest.launch\n"
                           "print(sorted({'json', 'tempfile', 'random', 'shutil'} & set(sys.modules)))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("how", ["o_tmpfile", "no_such_folder"])
def test_the_ingest_processs_stderr_file_holds_what_it_writes_whatever_the_system_offers(how, monkeypatch, tmp_path):
    """O_TMPFILE where it works; tempfile's file where it does not (here: its folder missing)."""
    from viz.ingest import launch
    if how == "no_such_folder":
        monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    f = launch._unnamed_file()
    try:
        done = subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('a traceback')"], stderr=f,
                              timeout=60)
        assert done.returncode == 0
        f.seek(0)
        assert f.read() == b"a traceback"
    finally:
        f.close()
    assert list(tmp_path.iterdir()) == []  # it has no name anywhere


def test_an_ingest_process_whose_run_names_its_own_child_runs_it_and_not_the_held_one(script, tmp_path):
    """A spec naming its own child command (as bench/live.py's replay does) sent to an ingest process started
    without --own-child: the held recorder child is ended unused, and only the named command runs."""
    import sys
    from viz.ingest.launch import IngestProcess
    from viz.ingest.process import FrameReader, frames

    marker = tmp_path / "ran"
    path = script(f"open({str(marker)!r}, 'w').close()\n")
    ingest = IngestProcess()
    ingest.send({"script": str(path), "args": [], "name": "own", "timeout": 30,
                 "child": [sys.executable, "-c", "import sys; sys.exit(0)", "{fd}"]})
    out = ingest.proc.stdout.read()  # to its end: the ingest process ends with the run (its stdin kept open)
    ingest.proc.stdin.close()
    ingest.proc.wait(30)
    ingest.proc.stdout.close()
    ingest.stderr.close()
    assert ingest.proc.returncode == 0
    info, block = FrameReader().decode(frames(bytearray(out))[-1])
    assert info["done"] and not info.get("error")
    assert not marker.exists()


def test_held_child_passes_arguments_as_given_and_the_script_reads_viz_stdin(script):
    import subprocess
    import sys
    path = script("import sys\nprint(sys.argv[1:], input())\n")
    done = subprocess.run([sys.executable, "-m", "viz", "record", "--no-color", "--width", "100", str(path), "--",
                           "a b", "ü", "", "--x"], input="from stdin\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "['a b', 'ü', '', '--x'] from stdin" in done.stdout


def test_socket_hooked_on_import_records_a_wait_in_a_function_bound_before_the_hook_could_run(script):
    """`from socket import socketpair` binds the name while socket is being imported: the methods of the sockets it
    makes are the recorded ones, so main is blocked in recv() for the 0.3 s until the thread sends."""
    path = script("from socket import socketpair\nimport threading, time\n"
                  "a, b = socketpair()\n"
                  "def later():\n    time.sleep(0.3)\n    b.sendall(b'x')\n"
                  "threading.Thread(target=later, name='sender').start()\n"
                  "print(a.recv(1))\n")
    trace = record(str(path))
    waits = [s for s in spans(trace, "main", "blocked") if s.reason and s.reason.startswith("recv()")]
    assert len(waits) == 1
    assert 0.25 <= waits[0].end - waits[0].start <= 0.6
    assert texts(trace, "main") == ["b'x'"]


def test_a_selectors_wait_is_one_select_span_not_also_its_epolls(script):
    """selectors is loaded before select.epoll is wrapped, so a selector made after socket's import waits as one
    `select() on fds [...]` for the 0.3 s until the thread sends, and its epoll object records nothing of its own."""
    path = script("import socket\nimport selectors\nimport threading, time\n"
                  "a, b = socket.socketpair()\n"
                  "sel = selectors.DefaultSelector()\nsel.register(a, selectors.EVENT_READ)\n"
                  "def later():\n    time.sleep(0.3)\n    b.send(b'x')\n"
                  "threading.Thread(target=later, name='sender').start()\n"
                  "print(len(sel.select()))\n")
    trace = record(str(path))
    reasons = [s.reason for s in spans(trace, "main", "blocked")]
    assert not [r for r in reasons if r.startswith("epoll()")], reasons
    waits = [s for s in spans(trace, "main", "blocked") if s.reason.startswith("select() on fds")]
    assert len(waits) == 1, reasons
    assert 0.25 <= waits[0].end - waits[0].start <= 0.6
    assert texts(trace, "main") == ["1"]


def test_subprocess_hooked_on_import_shows_main_waiting_for_its_child(script):
    path = script("from subprocess import run\nimport sys\n"
                  "run([sys.executable, '-S', '-c', 'import time; time.sleep(0.3)'])\n")
    trace = record(str(path))
    # (the reason names the command, cut to fit: `waiting for pid N (/long/path/to/pytho…)`)
    waits = [s for s in spans(trace, "main", "blocked") if (s.reason or "").startswith("waiting for pid ")]
    assert len(waits) == 1, [s.reason for s in spans(trace, "main", "blocked")]
    assert 0.25 <= waits[0].end - waits[0].start <= 0.7
    assert lane(trace, "main").kind == "main"


def test_the_recorders_gevent_hooks_load_before_time_0_and_import_nothing_the_program_does_not(script):
    """The hooks' own modules load before the script's first line when its code names gevent, so its `import gevent`
    is not drawn longer than it is; and hooking gevent imports none of gevent's modules the program did not (its
    threadpool, its sockets: they are hooked when the program first uses them)."""
    path = script("import sys\n"
                  "print('viz.recorder.gevent_sync' in sys.modules)\n"
                  "import gevent\n"
                  "print(sorted(m for m in ('gevent.threadpool', 'gevent._socket3') if m in sys.modules))\n"
                  "gevent.get_hub().threadpool.spawn(sum, [1, 2]).get()\n"
                  "print('gevent.threadpool' in sys.modules)\n")
    trace = record(str(path))
    assert texts(trace, "main") == ["True", "[]", "True"]
    workers = [ln for ln in trace.lanes if ln.kind == "thread"]  # the pool's worker is still followed
    assert workers and any(s.reason == "waiting for work" for ln in workers for s in spans(trace, ln.name, "blocked"))
