"""Saving a trace from the app never writes over a file, nor through a symbolic link: the file is created exclusively."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from viz.app.app import VizApp
from viz.app.saving import TraceExists, default_path, save_trace, write_new
from viz.trace.model import Trace

DATA = Path(__file__).parent / "data"


def dangling_links(folder: Path, name: str, seconds: int = 5) -> list[Path]:
    """At every name the save key could pick in the next few seconds, a symbolic link to a file that does not exist
    (in another folder): what a check with Path.exists() takes for a free name."""
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    now = time.time()
    targets = []
    for k in range(seconds):
        path = default_path(name, folder, now=now + k)
        target = elsewhere / f"target-{k}"
        path.symlink_to(target)
        targets.append(target)
    return targets


def test_the_save_key_never_writes_through_a_symbolic_link_where_the_name_it_picks_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trace = Trace.load(DATA / "gevent_sleepers.jsonl")
    targets = dangling_links(tmp_path, "gevent_sleepers")

    async def press_save() -> None:
        app = VizApp(trace=trace, trace_name="gevent_sleepers")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("s")
            await pilot.pause()

    asyncio.run(press_save())
    assert not any(t.exists() for t in targets), "the trace went through a link, to a file outside the folder"
    saved = [p for p in tmp_path.glob("gevent_sleepers-*.trace.jsonl") if not p.is_symlink()]
    assert len(saved) == 1
    assert Trace.load(saved[0]).exit == trace.exit
    assert all(p.is_symlink() and not p.exists() for p in tmp_path.glob("gevent_sleepers-*") if p not in saved)


def test_a_file_that_is_already_there_is_not_written_over_and_the_error_says_so(tmp_path):
    trace = Trace.load(DATA / "baozi.jsonl")
    path = tmp_path / "mine.trace.jsonl"
    path.write_text("my own notes\n")
    with pytest.raises(TraceExists) as raised:
        write_new(trace, path)
    assert str(raised.value) == f"{path} already exists; viz never writes over a file"
    assert isinstance(raised.value, FileExistsError)
    assert path.read_text() == "my own notes\n"


def test_a_saved_trace_is_the_same_file_trace_save_writes(tmp_path):
    trace = Trace.load(DATA / "baozi.jsonl")
    saved = save_trace(trace, "baozi.py", tmp_path)
    trace.save(tmp_path / "reference.jsonl")
    assert saved.parent == tmp_path and saved.name.startswith("baozi-")
    assert saved.read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
    again = save_trace(trace, "baozi.py", tmp_path)
    assert again != saved and saved.read_bytes() == again.read_bytes()
    assert os.path.getsize(saved) > 0



def test_s_where_the_trace_cannot_be_written_says_so_and_the_run_stays(tmp_path, monkeypatch):
    """A save that fails is a notification, not a crash; the run stays on screen."""
    import viz.app.run_screen as run_screen
    from viz.app.run_screen import RunScreen

    not_a_folder = tmp_path / "not-a-folder"  # a file where the folder should be: no path under it can be written
    not_a_folder.write_text("")
    real = run_screen.save_trace
    monkeypatch.setattr(run_screen, "save_trace", lambda trace, name: real(trace, name, not_a_folder))
    app = VizApp(trace=Trace.load(DATA / "gevent_sleepers.jsonl"), trace_name="gevent_sleepers")
    told: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (told.append(str(message)), notify(message, **kw))[1]

    async def press_save() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await pilot.pause()
            assert isinstance(app.screen, RunScreen)

    asyncio.run(press_save())
    assert any(m.startswith("Could not save the trace") for m in told), told
