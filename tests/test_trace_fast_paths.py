"""The C fast paths of the trace model (viz/trace/_fold.c) build exactly what the Python code builds.

Folder.fold against Trace._add_many_py, and the C scan of a trace file's state lines against the reference reader,
on recorded scenarios and on fuzzed records and lines.
"""

from __future__ import annotations

import contextlib
import json
import math
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import viz.trace.format as fmt
import viz.trace.model as model
from conftest import record
from test_trace_format import HEADER, _good_states, _lines, _near_states, _odd_lines, outcome, reference_read, write
from viz.trace.format import ReadResult, TraceFileError
from viz.trace.model import Trace
from viz.trace.record import StateRecord

fold = pytest.importorskip("viz.trace._fold", reason="the C fast paths are not built here")
if model._Folder is None:  # VIZ_PURE_PYTHON=1: the Python code alone is under test
    pytest.skip("the C fast paths are turned off (VIZ_PURE_PYTHON)", allow_module_level=True)


@contextlib.contextmanager
def pure_python():
    """The model and the reader as they are without the C module."""
    with mock.patch.object(model, "_Folder", None), mock.patch.object(fmt, "_scan", None):
        yield


def model_of(trace: Trace) -> tuple:
    """Everything a view can read from a trace model."""
    lanes = [(ln.task, ln.name, ln.kind, ln.parent, ln.created, ln.ended, list(ln.starts), bytes(ln.states),
              bytes(ln.flags), [trace.string(i) for i in ln.reasons], [trace.string(i) for i in ln.files],
              list(ln.lines)) for ln in trace.lanes]
    return (trace.end_time, trace.changes, list(trace.steps), lanes, trace.outputs, trace.notes, trace.exit,
            trace.truncated_at, trace.sources)


def test_a_recorded_scenario_folds_into_the_same_model_in_c_and_in_python(tmp_path):
    live = record("select_server", out=tmp_path / "s.jsonl")
    assert live._folder is not None
    loaded = Trace.load(tmp_path / "s.jsonl")
    with pure_python():
        pure = Trace.load(tmp_path / "s.jsonl")
        assert pure._folder is None
    assert model_of(loaded) == model_of(pure)
    assert [list(live.spans(ln)) for ln in live.lanes] == [list(loaded.spans(ln)) for ln in loaded.lanes]


_times = st.floats(0, 50, allow_nan=False) | st.integers(0, 50)
_compact = st.builds(StateRecord, st.just("state"), _times, st.integers(1, 6), st.sampled_from(model.STATES),
                      st.none() | st.sampled_from(["r", "spawned", "fd 7 readable", "é…"]),
                      st.none() | st.sampled_from(["a.py", "b.py"]), st.none() | st.integers(0, 500), st.booleans())
_other = (st.builds(lambda t, task: {"k": "output", "t": t, "task": task, "stream": "stdout", "text": "x"},
                    _times, st.integers(1, 6))
          | st.builds(lambda t, task: {"k": "task", "t": t, "task": task, "name": f"n{task}", "kind": "greenlet"},
                      _times, st.integers(1, 6))
          | st.builds(lambda t, task: {"k": "end", "t": t, "task": task}, _times, st.integers(1, 6))
          | _compact.map(StateRecord.to_json))


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(_compact | _other, max_size=30), max_size=5), single=st.booleans(),
       hold=st.booleans())
def test_fuzzed_records_fold_into_the_same_model_in_c_and_in_python(batches, single, hold):
    """Out-of-order times, lanes made by a state before their task record, dict and tuple states mixed, batches
    of any size, single `add` calls in between, and batches whose columns are written only at the end (hold)."""
    def build() -> Trace:
        trace = Trace()
        for batch in batches:
            trace.add_many(batch, hold=hold)
            if single and batch:
                trace.add(batch[0])
        trace.flush()
        return trace

    fast = build()
    with pure_python():
        pure = build()
    assert model_of(fast) == model_of(pure)


def test_a_long_run_of_one_lane_is_written_through_between_batches():
    """More records than the C fold holds back per lane, read by a view between two batches."""
    recs = [StateRecord("state", i * 1e-3, 1, model.STATES[i % 3], f"r{i % 7}", "a.py", i % 50, i % 5 == 0) for i in range(5000)]
    fast = Trace()
    fast.add_many(recs[:2600])
    assert len(fast.lanes[0].starts) == len(fast.lanes[0].states) == 2600
    fast.add_many(iter(recs[2600:]))
    with pure_python():
        pure = Trace()
        pure.add_many(recs)
    assert model_of(fast) == model_of(pure)


def canonical(records: list) -> str:
    """Records as the model reads them: a state record in either form as one tuple (the type of `t` kept)."""
    out = []
    for rec in records:
        if type(rec) is StateRecord or rec.get("k") == "state":
            d = rec.to_json() if type(rec) is StateRecord else rec
            t = d["t"]
            out.append(["state", type(t).__name__, repr(t), d["task"], d["state"], d.get("reason"), d.get("file"),
                        d.get("line"), bool(d.get("blocks_loop"))])
        else:
            out.append(rec)
    return json.dumps(out, sort_keys=True)


def batch_outcome(path) -> tuple:
    result, records, error = ReadResult(), [], None
    try:
        for batch in fmt.read_batches(path, result):
            records.extend(batch)
    except TraceFileError as e:
        error = (e.line, str(e))
    return records, result.header, result.truncated_at, error


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(lines=_lines, cut=st.integers(min_value=0, max_value=30), crlf=st.booleans())
def test_fuzzed_files_read_in_batches_by_the_c_scan_as_the_reference_reads_them(tmp_path, lines, cut, crlf):
    end = "\r\n" if crlf else "\n"
    body = (HEADER + end + end.join(lines) + end).encode("utf-8", "surrogatepass")
    p = write(tmp_path, body[: len(body) - cut] if cut else body, "fuzz.jsonl")
    result = ReadResult()
    expected_error = None
    try:
        expected = list(reference_read(p, result))
    except TraceFileError as e:
        expected_error = (e.line, str(e))
    records, head, truncated, error = batch_outcome(p)
    assert error == expected_error
    if error is None:
        assert canonical(records) == canonical(expected)
        assert (head, truncated) == (result.header, result.truncated_at)


_compact_lines = st.lists(
    _good_states.map(lambda r: json.dumps(r, separators=(",", ":"), ensure_ascii=False))
    | _near_states.map(lambda r: json.dumps(r, separators=(",", ":"))) | _odd_lines, min_size=1, max_size=20)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(lines=_compact_lines)
def test_lines_as_the_trace_writer_writes_them_scan_as_the_reference_reads_them(tmp_path, lines):
    """The C scan's own parser takes the writer's compact lines; whatever it does not take goes to orjson."""
    p = write(tmp_path, (HEADER + "\n" + "\n".join(lines) + "\n").encode("utf-8", "surrogatepass"), "w.jsonl")
    expected = outcome(reference_read, p)
    records, _, _, error = batch_outcome(p)
    assert error == expected[3]
    if error is None:
        assert canonical(records) == canonical(json.loads(expected[0]))


@settings(max_examples=600, deadline=None)
@given(number=st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
def test_the_c_scan_reads_every_number_literal_as_json_does(number):
    line = ('{"k":"state","t":%s,"task":1,"state":"idle","line":7}' % number).encode()
    reference = json.loads(line)
    out: list = []
    fold.scan_block(line + b"\n", 0, fmt._orjson_loads, out, fmt._STATE_NAMES)
    if out:
        t = out[0][1]
        assert type(t) is type(reference["t"]) and repr(t) == repr(reference["t"])
        assert fmt.validate(reference, "p", 2) is reference
    else:
        assert not fmt._plain_state(reference) or not math.isfinite(reference["t"]) or abs(reference["t"]) >= 9e18


@settings(max_examples=300, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False, min_value=-8e18, max_value=8e18))
def test_the_c_scan_reads_every_float_the_writer_writes_back_to_the_same_float(x):
    line = ('{"k":"state","t":%r,"task":1,"state":"idle"}' % x).encode()
    out: list = []
    assert fold.scan_block(line + b"\n", 0, fmt._orjson_loads, out, fmt._STATE_NAMES) == (len(line) + 1, 1, len(line) + 1)
    assert repr(out[0][1]) == repr(x)


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(st.lists(_compact, max_size=40), min_size=1, max_size=4),
       at=st.lists(st.floats(0, 60), min_size=1, max_size=4), stride=st.sampled_from([1, 2, 3, 7, None]))
def test_the_running_totals_per_state_are_the_same_in_c_and_in_python_caught_up_or_not(batches, at, stride):
    """viz.trace.totals.Totals over lanes that grow between reads (prefix_extend and prefix_at against their Python
    code), with and without catching up after each batch as a live run does, keeping a total every `stride` spans
    (None: the app's STRIDE); and the same totals as walking every span."""
    import viz.trace.totals as stats

    def totals(catch_up: bool = False) -> list:
        trace, out = Trace(), []
        sums = stats.Totals(trace)
        for batch in batches:
            trace.add_many(batch)
            if catch_up:
                sums.catch_up()
            out += [sums.until(lane, t) for lane in trace.lanes for t in at]
        return out

    with mock.patch.object(stats, "STRIDE", stride or stats.STRIDE):
        fast = totals()
        assert totals(catch_up=True) == fast
        with mock.patch.multiple(stats, prefix_extend=None, prefix_at=None):
            assert totals() == fast
            assert totals(catch_up=True) == fast
    trace = Trace()
    for batch in batches:
        trace.add_many(batch)
    walked = []
    for lane in trace.lanes:
        for t in at:
            expect = [0.0] * (stats.LOOP + 1)
            for span in trace.spans(lane):
                part = max(0.0, min(t, span.end) - span.start)
                expect[model.STATE_CODE[span.state]] += part
                if span.blocks_loop:
                    expect[stats.LOOP] += part
            walked.append(expect)
    assert fast[-len(walked):] == [pytest.approx(w, abs=1e-9) for w in walked]


def test_the_c_scan_reads_long_decimals_and_midpoints_exactly_as_python_does():
    """Times written by repr() have 16-17 digits: the C scan's extended-precision path must round each exactly as
    float() does, and leave the few next to a midpoint between two doubles to the slow path, which is exact."""
    import random

    rnd = random.Random(7)
    literals = ["9007199254740993.0", "9007199254740995.0", "0.30000000000000004", "1.0000000000000002",
                "2.2250738585072014e-10", "123456789012345678.5", "4.35e-27", "5e-324", "0.1e1"]
    literals += [repr(rnd.uniform(0, 1000)) for _ in range(20000)]
    for _ in range(20000):
        digits = rnd.randint(1, 19)
        mantissa = str(rnd.randrange(10 ** (digits - 1), 10 ** digits))
        point = rnd.randint(0, digits)
        literal = (mantissa[:point] or "0") + "." + (mantissa[point:] or "0")
        literal += f"e{rnd.randint(-30, 10)}" if rnd.random() < 0.3 else ""
        if float(literal) < 9e18:  # (larger times are not plain state records: the reference reads those)
            literals.append(literal)
    block = b"".join(b'{"k":"state","t":%s,"task":1,"state":"idle"}\n' % lit.encode() for lit in literals)
    out: list = []
    assert fold.scan_block(block, 0, fmt._orjson_loads, out, fmt._STATE_NAMES) == (len(block), len(literals),
                                                                                   len(block))
    assert [repr(rec[1]) for rec in out] == [repr(float(lit)) for lit in literals]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 0.2), st.integers(0, 3), st.integers(0, 2), st.booleans()), max_size=60),
       st.sampled_from([0.0, 0.05, 0.1]), st.floats(0, 0.3))
def test_the_reports_long_spans_and_lane_labels_are_the_same_in_c_and_in_python(spans, limit, tail):
    """Durations (with ties and zero-length spans), states, reasons and flags at random: the findings' long spans and
    the report's lane label come out the same with viz/trace/_fold.c and with the Python loops."""
    import viz.views.diagnostics as diagnostics
    import viz.views.text as text
    trace = Trace()
    trace.add({"k": "task", "t": 0.0, "task": 1, "name": "t", "kind": "greenlet"})
    t = 0.0
    for d, state, reason, flag in spans:
        trace.add({"k": "state", "t": t, "task": 1, "state": ("running", "ready", "blocked", "idle")[state],
                   "reason": (None, "a", "b")[reason], "blocks_loop": flag})
        t += round(d, 2)  # round: equal durations happen, so ties are tested
    trace.add({"k": "end", "t": t + tail, "task": 1})
    lane = trace.lanes[0]
    ends = diagnostics._ends(trace, lane)
    got = ([diagnostics._long(lane, ends, code, limit) for code in range(4)], text._main_reason(trace, lane))
    with mock.patch.object(diagnostics, "long_spans", None), mock.patch.object(text, "longest_span", None):
        assert got == ([diagnostics._long(lane, ends, code, limit) for code in range(4)],
                       text._main_reason(trace, lane))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=80), st.sets(st.integers(0, 320), max_size=6))
def test_which_wanted_reasons_a_lane_has_is_the_same_in_c_and_in_python(reasons, wanted):
    """A lane's reasons column (string ids, repeated in runs and not) against a few wanted ids, some past the
    column's largest: the findings' ids_present finds exactly what the Python set intersection finds."""
    from array import array

    import viz.views.diagnostics as diagnostics
    lane = model.Lane(1, "t", "greenlet", None, 0.0)
    lane.reasons = array("i", reasons)
    got = diagnostics._reasons_among(wanted)(lane)
    with mock.patch.object(diagnostics, "ids_present", None):
        assert got == diagnostics._reasons_among(wanted)(lane) == wanted.intersection(reasons)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=50), st.integers(0, 3), st.integers(0, 45), st.integers(1, 40),
       st.integers(1, 30), st.data())
def test_a_lanes_cells_are_the_same_in_c_and_in_python(starts, tail, t0, width, step, data):
    """Spans on a grid of whole ticks (so spans start exactly on cell edges, and some have no length), display codes at
    random, the lane ending as its last span starts or after: C's exact_row gives every cell exactly as the Python
    row, and as exact_cell asked cell by cell."""
    from array import array

    import viz.views.cells as cells
    unit = 0.001
    starts = array("d", (x * unit for x in sorted(starts)))
    codes = bytearray(data.draw(st.lists(st.integers(0, 5), min_size=len(starts), max_size=len(starts))))
    end = starts[-1] + tail * unit  # (lane_end: never before the last span starts)
    edges = [(t0 + c * step / 3) * unit for c in range(width + 1)]
    want = [cells.exact_cell(starts, codes, end, edges[c], edges[c + 1]) for c in range(width)]
    assert list(cells._exact_row_py(starts, codes, end, edges)) == want
    assert list(fold.exact_row(starts, codes, end, edges)) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 5)), min_size=2, max_size=80), st.integers(1, 4),
       st.integers(0, 1000))
def test_a_lanes_summary_buckets_are_the_same_in_c_and_in_python(spans, pieces, offset):
    """Spans at random times (some on bucket edges, some of no length), extended a piece at a time as a live lane
    grows: the timeline's summary (viz.app.lanes._Summary) has the same levels with summary_fill as with the loop."""
    from array import array

    import viz.app.lanes as lanes
    starts = array("d", sorted((offset + x) * 0.0007 for x, _ in spans))
    codes = bytearray(code for _, code in spans)
    cuts = sorted({len(starts) - 1, *(len(starts) * k // pieces for k in range(1, pieces))} - {0})

    def build() -> dict:
        summary = lanes._Summary(starts, len(starts))
        for closed in cuts:
            summary.extend(starts, codes, closed)
        summary.level(summary.k0 + 2)  # a coarser level, made from the finest
        return {k: (j0, bytes(row)) for k, (j0, row) in summary.levels.items()}

    got = build()
    with mock.patch.object(lanes, "summary_fill", None):
        assert build() == got
