"""The `viz` command line: parses arguments and hands over to the recorder, the views or the app.

    viz                          open the scenario picker (the app)
    viz list                     the scenarios, with their titles
    viz record TARGET [-- ARGS]  record a run and print it as text swimlanes
    viz run TARGET [-- ARGS]     record a run and watch it live in the app
    viz show FILE                open a saved trace in the app (or --text to print it)
    viz export FILE -o OUT.json  convert a trace for Perfetto / chrome://tracing

Bad input gets one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from viz import __version__

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="viz", description="Watch Python concurrency take turns: record a program's "
                                "tasks (generators, greenlets, gevent, threads, select loops) and play them back "
                                "as swimlanes. With no command, opens the scenario picker.")
    p.add_argument("--version", action=_Version, nargs=0, help="show the version and whether the C hot paths are "
                   "in use, then exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("list", help="list the scenarios", description="List every scenario with its title.")

    target_help = "a scenario name (see `viz list`) or the path of a Python script; script arguments go after --"
    rec = sub.add_parser("record", help="record a run and print it as text swimlanes",
                         description="Run TARGET in a child process under the recorder, then print its output, "
                                     "text swimlanes and per-task totals. Exits non-zero when the program fails, "
                                     "is stopped or times out.",
                         epilog="example: viz record gevent_sleepers -o sleepers.jsonl")
    rec.add_argument("target", metavar="TARGET", help=target_help)
    rec.add_argument("-o", "--output", metavar="FILE", help="also write the trace to FILE (JSON Lines)")
    rec.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                     help="stop the run after SECONDS, keeping the trace up to then")
    rec.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and the outcome")
    rec.add_argument("--no-color", action="store_true", help="letters instead of colours")
    rec.add_argument("--width", type=int, default=None, help="width of the swimlanes (default: the terminal's)")

    run = sub.add_parser("run", help="record a run and watch it live in the app",
                         description="Open the app on a live run of TARGET.")
    run.add_argument("target", metavar="TARGET", help=target_help)
    run.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="stop the run after SECONDS")

    show = sub.add_parser("show", help="open a saved trace", description="Open a saved trace in the app.")
    show.add_argument("file", metavar="FILE", help="a trace file written by `viz record -o` or the app's save key")
    show.add_argument("--text", action="store_true", help="print text swimlanes instead of opening the app")
    show.add_argument("--no-color", action="store_true", help="letters instead of colours (with --text)")
    show.add_argument("--width", type=int, default=None, help="width of the swimlanes (with --text)")

    exp = sub.add_parser("export", help="convert a trace for Perfetto / chrome://tracing",
                         description="Write FILE in the Trace Event Format (open it at ui.perfetto.dev or "
                                     "chrome://tracing).")
    exp.add_argument("file", metavar="FILE", help="a trace file")
    exp.add_argument("--format", choices=["chrome"], default="chrome", help="the output format (default: chrome)")
    exp.add_argument("-o", "--output", metavar="OUT", required=True, help="where to write the export")
    return p


class _Version(argparse.Action):
    """--version: the version, then viz.native's report on the build (argparse's own action would re-wrap it)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from viz import native
        print(f"viz {__version__} (Python {sys.version.split()[0]})\n{native.report()}")
        parser.exit()


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, script_args = argv[:i], argv[i + 1:]
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args, script_args)
    except KeyboardInterrupt:
        return 130
    except _Failure as e:
        print(f"viz: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


class _Failure(Exception):
    pass


def _dispatch(args: argparse.Namespace, script_args: list[str]) -> int:
    from viz.protocol import UnsupportedPython
    from viz.scenarios import TargetError
    from viz.trace.format import TraceFileError

    try:
        if args.command in (None, "run", "record"):  # they record: refuse an untested interpreter before anything
            from viz.protocol import check_python
            check_python()
        if args.command is None:
            from viz.app import run_picker
            return run_picker()
        if args.command == "list":
            return _list()
        if args.command == "record":
            return _record(args, script_args)
        if args.command == "run":
            from viz.app import run_target
            from viz.scenarios import resolve
            path, name = resolve(args.target)
            return run_target(str(path), name, script_args, args.timeout)
        if args.command == "show":
            if args.text:
                return _show_text(args)
            from viz.app import show_trace
            return show_trace(args.file)
        if args.command == "export":
            return _export(args)
    except (TargetError, TraceFileError, UnsupportedPython) as e:
        raise _Failure(str(e)) from None
    except OSError as e:
        raise _Failure(f"{e.filename or ''}: {e.strerror}" if e.strerror else str(e)) from None
    return 0


def _list() -> int:
    from viz.scenarios import list_scenarios
    scenarios = list_scenarios()
    width = max((len(s.name) for s in scenarios), default=0)
    for s in scenarios:
        print(f"{s.name:<{width}}  {s.title}")
    return 0


def _record(args: argparse.Namespace, script_args: list[str]) -> int:
    from rich.console import Console

    from viz.ingest.session import Session, failed
    from viz.scenarios import resolve
    from viz.trace.model import Trace
    from viz.views.text import outcome_line, print_report

    path, name = resolve(args.target)
    session = Session(path, script_args, name=name, timeout=args.timeout, out=args.output)
    trace = Trace(session.header)
    err = Console(stderr=True, highlight=False)
    session.start()
    try:
        if err.is_terminal and not args.quiet:
            with err.status(f"recording {name}…") as status:
                def progress(recs):
                    trace.add_many(recs)
                    status.update(f"recording {name}… {session.elapsed:.1f} s, {len(trace.lanes)} tasks, "
                                  f"{trace.step_count:,} events")
                session.run(progress)
        else:
            session.run(trace.add_many)
    finally:
        session.close()
    if args.quiet:
        for note in trace.notes:
            print(f"note: {note['text']}")
        print(outcome_line(trace))
    else:
        console = Console(highlight=False, width=args.width, no_color=args.no_color,
                          color_system=None if args.no_color else "auto")
        print_report(trace, console)
    if args.output:
        print(f"trace written to {args.output}", file=sys.stderr)
    return 1 if failed(session.exit_record) else 0


def _show_text(args: argparse.Namespace) -> int:
    from rich.console import Console

    from viz.trace.model import Trace
    from viz.views.text import print_report

    trace = Trace.load(args.file)
    console = Console(highlight=False, width=args.width, no_color=args.no_color,
                      color_system=None if args.no_color else "auto")
    print_report(trace, console)
    return 0


def _export(args: argparse.Namespace) -> int:
    from viz.trace.model import Trace
    from viz.views.chrome import export

    trace = Trace.load(args.file)
    n = export(trace, args.output)
    print(f"wrote {n} events to {args.output} (open it at ui.perfetto.dev or chrome://tracing)", file=sys.stderr)
    return 0
