"""Reads from stdin are waits (issue 13, item 1): `input()` and `sys.stdin` reads are blocked until the other end
writes, `viz record` hands its own stdin to the program when that is a pipe, and a read that does not wait (end of
file, data already there) records nothing.

The programs make their own stdin: a writer process whose known timeline (a line after 0.3 s, another 0.2 s later)
is put on fd 0 with os.dup2, so the waits are measured from the traced program's side.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import run_session, spans, texts

WRITER = '''
import os, subprocess, sys
writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3); print('hello', flush=True); "
                           "time.sleep(0.2); print('world', flush=True)"], stdout=subprocess.PIPE)
os.dup2(writer.stdout.fileno(), 0)  # the program's stdin is now the writer's output
'''


def record(script, source: str):
    return run_session(script(textwrap.dedent(WRITER) + textwrap.dedent(source)), timeout=20)[1]


def stdin_waits(trace, lane: str = "main"):
    return [s for s in spans(trace, lane, "blocked") if "on stdin" in (s.reason or "")]


def test_readline_and_input_are_blocked_until_the_writer_sends_a_line(script):
    trace = record(script, '''
        line = sys.stdin.readline()
        print("got", line.strip())
        word = input()
        print("then", word)
        writer.wait()
    ''')
    first, second = stdin_waits(trace)
    assert first.reason == "sys.stdin.readline() on stdin (pipe)"
    assert 0.25 <= first.end - first.start <= 1.5, first.end - first.start  # (the writer's start-up counts too)
    assert second.reason == "input() on stdin (pipe)"
    assert 0.1 <= second.end - second.start <= 0.6, second.end - second.start
    assert second.start >= first.end
    assert texts(trace, "main") == ["got hello", "then world"]


def test_a_read_with_data_already_waiting_or_at_end_of_file_records_no_wait(script):
    trace = record(script, '''
        writer.wait()                       # both lines are in the pipe now
        print(sys.stdin.readline().strip(), sys.stdin.readline().strip())
        print(repr(sys.stdin.read()))       # end of file: returns at once
        for line in sys.stdin:              # nothing left
            print("never")
    ''')
    assert stdin_waits(trace) == []
    assert texts(trace, "main") == ["hello world", "''"]


def test_iterating_over_stdin_in_a_thread_blocks_that_thread_only(script):
    trace = record(script, '''
        import threading
        def reader():
            for line in sys.stdin:
                print("read", line.strip())
        t = threading.Thread(target=reader, name="reader")
        t.start()
        t.join()
    ''')
    waits = stdin_waits(trace, "reader")
    assert waits and waits[0].reason == "for line in sys.stdin on stdin (pipe)"
    assert 0.25 <= waits[0].end - waits[0].start <= 1.5
    assert texts(trace, "reader") == ["read hello", "read world"]
    assert not stdin_waits(trace, "main")


def test_an_unpatched_input_under_gevent_blocks_the_whole_loop(script):
    trace = record(script, '''
        import gevent
        def ask():
            print("asked", input())
        def tick():
            for _ in range(3):
                gevent.sleep(0.05)
        gevent.joinall([gevent.spawn(ask), gevent.spawn(tick)])
    ''')
    wait, = stdin_waits(trace, "ask")
    assert wait.blocks_loop, wait
    assert 0.25 <= wait.end - wait.start <= 1.5


def test_viz_record_hands_its_stdin_to_the_program_when_it_is_a_pipe(script):
    path = script('n = int(input())\nprint("twice", 2 * n)\n')
    result = subprocess.run([sys.executable, "-m", "viz", "record", str(path), "--no-color", "--width", "80"],
                            input="21\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "twice 42" in result.stdout
