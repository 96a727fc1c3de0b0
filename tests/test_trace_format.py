"""The trace file: written and read back whole, and every kind of bad file named with its line, never a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import record, viz
from viz.trace.format import MAX_LINE_BYTES, VERSION, TraceFileError
from viz.trace.model import Trace

HEADER = json.dumps({"viz_trace": VERSION, "target": "t", "file": "t.py"})
TASK = json.dumps({"k": "task", "t": 0.0, "task": 1, "name": "main", "kind": "main"})
STATE = json.dumps({"k": "state", "t": 0.5, "task": 1, "state": "blocked", "reason": "time.sleep(1)"})


def write(tmp_path, text: str | bytes, name: str = "t.jsonl"):
    p = tmp_path / name
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return p


def test_a_recorded_trace_saved_and_loaded_again_is_the_same_model(tmp_path):
    trace = record("gevent_sleepers", out=tmp_path / "a.jsonl")
    loaded = Trace.load(tmp_path / "a.jsonl")
    assert [ln.name for ln in loaded.lanes] == [ln.name for ln in trace.lanes]
    assert [list(trace.spans(ln)) for ln in trace.lanes] == [list(loaded.spans(ln)) for ln in loaded.lanes]
    loaded.save(tmp_path / "b.jsonl")
    again = Trace.load(tmp_path / "b.jsonl")
    assert [list(again.spans(ln)) for ln in again.lanes] == [list(loaded.spans(ln)) for ln in loaded.lanes]
    assert [o.text for o in again.outputs] == [o.text for o in trace.outputs]
    assert again.exit == trace.exit and again.sources == trace.sources


@pytest.mark.parametrize("content, line, words", [
    ("", None, "the file is empty"),
    ("not json at all\n", 1, "not valid JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\n", 1, "not valid"),
    ('{"something": "else"}\n', 1, "no viz trace header"),
    ('{"viz_trace": 99}\n', 1, "newer viz (trace version 99)"),
    ('{"viz_trace": "one"}\n', 1, "is not an integer"),
    (f"{HEADER}\n{TASK}\n{{oops\n{STATE}\n", 3, "not valid JSON"),
    (f'{HEADER}\n{{"k": "state", "t": "soon", "task": 1, "state": "running"}}\n', 2, "field 't'"),
    (f'{HEADER}\n{{"k": "state", "t": 1, "task": 1, "state": "dancing"}}\n', 2, "unknown state 'dancing'"),
    (f'{HEADER}\n{{"k": "task", "t": 0, "task": "one", "name": "x", "kind": "main"}}\n', 2, "field 'task'"),
    (f'{HEADER}\n[1, 2, 3]\n', 2, "expected a JSON object"),
    (f'{HEADER}\n{{"t": 1}}\n', 2, "no kind field"),
])
def test_a_bad_trace_file_is_refused_with_its_name_and_line(tmp_path, content, line, words):
    p = write(tmp_path, content)
    with pytest.raises(TraceFileError) as info:
        Trace.load(p)
    assert info.value.line == line
    assert str(info.value).startswith(f"{p}:{line}: " if line else f"{p}: ")
    assert words in str(info.value)


def test_a_line_of_several_megabytes_is_refused_not_read_into_memory(tmp_path):
    p = write(tmp_path, HEADER + "\n" + '{"k": "note", "t": 0, "text": "' + "x" * (MAX_LINE_BYTES + 10) + '"}\n')
    with pytest.raises(TraceFileError, match=r":2: line is longer than 4 MiB"):
        Trace.load(p)


def test_a_trace_cut_off_mid_line_loads_what_is_whole_and_says_it_was_truncated(tmp_path):
    p = write(tmp_path, f"{HEADER}\n{TASK}\n{STATE}\n" + STATE[:25])
    trace = Trace.load(p)
    assert trace.truncated_at == 4
    assert len(trace.lanes) == 1 and len(trace.lanes[0]) == 1
    result = viz("show", str(p), "--text", "--no-color")
    assert result.returncode == 0 and "cut off at line 4" in result.stdout


def test_unknown_fields_and_kinds_from_a_newer_minor_version_are_ignored(tmp_path):
    extra = json.dumps({"k": "state", "t": 0.5, "task": 1, "state": "running", "colour": "teal"})
    p = write(tmp_path, f"{HEADER}\n{TASK}\n{extra}\n" + '{"k": "hologram", "t": 1}\n')
    trace = Trace.load(p)
    assert trace.span_at(trace.lanes[0], 0.6).state == "running"


def test_the_cli_reports_a_corrupt_trace_in_one_line_without_a_traceback(tmp_path):
    p = write(tmp_path, b"\x00\x01\x02binary\xff\n")
    for args in (["show", str(p), "--text"], ["export", str(p), "-o", str(tmp_path / "x.json")]):
        result = viz(*args)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and f"{p}:1:" in result.stderr and "Traceback" not in result.stderr


_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                         max_size=4), max_leaves=8)
_records = st.fixed_dictionaries({"k": st.sampled_from(["task", "state", "output", "end", "note", "exit", "source",
                                                        "zzz"])},
                                 optional={"t": _json_values | st.floats(), "task": _json_values | st.integers(),
                                           "state": st.sampled_from(["running", "ready", "blocked", "idle", "x"]),
                                           "name": _json_values, "kind": _json_values, "text": _json_values,
                                           "reason": _json_values, "line": _json_values | st.integers(),
                                           "file": _json_values, "outcome": _json_values, "blocks_loop": _json_values})


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(lines=st.lists(_records.map(json.dumps) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
                      max_size=12), cut=st.integers(min_value=0, max_value=30))
def test_fuzzed_trace_files_either_load_or_raise_a_trace_file_error(tmp_path, lines, cut):
    body = (HEADER + "\n" + "\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    p = write(tmp_path, body[: len(body) - cut] if cut else body, "fuzz.jsonl")
    try:
        trace = Trace.load(p)
    except TraceFileError as e:
        assert str(e).startswith(str(p))
        return
    for ln in trace.lanes:  # what loads can be drawn
        list(trace.spans(ln))
        trace.totals(ln)
    trace.outputs_until(trace.duration)
