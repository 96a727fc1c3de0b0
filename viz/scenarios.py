"""The scenarios shipped with viz (scenarios/NAME.py) and how a TARGET names a scenario or a script.

Scenarios are read as text (their docstring gives a title and what to watch for); they are never imported here.
The repository's top-level scenarios/ folder is their one source: an installed copy of viz carries it as
viz/_scenarios (setup.py), a source checkout or an editable install reads it in place, and VIZ_SCENARIOS names
another folder.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

_INSTALLED = Path(__file__).resolve().parent / "_scenarios"
_CHECKOUT = Path(__file__).resolve().parent.parent / "scenarios"
SCENARIOS_DIR = Path(os.environ.get("VIZ_SCENARIOS") or (_INSTALLED if _INSTALLED.is_dir() else _CHECKOUT))

# The order a course walks through them; scenarios not listed here follow, by name.
ORDER = ["baozi", "greenlet_switch", "gevent_sleepers", "sleepers_unpatched", "sleepers_patched", "crawler_serial",
         "crawler_gevent", "gevent_echo_server", "select_server", "selectors_server", "model_sync", "model_threads",
         "model_events", "io_blocking", "io_nonblocking", "io_multiplexing", "io_signal", "io_async"]


class TargetError(Exception):
    """A TARGET that is neither a scenario nor a readable script."""


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    title: str
    watch: str

    @property
    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")


def _describe(path: Path) -> tuple[str, str]:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (SyntaxError, OSError, UnicodeDecodeError):
        doc = ""
    title, _, rest = doc.strip().partition("\n")
    return title.strip() or path.stem, " ".join(rest.split())


def list_scenarios(folder: Path | None = None) -> list[Scenario]:
    folder = folder or SCENARIOS_DIR
    if not folder.is_dir():
        return []
    paths = {p.stem: p for p in folder.glob("*.py") if not p.name.startswith("_")}
    names = [n for n in ORDER if n in paths] + sorted(n for n in paths if n not in ORDER)
    return [Scenario(n, paths[n], *_describe(paths[n])) for n in names]


def find_scenario(name: str) -> Scenario | None:
    return next((s for s in list_scenarios() if s.name == name), None)


TOUR_SUFFIX = ".tour.toml"  # NAME.tour.toml beside NAME.py: its guided tour (viz.views.tour)


def read_tour(script: str | os.PathLike) -> str | None:
    """The text of the tour beside `script`, or None when it has none."""
    script = Path(script)
    try:
        return script.with_name(script.stem + TOUR_SUFFIX).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def resolve(target: str) -> tuple[Path, str]:
    """(script path, display name) for a scenario name or a script path; TargetError with one line otherwise.
    A scenario's name comes first; a script file that is no scenario's name is taken without reading every
    scenario's title (`viz record script.py` starts sooner)."""
    path = Path(target)
    if path.is_file() and not (SCENARIOS_DIR / f"{target}.py").is_file():
        return path.resolve(), path.name
    scenario = find_scenario(target)
    if scenario is not None:
        return scenario.path, scenario.name
    if path.is_file():
        return path.resolve(), path.name
    if path.exists():
        raise TargetError(f"{target}: not a file")
    if target.endswith(".py") or os.sep in target:
        raise TargetError(f"{target}: no such script")
    names = ", ".join(s.name for s in list_scenarios()) or "none found"
    raise TargetError(f"unknown scenario {target!r} (scenarios: {names}) and no such script")


@dataclass(frozen=True)
class Comparison:
    """Scenarios the course compares side by side (`viz compare`, and an entry of its own in the picker)."""

    name: str
    title: str
    scenarios: tuple[str, ...]
    watch: str


# The seed's comparisons: the same work done by programs that take turns differently.
COMPARISONS = [
    Comparison("compare: sleepers", "3.5 s of sleeping: in 2.0 s with gevent, 3.5 s with time.sleep, 2.0 s patched",
               ("gevent_sleepers", "sleepers_unpatched", "sleepers_patched"),
               "Watch for: the same three sleeps overlap under gevent.sleep and after monkey.patch_all(), but take "
               "turns when plain time.sleep holds the whole loop: the wall times and the factors in the table."),
    Comparison("compare: crawler", "Three pages fetched one at a time, then all at once",
               ("crawler_serial", "crawler_gevent"),
               "Watch for: unpatched, each greenlet's fetch holds the whole loop, so the pages come one after another "
               "(the loop-blocking spans follow each other); patched, the three waits overlap and the run takes about "
               "as long as the slowest page."),
    Comparison("compare: models", "Synchronous, threaded and event-driven on one figure",
               ("model_sync", "model_threads", "model_events"),
               "Watch for: the synchronous model does its tasks one after another; threads and the event loop "
               "overlap their waits in about the same time — threads by the OS, events by one thread's loop."),
    Comparison("compare: servers", "One select loop, selectors callbacks and a greenlet per connection",
               ("select_server", "selectors_server", "gevent_echo_server"),
               "Watch for: three servers, each on one thread — a select() loop, selectors callbacks, gevent's hub "
               "with a greenlet per connection: where each waits (select() on its fds, the hub polling) and how the "
               "connections' turns interleave. gevent_echo_server's clients sleep less: compare shapes, not times."),
]


def list_comparisons(scenarios: list[Scenario] | None = None) -> list[Comparison]:
    """The comparisons whose scenarios are all among `scenarios` (all the shipped ones by default)."""
    names = {s.name for s in (scenarios if scenarios is not None else list_scenarios())}
    return [c for c in COMPARISONS if all(n in names for n in c.scenarios)]
