"""The trace file: written and read back whole, and every kind of bad file named with its line, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import tracemalloc
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import record, viz
import viz.trace.format as fmt
from viz.trace.format import MAX_LINE_BYTES, VERSION, ReadResult, TraceFileError
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


# ---- the block reader and its fast paths agree with the reference, line by line ----------------------------------

def reference_read(path, result):
    """The reader as it was before blocks and fast paths, one line at a time (json.loads on each line's bytes,
    then `validate`), but for JSON nested too deeply, now an error and no RecursionError: what read_records must
    agree with, record for record and error for error."""
    path = str(path)
    with open(path, "rb") as f:
        lineno = 0
        while True:
            raw = f.readline(fmt.MAX_LINE_BYTES + 1)
            if not raw:
                break
            lineno += 1
            if len(raw) > fmt.MAX_LINE_BYTES:
                raise TraceFileError(path, lineno, f"line is longer than {fmt.MAX_LINE_BYTES // (1024 * 1024)} MiB")
            try:
                rec = json.loads(raw)
            except (ValueError, RecursionError) as e:
                if not raw.endswith(b"\n") and lineno > 1:
                    result.truncated_at = lineno
                    break
                what = ("not valid UTF-8" if isinstance(e, UnicodeDecodeError)
                        else "JSON nested too deeply" if isinstance(e, RecursionError) else "not valid JSON")
                raise TraceFileError(path, lineno, f"{what}; is this a viz trace?") from None
            if lineno == 1:
                result.header = fmt._check_header(rec, path)
                continue
            rec = fmt.validate(rec, path, lineno)
            if rec is not None:
                yield rec
        if lineno == 0:
            raise TraceFileError(path, None, "the file is empty, not a viz trace")


def outcome(read, path):
    """Everything a reader tells: the records (exact types and values; NaN-safe), header, truncation, error."""
    result, records, error = ReadResult(), [], None
    try:
        for rec in read(path, result):
            records.append(rec)
    except TraceFileError as e:
        error = (e.line, str(e))
    dump = lambda x: json.dumps(x, sort_keys=True)  # noqa: E731  (1 and 1.0, -0.0, NaN all kept apart)
    return dump(records), dump(result.header), result.truncated_at, error


PARSERS = ["orjson", "json"]  # the fast parsers: orjson, or json's scanner where orjson is not installed


def installed_parsers() -> list[str]:
    return [parser for parser in PARSERS if parser != "orjson" or fmt._orjson_loads is not None]


@contextlib.contextmanager
def reader(parser=None, block=None, max_line=None):
    """read_records with the given fast parser (json: as without orjson), block size and line limit."""
    if parser == "orjson" and fmt._orjson_loads is None:
        pytest.skip("orjson is not installed")
    with contextlib.ExitStack() as stack:
        if parser == "json":
            stack.enter_context(mock.patch.object(fmt, "_orjson_loads", None))
        if block is not None:
            stack.enter_context(mock.patch.object(fmt, "_BLOCK_BYTES", block))
        if max_line is not None:
            stack.enter_context(mock.patch.object(fmt, "MAX_LINE_BYTES", max_line))
        yield


def state_line(i: int, **extra) -> str:
    rec = {"k": "state", "t": i * 1e-3, "task": 1, "state": ("running", "ready", "blocked")[i % 3],
           "reason": f"recv() on fd {i % 50}", "file": "t.py", "line": i % 90 + 1, **extra}
    return json.dumps(rec, separators=(",", ":"))


def big_trace(tmp_path, n: int, bad: dict[int, str] | None = None, tail: str = "\n") -> "os.PathLike":
    """A header, a task and n state records; `bad` replaces lines by number (1 is the header); `tail` ends it."""
    lines = [HEADER, TASK] + [state_line(i) for i in range(n)]
    for lineno, text in (bad or {}).items():
        lines[lineno - 1] = text
    return write(tmp_path, "\n".join(lines) + tail, "big.jsonl")


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("bad, words", [
    ("{oops", "not valid JSON"),
    ("", "not valid JSON"),
    (STATE + " " + STATE, "not valid JSON"),
    ('{"k": "state", "t": 1, "task": 1, "state": "dancing"}', "unknown state 'dancing'"),
    ('{"k": "state", "t": 1, "task": true, "state": "ready"}', "field 'task'"),
    ('{"k": "state", "t": 1, "task": 1, "state": "ready", "line": -4}', "line -4 is out of range"),
    ('{"k": "state", "t": 1, "task": 1, "state": "ready", "reason": 7}', "field 'reason'"),
    ('{"k": "state", "t": NaN, "task": 1, "state": "ready"}', "not a finite number"),
    ('{"k": "state", "t": 1e999, "task": 1, "state": "ready"}', "not a finite number"),
    ('{"k": "state", "t": 1' + "0" * 400 + ', "task": 1, "state": "ready"}', "not a finite number"),
    ('[' * 100_000, "nested too deeply"),
    ('"just a string"', "expected a JSON object"),
], ids=["not-json", "empty", "two-values", "unknown-state", "bool-task", "negative-line", "int-reason", "nan-time",
        "infinite-time", "huge-int-time", "deep-nesting", "not-an-object"])
def test_a_bad_line_deep_inside_a_big_file_is_named_with_its_exact_line(tmp_path, parser, bad, words):
    p = big_trace(tmp_path, 30_000, {23_457: bad})  # 3 MiB: the bad line is in the middle of the third block
    with reader(parser), pytest.raises(TraceFileError) as info:
        Trace.load(p)
    assert info.value.line == 23_457 and str(info.value).startswith(f"{p}:23457: ") and words in str(info.value)


@pytest.mark.parametrize("parser", PARSERS)
def test_a_big_file_cut_off_mid_line_loads_every_whole_line(tmp_path, parser):
    n = 30_000
    p = big_trace(tmp_path, n, tail="\n" + state_line(n)[:37])
    with reader(parser):
        trace = Trace.load(p)
    assert trace.truncated_at == n + 3
    assert len(trace.lanes) == 1 and len(trace.lanes[0]) == n
    assert trace.span(trace.lanes[0], n - 1).start == pytest.approx((n - 1) * 1e-3)


@pytest.mark.parametrize("parser", PARSERS)
def test_a_whole_last_line_without_its_newline_is_loaded(tmp_path, parser):
    p = big_trace(tmp_path, 30_000, tail="")
    with reader(parser):
        trace = Trace.load(p)
    assert trace.truncated_at is None and len(trace.lanes[0]) == 30_000


@pytest.mark.parametrize("parser", PARSERS)
def test_a_line_of_several_megabytes_after_many_lines_is_named(tmp_path, parser):
    note = '{"k": "note", "t": 0, "text": "%s"}'
    exactly = note % ("x" * (MAX_LINE_BYTES - len(note % "") - 1))  # with its newline: MAX_LINE_BYTES, allowed
    p = big_trace(tmp_path, 20_000, {5_000: exactly, 15_001: exactly + "x"})
    with reader(parser), pytest.raises(TraceFileError, match=r":15001: line is longer than 4 MiB"):
        Trace.load(p)
    p = big_trace(tmp_path, 20_000, {5_000: exactly})
    with reader(parser):
        assert len(Trace.load(p).notes) == 1


@pytest.mark.parametrize("parser", PARSERS)
def test_a_line_without_end_is_refused_without_reading_it_whole(tmp_path, parser):
    p = big_trace(tmp_path, 1_000, tail="\n" + '{"k": "note", "t": 0, "text": "' + "x" * (8 * MAX_LINE_BYTES))
    tracemalloc.start()
    try:
        with reader(parser), pytest.raises(TraceFileError, match=r":1003: line is longer than 4 MiB"):
            for _ in fmt.read_records(p):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_LINE_BYTES  # the line is 8 times that


@pytest.mark.parametrize("parser", PARSERS)
def test_windows_line_ends_a_byte_order_mark_and_odd_but_valid_lines_load_as_before(tmp_path, parser):
    lines = [HEADER, TASK, STATE, " " + STATE + "\t", state_line(1, task=2**70), state_line(2, blocks_loop=None),
             state_line(3, colour="teal"), '{"k": "note", "t": 1, "text": "\\ud800 lone", "x": 123456789012345678901234}',
             '{"k": "note", "t": 2, "text": "\u00e9\u2028\U0001f600"}', '{"k": "exit", "t": 3, "outcome": "ok", "n": NaN}']
    for text in ("\ufeff" + "\r\n".join(lines) + "\r\n", "\n".join(lines) + "\n"):
        p = write(tmp_path, text.encode("utf-8"))
        with reader(parser):
            got = outcome(fmt.read_records, p)
        assert got == outcome(reference_read, p)
        assert got[3] is None and '"task": 1180591620717411303424' in got[0]


_odd_lines = st.sampled_from([
    "", " ", "\r", "\x00", "{}", "[]", "null", "1e400", "NaN", "[[[[[[[[[[]]]]]]]]]]", "[" * 3000, '"\\ud800"',
    '{"k": "state", "t": 1, "task": 1, "state": "idle"}\r', ' {"k": "end", "t": 1, "task": 1}',
    '\ufeff{"k": "end", "t": 1, "task": 1}', '\x00{\x00"\x00k\x00"\x00:\x00"\x00x\x00"\x00}',
    '{"k": "state", "t": 1, "task": 1, "state": "idle", "k": "end"}',
    '{"k": "state", "t": 1, "task": 18446744073709551616, "state": "idle"}',
    '{"k": "state", "t": 18446744073709551616, "task": 1, "state": "idle"}',
    '{"k": "state", "t": 9.3e18, "task": 1, "state": "idle"}', '{"k": "state", "t": -0.0, "task": -0, "state": "idle"}',
    '{"k": "state", "t": 1, "task": 1, "state": "idle", "line": 2147483648}',
    '{"k": "state", "t": 1, "task": 1, "state": "idle", "text": "\xed\xa0\x80"}',
])
EDGE_VALUES = [None, True, False, 0, -1, 7, 1.5, -0.0, 2**31 - 1, 2**31, 8.9e18, 9.2e18, 2**63 - 1, 2**63, 2**64 - 1, 2**64,
               -2**63, -2**63 - 1, 2**70, 10**400, float("nan"), float("inf"), -float("inf"), "", "idle", "x", "\ud800",
               [], {}, [1], {"a": 1}]
_edge_values = st.sampled_from(EDGE_VALUES)
_good_states = st.fixed_dictionaries(
    {"k": st.just("state"), "t": st.floats(0, 1e6) | st.integers(0, 10**6), "task": st.integers(-2**40, 2**40),
     "state": st.sampled_from(["running", "ready", "blocked", "idle"])},
    optional={"reason": st.none() | st.text(max_size=8), "file": st.none() | st.text(max_size=4),
              "line": st.none() | st.integers(0, 2**31 - 1), "blocks_loop": st.none() | st.booleans()})
_state_fields = ["k", "t", "task", "state", "reason", "file", "line", "blocks_loop", "colour", "stream", "parent", "text"]
_near_states = (st.tuples(_good_states, st.sampled_from(_state_fields), _edge_values | _json_values)
                .map(lambda x: {**x[0], x[1]: x[2]})
                | st.tuples(_good_states, st.sampled_from(["k", "t", "task", "state"]))
                .map(lambda x: {f: v for f, v in x[0].items() if f != x[1]}))
_any_records = _good_states | _near_states | _records


def fast_check_agrees(rec, ascii_only=True) -> None:
    """`_plain_state` takes a parsed line (by json, json's scanner or orjson) only if `validate` returns the
    reference's record as it is, and only if that parser read it as the reference did."""
    line = json.dumps(rec, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    reference = json.loads(line)
    parsed = [reference, fmt._json_line(line.decode("utf-8", "surrogatepass"))]
    if fmt._orjson_loads is not None:
        with contextlib.suppress(ValueError):  # orjson refuses NaN, lone surrogates: the reference reads those
            parsed.append(fmt._orjson_loads(line))
    for rec in parsed:
        if fmt._plain_state(rec):
            assert fmt.validate(reference, "p", 2) is reference
            assert json.dumps(rec, sort_keys=True) == json.dumps(reference, sort_keys=True)


def test_the_fast_check_agrees_with_validate_on_every_edge_value_of_every_field():
    base = {"k": "state", "t": 1.5, "task": 3, "state": "blocked", "reason": "r", "file": "f.py", "line": 4}
    for field in _state_fields:
        fast_check_agrees({f: v for f, v in base.items() if f != field})
        for value in EDGE_VALUES:
            fast_check_agrees({**base, field: value})
            fast_check_agrees({"k": "state", "t": 0, "task": 1, "state": "idle", field: value})


@settings(max_examples=800, deadline=None)
@given(rec=_any_records, ascii_only=st.booleans())
def test_the_fast_check_takes_only_records_validate_returns_as_they_are(rec, ascii_only):
    fast_check_agrees(rec, ascii_only)


@settings(max_examples=300, deadline=None)
@given(number=st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
def test_orjson_reads_a_time_as_json_does_whenever_the_fast_check_takes_it(number):
    """The fast check's promise for number literals json.dumps never writes."""
    line = '{"k": "state", "t": %s, "task": 1, "state": "idle"}' % number
    reference = json.loads(line)
    for parse in filter(None, [fmt._orjson_loads, fmt._json_line]):
        with contextlib.suppress(ValueError):
            rec = parse(line)
            if fmt._plain_state(rec):
                assert fmt.validate(reference, "p", 2) is reference
                assert type(rec["t"]) is type(reference["t"]) and rec["t"] == reference["t"]


_lines = st.lists(_good_states.map(json.dumps) | _good_states.map(lambda r: json.dumps(r, ensure_ascii=False))
                  | _good_states.map(json.dumps) | _near_states.map(json.dumps) | _odd_lines
                  | _records.map(json.dumps) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")), max_size=14)


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(lines=_lines, cut=st.integers(min_value=0, max_value=30), block=st.sampled_from([None, 1, 7, 64]),
       max_line=st.sampled_from([None, 80, 200]), bom=st.booleans(), crlf=st.booleans())
def test_fuzzed_files_read_exactly_as_the_line_by_line_reference_reads_them(tmp_path, lines, cut, block, max_line,
                                                                           bom, crlf):
    end = "\r\n" if crlf else "\n"
    body = (("\ufeff" if bom else "") + HEADER + end + end.join(lines) + end).encode("utf-8", "surrogatepass")
    p = write(tmp_path, body[: len(body) - cut] if cut else body, "fuzz.jsonl")
    with reader(max_line=max_line):
        expected = outcome(reference_read, p)
        for parser in installed_parsers():
            with reader(parser, block, max_line):
                assert outcome(fmt.read_records, p) == expected, parser


def test_a_trace_saved_with_the_loop_words_in_its_reasons_opens_with_the_call_alone(tmp_path):
    """Version 1 traces saved before the views phrased `blocks_loop` carry the words in the reason as well."""
    import json

    from viz.trace.model import Trace

    path = tmp_path / "old.jsonl"
    lines = [{"viz_trace": 1, "target": "old"},
             {"k": "task", "t": 0.0, "task": 2, "name": "fun", "kind": "greenlet", "parent": 1},
             {"k": "state", "t": 0.1, "task": 2, "state": "blocked", "reason": "time.sleep(2) — blocks the whole loop",
              "file": "a.py", "line": 13, "blocks_loop": True},
             {"k": "state", "t": 2.1, "task": 2, "state": "blocked", "reason": "time.sleep(2)", "file": "a.py",
              "line": 14},
             {"k": "end", "t": 2.2, "task": 2}]
    path.write_text("".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in lines), encoding="utf-8")
    trace = Trace.load(path)
    spans = list(trace.spans(trace.lanes[0]))
    assert [(s.reason, s.blocks_loop) for s in spans] == [("time.sleep(2)", True), ("time.sleep(2)", False)]
