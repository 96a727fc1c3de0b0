"""`python -m viz.app [TARGET [-- ARGS...] | --show FILE]`: the TUI without the CLI (for trying it out)."""

from __future__ import annotations

import argparse
import sys

from viz.app import run_picker, run_target, show_trace
from viz.scenarios import TargetError, resolve
from viz.trace import TraceFileError


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    parser = argparse.ArgumentParser(prog="python -m viz.app")
    parser.add_argument("target", nargs="?", help="scenario name or script path")
    parser.add_argument("--show", metavar="FILE", help="open a saved trace")
    parser.add_argument("--timeout", type=float, default=None)
    opts = parser.parse_args(argv)
    try:
        if opts.show:
            return show_trace(opts.show)
        if opts.target:
            path, name = resolve(opts.target)
            return run_target(str(path), name, extra, opts.timeout)
        return run_picker()
    except (TargetError, TraceFileError) as e:
        print(f"viz: {e}", file=sys.stderr)
        return 2


raise SystemExit(main())
