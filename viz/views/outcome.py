"""How a run ended, in one line (`viz record`'s last line, its -q output, the JSON summary, `viz compare`'s lines).

Kept apart from the text view so that `viz record -q` prints it without loading Rich.
"""

from __future__ import annotations

from viz.trace.model import Trace
from viz.views.durations import fmt_duration
from viz.views.verdict import verdict


def outcome_line(trace: Trace) -> str:
    ex = trace.exit
    wall = f"wall time {fmt_duration(trace.duration)}"
    judged = verdict(trace)
    if judged is not None and judged.span > 0:
        wall += f" · {judged.words()}"  # the last words: the factor, `1.7x`
    if ex is None:
        return f"the run did not finish · {wall}"
    what = {"finished": "finished", "raised": "raised an exception", "exited": "exited", "os._exit": "called os._exit",
            "timeout": "timed out", "stopped": "was stopped", "killed": "was killed", "crashed": "crashed",
            "interrupted": "was interrupted"}.get(ex["outcome"], ex["outcome"])
    stopped_by_viz = ex["outcome"] in ("timeout", "stopped", "interrupted")  # its status is our SIGTERM's, not its own
    status = f" (exit status {ex['status']})" if ex.get("status") and not stopped_by_viz else ""
    sig = f" ({ex['signal']})" if ex.get("signal") else ""
    detail = (f": {ex['detail']}" if ex.get("detail") and ex["outcome"] not in ("finished", ex["detail"]) else "")
    return f"the program {what}{status}{sig}{detail} · {wall}"
