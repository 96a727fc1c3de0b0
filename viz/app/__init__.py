"""The TUI: pick a scenario, watch it run live, then play, step and scrub its timeline.

The CLI calls these three functions; Textual is imported only when one of them runs, so `import viz.cli` stays light.
Each returns the process exit status (0 unless the app itself failed).
"""

from __future__ import annotations


def run_picker() -> int:
    """`viz`: the scenario picker; enter runs a scenario, esc comes back to choose another."""
    from viz.app.app import VizApp

    return _run(VizApp(picker=True))


def run_target(script_path: str, name: str, args: list[str], timeout: float | None, ingest=None) -> int:
    """`viz run TARGET`: run the script live and open the app on it. The run starts first (in `ingest`, the ingest
    process viz.cli started before it parsed its arguments, or one started now), while Textual and the app load: the
    timeline catches up with what the program did meanwhile."""
    from viz.app.feed import LiveFeed
    from viz.ingest.session import Session

    feed = LiveFeed(Session(script_path, list(args), name=name, timeout=timeout)).start(ingest)
    try:
        from viz.app.app import VizApp

        return _run(VizApp(run=(script_path, name, list(args), timeout), feed=feed))
    finally:
        feed.close()  # (the run screen has closed it already, unless the app failed before showing it)


def show_trace(path: str) -> int:
    """`viz show FILE`: open a saved trace. Raises viz.trace.TraceFileError before the app starts on a bad file."""
    from viz.trace.model import Trace

    trace = Trace.load(path)
    from viz.app.app import VizApp, trace_display_name

    return _run(VizApp(trace=trace, trace_name=trace_display_name(path, trace)))


def _run(app) -> int:
    app.run()
    return app.return_code or 0


__all__ = ["run_picker", "run_target", "show_trace"]
