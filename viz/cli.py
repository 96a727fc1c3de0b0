"""The `viz` command line: parses arguments and hands over to the recorder, the views or the app.

    viz                          open the scenario picker (the app)
    viz list                     the scenarios, with their titles
    viz record TARGET [-- ARGS]  record a run and print it as text swimlanes
    viz run TARGET [-- ARGS]     record a run and watch it live in the app
    viz show FILE                open a saved trace in the app (or --text to print it)
    viz export FILE -o OUT.json  convert a trace for Perfetto / chrome://tracing
    viz compare A B [C ...]      record runs one after another and show them side by side on one time axis

Bad input gets one line on stderr and a non-zero exit status, never a traceback. `viz record` passes the program's
own exit status on; EXIT_STATUSES says which statuses viz itself uses (docs/guarantees.md has the same table).
"""

from __future__ import annotations

import argparse
import os
import sys

from viz import __version__
from viz.views import MIN_WIDTH

EXIT_BAD_INPUT = 2      # viz's own: bad arguments, an unknown scenario or script, a bad trace file
EXIT_NO_OUTCOME = 1     # the run left no account of how it ended (should not happen)
EXIT_TIMEOUT = 124      # --timeout stopped the run (as timeout(1) does)
EXIT_INTERRUPTED = 130  # Ctrl-C stopped the run (128 + SIGINT, as a shell reports it)
EXIT_FINDING = 3        # --fail-on: the program finished with 0 but the run has a finding of that kind

EXIT_STATUSES = f"""exit status:
  0        the program finished
  N        the program's own status: sys.exit(N), os._exit(N); 1 when it raised
  128+N    the program died of signal N (137: SIGKILL, 139: SIGSEGV)
  {EXIT_TIMEOUT}      --timeout stopped the run; the report and the trace so far are kept
  {EXIT_INTERRUPTED}      Ctrl-C stopped the run; the report and the trace so far are kept
  {EXIT_FINDING}        --fail-on KIND: the program finished with 0, but the run has a KIND finding
  {EXIT_BAD_INPUT}        viz's own error, said in one line on stderr, "viz: error: ..." or
           "viz record: error: ..." (bad arguments, no such scenario or script)"""


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
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="Run TARGET in a child process under the recorder, then print its output,\n"
                                     "text swimlanes and per-task totals. viz exits with the program's own exit\n"
                                     "status (see below). The program reads viz's stdin when it is a pipe or a\n"
                                     "file (echo 3 | viz record script.py); from a terminal, end-of-file.",
                         epilog=f"{EXIT_STATUSES}\n\nexample: viz record gevent_sleepers -o sleepers.jsonl")
    rec.add_argument("target", metavar="TARGET", help=target_help)
    rec.add_argument("-o", "--output", metavar="FILE", help="also write the trace to FILE: the compact binary form "
                     "when FILE ends in .viztrace (written several times faster), else JSON Lines")
    rec.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                     help="stop the run after SECONDS, keeping the trace up to then")
    rec.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and the outcome")
    rec.add_argument("--no-color", action="store_true", help="letters instead of colours (also when NO_COLOR is "
                     "set or the output is not a terminal)")
    rec.add_argument("--width", type=_width, default=None, metavar="COLUMNS",
                     help=f"width of the report, at least {MIN_WIDTH} (default: the terminal's)")
    _diagnostic_options(rec)
    rec.add_argument("--fail-on", type=_fail_on, action="append", metavar="KIND[=MS]",
                     help="exit with status 3 when the run has a KIND finding (e.g. loop-blocked=20: a call held a "
                          "loop 20 ms or more), so a test suite run under viz can fail on it in CI")

    run = sub.add_parser("run", help="record a run and watch it live in the app",
                         description="Open the app on a live run of TARGET.")
    run.add_argument("target", metavar="TARGET", help=target_help)
    run.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="stop the run after SECONDS")

    show = sub.add_parser("show", help="open a saved trace", description="Open a saved trace in the app.")
    show.add_argument("file", metavar="FILE", help="a trace file written by `viz record -o` or the app's save key")
    show.add_argument("--text", action="store_true", help="print text swimlanes instead of opening the app")
    show.add_argument("--no-color", action="store_true", help="letters instead of colours (with --text; also when "
                      "NO_COLOR is set or the output is not a terminal)")
    show.add_argument("--width", type=_width, default=None, metavar="COLUMNS",
                      help=f"width of the report, at least {MIN_WIDTH} (with --text; default: the terminal's)")
    _diagnostic_options(show)

    exp = sub.add_parser("export", help="convert a trace for Perfetto / chrome://tracing, or to another trace form",
                         description="Write FILE in the Trace Event Format (open it at ui.perfetto.dev or "
                                     "chrome://tracing), or as a viz trace in the other form: JSON Lines to read "
                                     "and process as text, or the compact binary .viztrace.")
    exp.add_argument("file", metavar="FILE", help="a trace file")
    exp.add_argument("--format", choices=["chrome", "jsonl", "viztrace"], default="chrome",
                     help="the output format (default: chrome)")
    exp.add_argument("-o", "--output", metavar="OUT", required=True, help="where to write the export")

    cmp = sub.add_parser("compare", help="record runs one after another and show them side by side",
                         description="Record each run in turn (never two at once: they would slow each other), then "
                                     "show them side by side on one time axis with a table comparing them. Each "
                                     "RUN is a scenario name, a script path or a saved trace file (.jsonl or "
                                     ".viztrace).",
                         epilog="example: viz compare sleepers_unpatched sleepers_patched --text")
    cmp.add_argument("runs", nargs="+", metavar="RUN", help="a scenario name, a script path or a saved trace file")
    cmp.add_argument("-o", "--output", metavar="DIR", help="keep each run's trace in DIR (DIR/NAME.jsonl)")
    cmp.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="stop each run after SECONDS")
    cmp.add_argument("--text", action="store_true", help="print the runs and the comparison instead of opening "
                     "the app")
    cmp.add_argument("--from-work", action="store_true", help="count time from the start of each run's counted "
                     "work, not from its start (the app opens so; w toggles it there)")
    cmp.add_argument("--no-color", action="store_true", help="letters instead of colours (with --text; also when "
                     "NO_COLOR is set or the output is not a terminal)")
    cmp.add_argument("--width", type=_width, default=None, metavar="COLUMNS",
                     help=f"width of the report, at least {MIN_WIDTH} (with --text; default: the terminal's)")
    return p


def _diagnostic_options(parser: argparse.ArgumentParser) -> None:
    from viz.views.thresholds import KINDS, THRESHOLDS
    parser.add_argument("--json", action="store_true",
                        help="print the outcome and the findings as JSON instead of the text report")
    parser.add_argument("--threshold", action="append", metavar="KIND=MS",
                        help="when a finding counts, in milliseconds (default: " +
                             ", ".join(f"{k}={v:g}" for k, v in THRESHOLDS.items()) + f"); KIND is one of "
                             f"{', '.join(KINDS)}")


def _fail_on(text: str) -> tuple[str, float | None]:
    from viz.views.thresholds import KINDS
    kind, sep, ms = text.partition("=")
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(f"{kind!r} is not a kind of finding ({', '.join(KINDS)})")
    if not sep:
        return kind, None
    try:
        value = float(ms)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {ms!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a threshold cannot be negative")
    return kind, value


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


def _width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of columns: {text!r}") from None
    if value < MIN_WIDTH:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_WIDTH} columns, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    called_as_command = argv is None  # the `viz` command itself, not a caller in the same interpreter
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, script_args = argv[:i], argv[i + 1:]
    held = ingest = None
    if argv[:1] == ["record"]:  # its child starts now, held, while the rest of viz loads (viz.ingest.held)
        from viz.ingest.held import HeldChild
        try:
            held = HeldChild(stdin=_script_stdin())
        except (OSError, ValueError):
            pass  # (no cwd, no fds left, a stdin without a file descriptor) _record spawns it and says what failed
    elif argv[:1] == ["run"]:  # its ingest process (and the child it holds) start now (viz.ingest.launch)
        from viz.ingest.launch import IngestProcess
        try:
            ingest = IngestProcess()
        except (OSError, ValueError):
            pass  # the live feed starts one itself, and says what failed
    try:
        args = build_parser().parse_args(argv)
        status = _dispatch(args, script_args, held, ingest)
        if held is not None and called_as_command:
            _exit_now(status)
        return status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except _Failure as e:
        print(f"viz: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if held is not None:
            held.cancel()  # not used (bad arguments, --help): it ran nothing
        if ingest is not None:
            ingest.cancel()  # the same


class _Failure(Exception):
    pass


def _exit_now(status: int) -> None:
    """`viz record` has said all it says and its child is gone: end the process without the interpreter's teardown
    of every module loaded (about 15 ms of a one-line program's recording). viz registers no exit handlers."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # the ordinary exit reports it
    os._exit(status)


def _dispatch(args: argparse.Namespace, script_args: list[str], held=None, ingest=None) -> int:
    from viz.protocol import UnsupportedPython
    from viz.scenarios import TargetError
    from viz.trace.format import TraceFileError

    try:
        if args.command in (None, "run", "record", "compare"):  # they record: refuse an untested interpreter first
            from viz.protocol import check_python
            check_python()
        if args.command is None:
            from viz.app import run_picker
            return run_picker()
        if args.command == "list":
            return _list()
        if args.command == "record":
            return _record(args, script_args, held)
        if args.command == "run":
            from viz.app import run_target
            from viz.scenarios import resolve
            path, name = resolve(args.target)
            return run_target(str(path), name, script_args, args.timeout, ingest)
        if args.command == "show":
            if args.text or args.json:
                return _show_text(args)
            from viz.app import show_trace
            return show_trace(args.file)
        if args.command == "export":
            return _export(args)
        if args.command == "compare":
            return _compare(args, script_args)
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


def _script_stdin():
    """The script reads viz's stdin when that is a pipe or a file (`echo 3 | viz record x.py`), as it would run alone;
    from a terminal it reads end-of-file (None): its prompts would not show until the report."""
    return None if sys.stdin is None or sys.stdin.isatty() else sys.stdin


def _record(args: argparse.Namespace, script_args: list[str], held=None) -> int:
    """`viz record`; `held` is the child main() started early (viz.ingest.held), None to spawn one here."""
    import signal

    from viz.ingest.heap import quiet_collector
    from viz.ingest.session import RUN_BATCH, Session
    from viz.scenarios import resolve

    quiet_collector()  # measured on switch-heavy code: the whole command 1.79x -> 1.63x the plain run
    thresholds = _thresholds(args)  # a bad --threshold is refused before anything runs
    path, name = resolve(args.target)
    session = (held.session if held is not None else Session)(path, script_args, name=name, timeout=args.timeout,
                                                                out=args.output, stdin=_script_stdin())
    ctrl_c: list[int] = []

    def on_ctrl_c(signum, frame):
        """Ctrl-C stops the program, as --timeout does: the loop below ends the run and reads all it sent."""
        ctrl_c.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts viz itself

    def record(on_records) -> None:
        while not session.done:
            if ctrl_c and session.stop_reason is None:
                session.stop("interrupted")
            recs = session.poll(0.1, limit=RUN_BATCH)  # a backlog decoded a piece at a time keeps the peak low
            if recs:
                on_records(recs)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        session.start()
        from viz.trace.model import Trace
        from viz.views.durations import fmt_duration
        from viz.views.outcome import outcome_line

        trace = Trace(session.header)

        def fold(recs) -> None:  # lanes take their spans as their buffers fill, and all at the end (flush below)
            trace.add_many(recs, hold=True)
        if args.quiet:  # one line at the end: no Rich (its loading would outlast a short program)
            record(fold)
        else:  # what the report needs loads while the program runs (the pipe reader thread keeps its pipes drained)
            from rich.console import Console

            from viz.views import diagnostics as _diagnostics  # noqa: F401 (the findings, after the run)
            from viz.views.text import print_report

            err = Console(stderr=True, highlight=False)
            if err.is_terminal:
                with err.status(f"recording {name}…") as status:
                    def progress(recs):
                        fold(recs)
                        status.update(f"recording {name}… {session.elapsed:.1f} s, {len(trace.lanes)} tasks, "
                                      f"{trace.step_count:,} events")
                    record(progress)
            else:
                record(fold)
    finally:
        signal.signal(signal.SIGINT, previous)
        session.close()
    trace.flush()
    findings = []
    if args.json or args.fail_on or not args.quiet:
        from viz.views.diagnostics import diagnose  # (loaded already with the report's modules, unless --quiet)
        findings = diagnose(trace, thresholds)
    if args.json:
        _print_json(trace, findings)
    elif args.quiet:
        for note in trace.notes:
            print(f"note: {note['text']}")
        print(outcome_line(trace))
    else:
        print_report(trace, _console(args), findings=findings)
    if ctrl_c:
        print(f"viz: Ctrl-C stopped the program at {fmt_duration(trace.duration)}; kept its {trace.step_count:,} "
              f"events up to then", file=sys.stderr)
    if args.output:
        print(f"trace written to {args.output}", file=sys.stderr)
    elif ctrl_c or (trace.exit or {}).get("outcome") == "timeout":
        print("the trace was not saved (-o FILE keeps it)", file=sys.stderr)
    status = exit_status(session.exit_record)
    failed = _failed_on(args.fail_on, findings, thresholds)
    if failed and status == 0:
        print(f"viz: --fail-on {failed}", file=sys.stderr)
        return EXIT_FINDING
    return status


def _thresholds(args: argparse.Namespace) -> dict[str, float]:
    from viz.views.thresholds import parse_thresholds
    try:
        thresholds = parse_thresholds(args.threshold)
    except ValueError as e:
        raise _Failure(f"--threshold {e}") from None
    for kind, ms in getattr(args, "fail_on", None) or ():
        if ms is not None:  # --fail-on loop-blocked=50 counts calls of 50 ms or more
            thresholds[kind] = ms
    return thresholds


def _failed_on(fail_on, findings, thresholds) -> str | None:
    """The first --fail-on KIND with a finding of that kind, said as `KIND: N findings (the first: ...)`."""
    for kind, _ in fail_on or ():
        hits = [f for f in findings if f.kind == kind]
        if hits:
            return (f"{kind} (≥ {thresholds[kind]:g} ms): {len(hits)} finding{'s' if len(hits) != 1 else ''}, "
                    f"the first: {hits[0].text}")
    return None


def _print_json(trace, findings) -> None:
    import json
    from viz.views.outcome import outcome_line
    doc = {"target": trace.header.get("target"), "outcome": trace.exit, "summary": outcome_line(trace),
           "findings": [f.to_json() for f in findings]}
    print(json.dumps(doc, ensure_ascii=False, indent=1))


def exit_status(exit_record: dict | None) -> int:
    """What `viz record` exits with: the program's own status, or one of viz's (EXIT_STATUSES)."""
    import signal
    if exit_record is None:
        return EXIT_NO_OUTCOME
    outcome = exit_record.get("outcome")
    if outcome == "timeout":
        return EXIT_TIMEOUT
    if outcome == "interrupted":
        return EXIT_INTERRUPTED
    sig = exit_record.get("signal")
    if sig:
        try:
            return 128 + signal.Signals[sig].value
        except KeyError:
            return 128 + int(sig) if str(sig).isdigit() else EXIT_NO_OUTCOME
    status = exit_record.get("status")
    if isinstance(status, int):
        return status & 0xFF  # as the system passes a status on: sys.exit(256) exits 0, sys.exit(-1) 255
    return EXIT_NO_OUTCOME if outcome != "finished" else 0


def _console(args: argparse.Namespace):
    """The report's console: colours only on a terminal, and never with --no-color or NO_COLOR set
    (https://no-color.org: set and not empty). Without colours the states are letters."""
    from rich.console import Console
    no_color = args.no_color or bool(os.environ.get("NO_COLOR"))
    return Console(highlight=False, width=args.width, no_color=True if no_color else None,
                   color_system=None if no_color else "auto")


def _show_text(args: argparse.Namespace) -> int:
    from viz.trace.model import Trace
    from viz.views.diagnostics import diagnose
    from viz.views.text import print_report

    trace = Trace.load(args.file)
    findings = diagnose(trace, _thresholds(args))
    if args.json:
        _print_json(trace, findings)
    else:
        print_report(trace, _console(args), findings=findings)
    return 0


def _export(args: argparse.Namespace) -> int:
    from viz.trace.model import Trace
    from viz.views.chrome import export

    trace = Trace.load(args.file)
    if args.format != "chrome":
        trace.save(args.output, form=args.format)
        print(f"wrote the trace to {args.output} ({'JSON Lines' if args.format == 'jsonl' else 'binary'})",
              file=sys.stderr)
        return 0
    n = export(trace, args.output)
    print(f"wrote {n} events to {args.output} (open it at ui.perfetto.dev or chrome://tracing)", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace, script_args: list[str]) -> int:
    """`viz compare`: check every RUN first (one line and status 2 for a bad one, before anything runs), record the
    scenarios and scripts one after another with progress on stderr, then print or open the comparison."""
    from pathlib import Path

    from viz.scenarios import TargetError, resolve
    from viz.trace.model import Trace
    from viz.views.compare import Run, compare_report, unique_names

    def bad(message: str) -> int:
        print(f"viz compare: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    if len(args.runs) < 2:
        return bad("give at least two runs to compare")
    if script_args:
        return bad("script arguments (after --) are not taken: each run is recorded without arguments")
    out_dir = Path(args.output) if args.output else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        return bad(f"-o {out_dir}: not a folder")
    planned: list[tuple[str, Path | None, Trace | None]] = []  # (name, script to record, or a loaded trace)
    for target in args.runs:
        if target.endswith((".jsonl", ".viztrace")):
            from viz.trace.format import TraceFileError
            try:
                trace = Trace.load(target)
            except TraceFileError as e:
                return bad(str(e))
            except OSError as e:
                return bad(f"{target}: {e.strerror or e}")
            planned.append((trace.header.get("target") or Path(target).stem, None, trace))
            continue
        try:
            path, name = resolve(target)
        except TargetError as e:
            return bad(str(e))
        planned.append((name, path, None))
    names = unique_names([name for name, _, _ in planned])
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return bad(f"-o {out_dir}: {e.strerror or e}")
    runs = []
    for i, ((_, path, trace), name) in enumerate(zip(planned, names), start=1):
        out = out_dir / f"{_file_name(name)}.jsonl" if out_dir is not None else None
        if trace is None:
            trace = _record_one(path, name, f"{i}/{len(planned)}", args.timeout, out)
        elif out is not None:
            trace.save(out)
        runs.append(Run(name, trace))
    if out_dir is not None:
        print(f"traces written to {out_dir}{os.sep}", file=sys.stderr)
    if args.text:
        console = _console(args)
        color = console.color_system is not None and not console.no_color
        console.print(compare_report(runs, console.width, color=color, from_work=args.from_work))
        return 0
    from viz.app.compare import show_comparison
    return show_comparison(runs, from_work=args.from_work)


def _file_name(name: str) -> str:
    """A run's name as a file name: `script.py #2` -> `script-2`."""
    import re
    stem = name[:-3] if name.endswith(".py") else name.replace(".py #", " #")
    return re.sub(r"[^\w.-]+", "-", stem).strip("-") or "run"


def _record_one(path, name: str, which: str, timeout: float | None, out) -> "Trace":
    """Record one run of `viz compare`, with a status line on a terminal (a line per run otherwise)."""
    from rich.console import Console

    from viz.ingest.session import RUN_BATCH, Session
    from viz.trace.model import Trace
    from viz.views.outcome import outcome_line

    session = Session(path, [], name=name, timeout=timeout, out=out)
    trace = Trace(session.header)
    err = Console(stderr=True, highlight=False)
    try:
        session.start()
        if err.is_terminal:
            with err.status(f"recording {name} ({which})…") as status:
                while not session.done:
                    recs = session.poll(0.1, limit=RUN_BATCH)
                    if recs:
                        trace.add_many(recs)
                    status.update(f"recording {name} ({which})… {session.elapsed:.1f} s, {len(trace.lanes)} tasks, "
                                  f"{trace.step_count:,} events")
        else:
            print(f"recording {name} ({which})…", file=sys.stderr, flush=True)
            session.run(trace.add_many)
    finally:
        session.close()
    print(f"{name}: {outcome_line(trace)}", file=sys.stderr, flush=True)
    return trace
