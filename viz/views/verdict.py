"""The verdict: what concurrency bought, in the seed's words — "3.50 s of waiting done in 2.00 s: 1.7x".

It counts the program's own tasks, over the time their work spans (from the first counted task's start to the last
one's end), and leaves out:
- event loops (gevent's hub): their time is the tasks' time;
- helpers that stand in for the world outside the program (a local HTTP server, an I/O server, built-in clients)
  and every task they started. A script names them in a module-level `VIZ_HELPERS = ("http server", "client *")`
  (names or shell-style patterns; plain `python` ignores it), read from the script's source in the trace; the app
  lets the user mark more;
- coordinators: a task that started counted tasks and waits for them (main in `gevent.joinall`), whose waiting is
  theirs.
A task's work is its running and blocked time (a call that blocks the loop is blocked time: one time, not two).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

from viz.trace.model import LOOP_KIND, Lane, Trace
from viz.trace.totals import Totals
from viz.views.durations import fmt_duration

HELPERS_VARIABLE = "VIZ_HELPERS"
# Thread pools' workers, by the names their libraries give them: work done for tasks that wait for it (and counted
# there), and idle time waiting for work: gevent's threadpool (DNS lookups), concurrent.futures' ThreadPoolExecutor
# and asyncio's default executor (run_in_executor, to_thread)
LIBRARY_HELPERS = ("ThreadPool worker*", "ThreadPoolExecutor-*_*", "asyncio_*")


@dataclass(frozen=True)
class Verdict:
    running: float  # seconds the counted tasks ran
    blocked: float  # seconds they waited (blocked, including calls that blocked the loop)
    start: float
    end: float
    tasks: int

    @property
    def work(self) -> float:
        return self.running + self.blocked

    @property
    def span(self) -> float:
        return max(self.end - self.start, 0.0)

    @property
    def factor(self) -> float:
        return self.work / self.span if self.span > 0 else 0.0

    def words(self) -> str:
        """`3.50 s of waiting done in 2.00 s: 1.7x` (of work, when the tasks ran more than they waited)."""
        what = "waiting" if self.blocked >= self.running else "work"
        return f"{fmt_duration(self.work)} of {what} done in {fmt_duration(self.span)}: {self.factor:.1f}x"


def declared_helpers(trace: Trace) -> tuple[str, ...]:
    """The names the traced script lists in VIZ_HELPERS (module level, a literal tuple or list of strings)."""
    source = trace.sources.get(trace.main_file or "")
    if not source or HELPERS_VARIABLE not in source:
        return ()
    return _helpers_in(source)


@lru_cache(maxsize=16)
def _helpers_in(source: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == HELPERS_VARIABLE
                                                for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return ()
            if isinstance(value, (tuple, list)):
                return tuple(v for v in value if isinstance(v, str))
    return ()


def helper_tasks(trace: Trace, marked: set[int] = frozenset()) -> set[int]:
    """Tasks that are helpers: named in VIZ_HELPERS, marked by the user (task ids), or started by a helper."""
    patterns = declared_helpers(trace) + LIBRARY_HELPERS
    helpers: set[int] = set()
    for lane in trace.lanes:  # in creation order: a parent before the tasks it started
        if lane.task in marked or lane.parent in helpers or any(fnmatchcase(lane.name, p) for p in patterns):
            helpers.add(lane.task)
    return helpers


def counted_lanes(trace: Trace, marked: set[int] = frozenset()) -> list[Lane]:
    helpers = helper_tasks(trace, marked)
    candidates = [lane for lane in trace.lanes if lane.kind != LOOP_KIND and lane.task not in helpers]
    coordinators = {lane.parent for lane in candidates if lane.parent is not None}
    return [lane for lane in candidates if lane.task not in coordinators]


def verdict(trace: Trace, t: float | None = None, totals: Totals | None = None,
            marked: set[int] = frozenset(), since: float = 0.0, counted: list[Lane] | None = None) -> Verdict | None:
    """The verdict over [since, t] (the whole run by default); None when no counted task worked in it. `counted`:
    counted_lanes(trace, marked), when the caller keeps it (the app's summary, redrawn as the playhead moves)."""
    whole = t is None and since <= 0  # the whole run: each lane's sums over all its spans, which the trace keeps
    t = trace.duration if t is None else t
    totals = totals or Totals(trace)
    if counted is None:
        counted = counted_lanes(trace, marked)
    lanes = [lane for lane in counted if lane.starts and lane.starts[0] < t
             and (lane.ended is None or lane.ended > since)]
    if not lanes:
        return None
    running = blocked = 0.0
    for lane in lanes:
        sums = trace.seconds_by_state(lane) if whole else totals.until(lane, t)
        before = totals.until(lane, since) if since > 0 else None
        running += sums[0] - (before[0] if before else 0.0)
        blocked += sums[2] - (before[2] if before else 0.0)
    start = max(since, min(lane.starts[0] for lane in lanes))
    end = min(t, max(lane.ended if lane.ended is not None else t for lane in lanes))
    return Verdict(running, blocked, start, end, len(lanes))
