"""How a run ended (or that it is still going), in a few words and a severity for colour. No Textual here."""

from __future__ import annotations

from viz.views.durations import fmt_duration
from viz.trace.model import Trace


def describe(trace: Trace, live: bool) -> tuple[str, str]:
    """(text, level) for the status bar; level is 'live', 'ok', 'warning' or 'error'."""
    ex = trace.exit
    if ex is None:
        if live:
            return f"● running · {fmt_duration(trace.duration)}", "live"
        return f"● no exit record · trace ends at {fmt_duration(trace.duration)}", "warning"
    outcome = ex.get("outcome")
    status, sig, detail = ex.get("status"), ex.get("signal"), ex.get("detail")
    took = fmt_duration(trace.duration)
    if outcome == "finished" and not status:
        return f"✔ finished in {took}", "ok"
    if outcome == "finished":
        return f"✔ finished in {took}, exit status {status}", "warning"
    if outcome == "raised":
        return f"✖ raised {_first_line(detail) or 'an exception'} · after {took}", "error"
    if outcome == "exited":
        return f"✖ exited with status {status} · after {took}", "warning" if status == 0 else "error"
    if outcome == "os._exit":
        return f"✖ os._exit({status}) · after {took}", "warning" if status == 0 else "error"
    if outcome == "timeout":
        return f"⏱ {detail or 'timed out'}", "warning"
    if outcome == "stopped":
        return f"■ stopped by you after {took}", "warning"
    if outcome in ("killed", "crashed"):
        return f"✖ {outcome} by {sig or 'a signal'} after {took}", "error"
    return f"■ {outcome}: {_first_line(detail)}", "warning"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[-1] if text and text.strip() else ""
