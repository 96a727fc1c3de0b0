"""The binary trace file (`.viztrace`, viz.trace.binary): a real run written both ways loads to the same model; a cut
file keeps its whole blocks; a corrupt block is named with its offset; the C and Python paths give the same bytes
and the same model; the JSON Lines writer's faster path reads back what the json module's wrote."""

from __future__ import annotations

import json
import math
import os
import random
import struct
import subprocess
import sys

import pytest

from conftest import run_session, spans
from viz.trace import binary, format as fmt, model
from viz.trace.format import TraceFileError, TraceWriter, read_records
from viz.trace.model import Trace
from viz.trace.record import StateRecord

PROGRAM = '''\
import gevent
from gevent.event import Event

done = Event()

def sleeper():
    print("sleeper — naps 0.3 s (ü)")
    gevent.sleep(0.3)
    done.set()

def switcher(i):
    for _ in range(60):
        gevent.sleep(0)
    if i == 0:
        print("switcher 0: 60 switches done")

def waiter():
    done.wait()
    print("woken")

gevent.joinall([gevent.spawn(sleeper), gevent.spawn(waiter)] + [gevent.spawn(switcher, i) for i in range(20)])
'''


def snapshot(trace: Trace):
    """Everything a view reads from a trace, in plain values (string ids resolved)."""
    s = trace.string
    lanes = [(ln.task, ln.name, ln.kind, ln.parent, ln.created, ln.ended, list(ln.starts), bytes(ln.states),
              bytes(ln.flags), [s(i) for i in ln.reasons], [s(i) for i in ln.files], list(ln.lines))
             for ln in trace.lanes]
    return {"header": trace.header, "lanes": lanes, "outputs": list(trace.outputs), "notes": trace.notes,
            "causes": trace.causes, "exit": trace.exit, "steps": list(trace.steps), "sources": trace.sources,
            "end": trace.end_time, "strings": sorted(x for x in trace._strings if x is not None)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """PROGRAM recorded once in a real child process, its trace written live in the binary form."""
    folder = tmp_path_factory.mktemp("binary")
    path = folder / "waits.py"
    path.write_text(PROGRAM, encoding="utf-8")
    live = folder / "live.viztrace"
    _, trace = run_session(path, timeout=20, out=live)
    return trace, live, folder


def test_a_run_written_live_as_viztrace_loads_to_the_model_the_session_built(run):
    trace, live, _ = run
    with open(live, "rb") as f:
        assert f.read(8) == binary.MAGIC
    loaded = Trace.load(live)
    assert snapshot(loaded) == snapshot(trace)
    # the known timeline survives: the 0.3 s nap is a blocked span of about 0.3 s named by its call
    nap = [sp for sp in spans(loaded, "sleeper", "blocked") if "gevent.sleep(0.3)" in (sp.reason or "")]
    assert len(nap) == 1 and 0.25 <= nap[0].duration <= 0.6
    waits = [sp for sp in spans(loaded, "waiter", "blocked") if "wait" in (sp.reason or "")]
    assert waits and max(sp.duration for sp in waits) >= 0.25
    assert len(spans(loaded, "switcher(0)", "running")) >= 60
    assert "sleeper — naps 0.3 s (ü)" in [o.text for o in loaded.outputs]
    assert loaded.exit["outcome"] == "finished" and loaded.causes


def test_a_run_saved_as_jsonl_and_as_viztrace_loads_to_the_same_model_both_ways(run):
    trace, _, folder = run
    trace.save(folder / "saved.jsonl")
    trace.save(folder / "saved.viztrace")
    as_json, as_binary = Trace.load(folder / "saved.jsonl"), Trace.load(folder / "saved.viztrace")
    assert snapshot(as_binary) == snapshot(as_json) == snapshot(trace)
    assert os.path.getsize(folder / "saved.viztrace") < os.path.getsize(folder / "saved.jsonl") / 3
    # and back: the binary file exports to JSON Lines, record for record
    as_binary.save(folder / "back.jsonl")
    assert list(read_records(folder / "back.jsonl")) == list(read_records(folder / "saved.jsonl"))


def blocks_of(data: bytes) -> list[tuple[int, int]]:
    """(offset, total size) of each block of a binary trace."""
    out, pos = [], binary.FILE_HEAD.size
    while pos < len(data):
        size = struct.unpack_from("<I", data, pos + 4)[0]
        out.append((pos, binary.BLOCK_HEAD.size + size))
        pos += binary.BLOCK_HEAD.size + size
    return out


def several_blocks(path, batches: int = 4) -> Trace:
    """A trace written live in `batches` blocks of state records (plus the header block); returns its model."""
    head = fmt.header(target="t")
    w = TraceWriter.open(path, head)
    trace = Trace(head)
    t = 0.0
    for b in range(batches):
        recs: list = [{"k": "task", "t": t, "task": b + 1, "name": f"task {b}", "kind": "greenlet", "parent": None}]
        for i in range(100):
            t += 0.001
            recs.append(StateRecord("state", t, b + 1, ("running", "blocked")[i % 2],
                                    None if i % 2 == 0 else f"sleep({b})", "x.py", 10 + i % 3, False))
        w.write_many(recs)
        w.flush()
        trace.add_many(recs)
    w.close()
    return trace


def test_a_file_cut_in_the_middle_of_a_block_keeps_the_whole_blocks_before_it_and_says_where(tmp_path):
    path = tmp_path / "cut.viztrace"
    several_blocks(path)
    data = path.read_bytes()
    blocks = blocks_of(data)
    assert len(blocks) == 5  # the header, then one block per batch
    offset, size = blocks[3]
    for cut in (offset + 5, offset + size // 2):  # in the block's head, in its payload
        path.write_bytes(data[:cut])
        loaded = Trace.load(path)
        assert [ln.name for ln in loaded.lanes] == ["task 0", "task 1"]  # blocks 2 and 3
        assert [len(ln) for ln in loaded.lanes] == [100, 100]
        assert loaded.truncated_at == 4
        assert f"block 4 (byte {offset}; the file ends" in loaded.truncated_where
    path.write_bytes(data[:offset])  # cut between blocks: a whole file of two batches
    assert Trace.load(path).truncated_at is None


def test_a_corrupt_block_names_the_file_the_block_and_its_byte_offset(tmp_path):
    path = tmp_path / "bad.viztrace"
    several_blocks(path)
    data = bytearray(path.read_bytes())
    offset, size = blocks_of(bytes(data))[2]
    data[offset + size - 7] ^= 0x40  # a flipped bit inside block 3's payload
    path.write_bytes(bytes(data))
    with pytest.raises(TraceFileError) as e:
        Trace.load(path)
    assert str(e.value).startswith(str(path)) and f"block 3 at byte {offset}" in str(e.value)
    assert "checksum" in str(e.value) and (e.value.block, e.value.offset) == (3, offset)
    data[offset + size - 7] ^= 0x40
    data[offset] = ord("x")  # the block's head itself
    path.write_bytes(bytes(data))
    with pytest.raises(TraceFileError, match=f"block 3 at byte {offset}: the block head is corrupt"):
        Trace.load(path)


def test_a_block_whose_checksum_matches_but_whose_records_do_not_hold_together_is_refused(tmp_path):
    path = tmp_path / "codes.viztrace"
    head = fmt.header(target="t")
    ids: dict = {}
    payload = bytearray(binary.records_payload([StateRecord("state", 0.5, 1, "running", "r", None, 3, False)], ids))
    payload[binary.COLUMNS_HEAD.size + 24] = 9  # the state code
    path.write_bytes(binary.file_head() + binary.block(binary.KIND_HEADER, json.dumps(head).encode())
                     + binary.block(binary.KIND_RECORDS, bytes(payload)))
    with pytest.raises(TraceFileError, match="block 2 at byte [0-9]+: state record 1: unknown state code 9"):
        Trace.load(path)


def test_a_newer_version_of_the_binary_form_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "new.viztrace"
    several_blocks(path, 1)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 8, binary.VERSION + 1)
    path.write_bytes(bytes(data))
    with pytest.raises(TraceFileError, match=f"written by a newer viz \\(binary trace version {binary.VERSION + 1}\\); "
                                             f"this viz reads version {binary.VERSION}"):
        Trace.load(path)


def test_the_form_is_told_by_the_magic_bytes_not_the_name(tmp_path):
    trace = several_blocks(tmp_path / "a.viztrace", 2)
    os.rename(tmp_path / "a.viztrace", tmp_path / "a.jsonl")
    assert snapshot(Trace.load(tmp_path / "a.jsonl")) == snapshot(trace)
    trace.save(tmp_path / "b.jsonl")
    os.rename(tmp_path / "b.jsonl", tmp_path / "b.viztrace")
    assert snapshot(Trace.load(tmp_path / "b.viztrace")) == snapshot(trace)


ODD_RECORDS = [
    StateRecord("state", 0.25, 1, "running", None, None, None, False),
    StateRecord("state", 1, 1, "ready", "an int time", "x.py", 3, False),  # not a float: left to JSON
    StateRecord("state", 0.5, 2**40, "blocked", "a big task", None, None, True),
    StateRecord("state", 0.75, -3, "idle", "polling: fds [5]", "ü.py", 0, True),
    StateRecord("state", 0.875, 2, "dancing", None, None, None, False),  # an unknown state: JSON
    StateRecord("state", 1.0, 2, "blocked", "lone \ud800 surrogate", "x.py", 2**31 - 1, False),
    StateRecord("state", 1.5, 2, "blocked", "x", "x.py", 2**31, False),  # a line beyond 32 bits
    StateRecord("state", 2.0, 1, "running", "x", "x.py", 7, 1),  # a flag that is not a bool
    {"k": "output", "t": 1.25, "task": 1, "stream": "stdout", "text": "ünïcode — kept", "file": None, "line": None},
    {"k": "note", "t": 0.0, "level": "info", "text": "a note"},
]


def test_the_c_encoder_gives_the_python_encoders_bytes_ids_and_leftovers(tmp_path, monkeypatch):
    if binary._encode_c is None:
        pytest.skip("viz.trace._binary is not built")
    rnd = random.Random(7)
    names = ["a", "b", "ç", None, "gevent.sleep(0)"]
    batch = list(ODD_RECORDS)
    for i in range(2000):
        batch.append(StateRecord("state", rnd.random() * 10, rnd.randrange(-5, 50), rnd.choice(fmt.STATES),
                                 rnd.choice(names), rnd.choice(names), rnd.choice([None, 0, 5, 10**6]),
                                 rnd.random() < 0.1))
    rnd.shuffle(batch)
    ids_c, ids_py = {"seen": 1}, {"seen": 1}
    got_c = binary._encode_c(batch, ids_c, binary._STATE_CODE)
    got_py = binary.encode_py(batch, ids_py)
    assert got_c == got_py and ids_c == ids_py
    cols, n, others, new = got_c
    assert len(cols) == n * binary.BYTES_PER_STATE and n + len(others) == len(batch)
    assert {id(r) for _, r in others} >= {id(r) for r in ODD_RECORDS[1:3] + ODD_RECORDS[4:5] + ODD_RECORDS[6:]}
    files = []
    for encoder in (binary._encode_c, None):  # a whole file, batch after batch: the same bytes
        monkeypatch.setattr(binary, "_encode_c", encoder)
        w = binary.BinaryWriter(tmp_path / f"{len(files)}.viztrace", fmt.header(target="t"))
        for i in range(0, len(batch), 300):
            w.write_many(batch[i:i + 300])
        w.close()
        files.append((tmp_path / f"{len(files)}.viztrace").read_bytes())
    assert files[0] == files[1]


def test_odd_records_go_through_the_binary_form_and_are_taken_or_refused_as_json_lines_would(tmp_path):
    w = binary.BinaryWriter(tmp_path / "odd.viztrace", fmt.header())
    w.write_many(ODD_RECORDS)
    w.close()
    with pytest.raises(TraceFileError, match="other record [0-9]+: state record: unknown state 'dancing'"):
        list(fmt.read_batches(tmp_path / "odd.viztrace"))  # refused as the JSON Lines reader refuses its line
    refused = []  # what the JSON Lines reader refuses of them
    for i, r in enumerate(ODD_RECORDS):
        try:
            fmt.validate(r.to_json() if type(r) is StateRecord else r, "x", 1)
        except TraceFileError:
            refused.append(i)
    assert refused == [4, 6]  # the unknown state, the line beyond 32 bits
    good = [r for i, r in enumerate(ODD_RECORDS) if i not in refused]
    w = binary.BinaryWriter(tmp_path / "good.viztrace", fmt.header())
    w.write_many(good)
    w.close()
    back = [r for batch in fmt.read_batches(tmp_path / "good.viztrace") for r in batch]
    assert [r.to_json() if type(r) is StateRecord else r for r in back] == \
        [r.to_json() if type(r) is StateRecord else r for r in good]


def test_the_python_fold_and_check_build_the_same_model_as_the_c_ones(run, monkeypatch):
    trace, live, _ = run
    with_c = snapshot(Trace.load(live))
    monkeypatch.setattr(model, "_Folder", None)
    monkeypatch.setattr(binary, "_check_c", None)
    assert Trace()._folder is None
    assert snapshot(Trace.load(live)) == with_c == snapshot(trace)


def test_the_python_check_finds_the_record_the_c_check_finds(tmp_path):
    if binary._check_c is None:
        pytest.skip("viz.trace._binary is not built")
    recs = [StateRecord("state", 0.1 * i, 1, "running", "r", "f", i, False) for i in range(10)]
    payload = binary.records_payload(recs, {})
    base = binary.COLUMNS_HEAD.size
    n = 10
    for where, value in [(base + 8 * 4, struct.pack("<d", math.inf)), (base + 24 * n + 6, b"\x07"),
                         (base + 25 * n + 2, b"\x03"), (base + 12 * n + 4 * 5, struct.pack("<I", 99)),
                         (base + 20 * n + 4 * 8, struct.pack("<i", -2))]:
        bad = payload[:where] + value + payload[where + len(value):]
        got_c = binary._check_c(bad, base, n, 3)
        blk = binary.Block(2, 0)
        blk.payload, blk.n = bad, n  # its columns are read from the payload
        assert got_c is not None and got_c == binary.check_py(blk, 3), (where, got_c)


FLOATS = [0.1, 1e-05, 1e16, 5e-324, 1.7976931348623157e308, -0.0, 2 / 3, 123456.789012345678, 0.30000000000000004]


@pytest.mark.parametrize("writer", ["c", "orjson", "json"])
def test_the_json_lines_writer_reads_back_what_it_was_given_floats_and_text_exact(tmp_path, writer, monkeypatch):
    if writer == "c" and fmt._lines is None:
        pytest.skip("viz.trace._lines is not built")
    if writer == "orjson" and fmt._orjson_dumps is None:
        pytest.skip("orjson is not installed")
    if writer != "c":
        monkeypatch.setattr(fmt, "_lines", None)
    if writer == "json":
        monkeypatch.setattr(fmt, "_orjson_dumps", None)
    rnd = random.Random(3)
    floats = FLOATS + [rnd.uniform(0, 100) for _ in range(500)] + [rnd.random() * 10 ** rnd.randint(-12, 12)
                                                                  for _ in range(500)]
    recs = [StateRecord("state", t, i % 7, fmt.STATES[i % 4], "gevent.sleep(0) — ü" if i % 3 else None,
                        "x.py", i % 50 or None, i % 5 == 0) for i, t in enumerate(floats)]
    recs.insert(3, {"k": "output", "t": 0.5, "task": 1, "stream": "stdout", "text": "naïve “quotes” \x1b[31m",
                    "file": None, "line": None})
    recs.insert(1, StateRecord("state", 0.6, 1, "blocked", "lone \udc80 byte", None, None, False))  # (its run: json)
    recs.append(StateRecord("state", 2e-05, 1, "ready", None, None, None, False))
    path = tmp_path / "w.jsonl"
    w = TraceWriter(path, fmt.header())
    w.write_many(recs)
    w.close()
    data = path.read_bytes()
    assert "gevent.sleep(0) — ü".encode() in data and "naïve “quotes”".encode() in data  # kept, not escaped
    assert (b'"t":0.00002,' in data) == (writer == "orjson")  # (orjson's spelling of 2e-05: it wrote the run)
    back = list(read_records(path))
    assert back == [r.to_json() if type(r) is StateRecord else r for r in recs]
    assert all(math.copysign(1, a["t"]) == math.copysign(1, b["t"]) for a, b in
               zip(back, [r.to_json() if type(r) is StateRecord else r for r in recs]))


def test_viz_show_and_compare_read_a_saved_viztrace(run):
    trace, live, folder = run
    shown = subprocess.run([sys.executable, "-m", "viz", "show", "--text", "--no-color", "--width", "100", str(live)],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert shown.returncode == 0, shown.stderr
    assert "sleeper" in shown.stdout and "switcher" in shown.stdout
    trace.save(folder / "other.jsonl")
    compared = subprocess.run([sys.executable, "-m", "viz", "compare", "--text", "--no-color", str(live),
                               str(folder / "other.jsonl")],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert compared.returncode == 0, compared.stderr
    assert compared.stdout.count("▸ waits.py") == 2  # both runs, each with its header's name


def test_the_c_json_lines_writer_writes_the_json_modules_bytes_and_hands_on_what_it_cannot():
    if fmt._lines is None:
        pytest.skip("viz.trace._lines is not built")
    rnd = random.Random(5)
    texts = [None, "gevent.sleep(0) — ü", 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f', "é", ""]
    recs = [StateRecord("state", rnd.choice(FLOATS + [rnd.random() * 10 ** rnd.randint(-9, 17)]),
                        rnd.randrange(-5, 2**62), rnd.choice(fmt.STATES), rnd.choice(texts), rnd.choice(texts),
                        rnd.choice([None, 0, 7, 2**40]), rnd.random() < 0.2) for _ in range(3000)]
    recs += [StateRecord("state", math.nan, 1, "ready", None, None, None, False),  # json writes NaN
             StateRecord("state", 1, 2**70, "ready", "lone \ud800", None, None, 1),  # an int time, a huge task
             {"k": "output", "t": 0.5, "task": 1, "stream": "stdout", "text": "x", "file": None, "line": None}]
    rnd.shuffle(recs)
    assert fmt.encode_lines(recs) == b"".join(fmt.encode_other(r) + b"\n" for r in recs)


def test_fuzzed_binary_files_either_load_or_raise_a_trace_file_error(tmp_path):
    path = tmp_path / "f.viztrace"
    several_blocks(path, 3)
    data = path.read_bytes()
    rnd = random.Random(11)
    for i in range(300):
        bad = bytearray(data)
        if i % 3 == 0:
            bad = bad[:rnd.randrange(len(bad))]
        else:
            for _ in range(rnd.randint(1, 4)):
                bad[rnd.randrange(len(bad))] = rnd.randrange(256)
        path.write_bytes(bytes(bad))
        try:
            trace = Trace.load(path)
        except TraceFileError as e:
            assert str(e).startswith(str(path))
        else:
            assert sum(len(ln) for ln in trace.lanes) <= 300


def test_a_batch_too_large_for_one_block_is_written_as_several_that_read_back_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(binary, "MAX_PAYLOAD", 5000)
    recs: list = []
    for i in range(200):
        recs.append(StateRecord("state", i * 0.01, 1 + i % 3, "running", f"reason {i % 7}", "x.py", i, False))
        recs.append({"k": "output", "t": i * 0.01, "task": 1, "stream": "stdout", "text": f"line {i} " + "x" * 90,
                     "file": None, "line": None})
    w = binary.BinaryWriter(tmp_path / "big.viztrace", fmt.header())
    w.write_many(recs)
    w.close()
    assert len(blocks_of((tmp_path / "big.viztrace").read_bytes())) > 5
    back = [r for batch in fmt.read_batches(tmp_path / "big.viztrace") for r in batch]
    assert back == recs
