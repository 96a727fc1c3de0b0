"""The app's process stays clean: it never imports gevent or the traced script, and the CLI can import viz.app
without paying for Textual."""

from __future__ import annotations

import subprocess
import sys
import textwrap

RUN_THE_APP_ON_A_GEVENT_SCENARIO = textwrap.dedent("""
    import asyncio, sys, time
    from viz.app.app import VizApp
    from viz.scenarios import resolve

    async def main():
        path, name = resolve("gevent_sleepers")
        app = VizApp(run=(str(path), name, [], 30.0))
        async with app.run_test(size=(100, 30)) as pilot:
            screen = app.screen
            deadline = time.monotonic() + 30
            while not screen.trace.finished and time.monotonic() < deadline:
                await pilot.pause(0.05)
            assert screen.trace.finished, "the run did not finish"
            assert any(lane.name == "hub" for lane in screen.trace.lanes), "gevent ran in the child"
            await pilot.press("home", "right", "space", "plus", "f")
            await pilot.pause()

    asyncio.run(main())
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("gevent", "greenlet", "gevent_sleepers"))
    print("LOADED", loaded)
    assert not loaded, loaded
""")


def test_the_app_never_imports_gevent_or_the_script_even_while_showing_a_gevent_run():
    result = subprocess.run([sys.executable, "-c", RUN_THE_APP_ON_A_GEVENT_SCENARIO], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOADED []" in result.stdout


def test_importing_the_app_package_does_not_load_textual():
    code = "import sys, viz.app; assert 'textual' not in sys.modules, 'textual loaded'; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr
