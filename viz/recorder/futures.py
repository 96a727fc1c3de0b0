"""Waits on concurrent.futures: `Future.result()`, `wait()`, `as_completed()` and `Executor.map` iteration make the
waiting task `blocked`, naming the job when it is known (`Future.result() (job(2, 0.3))`).

An executor's `shutdown()` (the end of its `with` block) waits for its workers: so the span says. Installed when the
script imports concurrent.futures (never imported otherwise). `submit` remembers the callable and
its arguments on the future it returns; the name is worked out only when someone waits for it.
"""

from __future__ import annotations

import functools
import sys

from viz.recorder.callsite import call_name
from viz.recorder.imports import when_imported
from viz.recorder.locks import unless_patched


def install(hooks) -> None:
    rec = hooks.rec
    when_imported(rec, "concurrent.futures._base", lambda module: _install_base(hooks, module))
    for name in ("thread", "process"):
        when_imported(rec, f"concurrent.futures.{name}", lambda module: _install_executor(hooks, module))


def _job_words(future) -> str:
    call = getattr(future, "_viz_call", None)
    if call is None:
        return ""
    fn, args, kwargs = call
    return f" ({call_name(fn, args, kwargs)})"


def _install_base(hooks, base) -> None:
    def blocking(fn, describe):  # under gevent's patched threading a future's wait is cooperative
        return hooks.blocking(fn, unless_patched(describe))
    Future = base.Future
    Future.result = blocking(Future.result, lambda a, k: None if a[0].done() else f"Future.result(){_job_words(a[0])}")
    Future.exception = blocking(Future.exception,
                                lambda a, k: None if a[0].done() else f"Future.exception(){_job_words(a[0])}")

    def wait_words(a, k):
        fs = list(a[0] if a else k.get("fs", ()))
        when = a[2] if len(a) > 2 else k.get("return_when", base.ALL_COMPLETED)
        done = [f for f in fs if f.done()]
        if len(done) == len(fs) or (done and when == base.FIRST_COMPLETED) or \
                (when == base.FIRST_EXCEPTION and any(not f.cancelled() and f.exception() for f in done)):
            return None
        return f"wait() for {len(fs) - len(done)} of {len(fs)} futures"
    real_wait = base.wait
    base.wait = blocking(real_wait, wait_words)

    real_as_completed = base.as_completed
    next_done = blocking(next, lambda a, k: "as_completed()")

    @functools.wraps(real_as_completed)
    def as_completed(fs, timeout=None):
        it = real_as_completed(fs, timeout)
        while True:
            try:
                f = next_done(it)
            except StopIteration:
                return
            yield f
    base.as_completed = as_completed
    package = sys.modules.get("concurrent.futures")  # None while the package itself is importing _base
    for name, fn in (("wait", base.wait), ("as_completed", as_completed)):
        if package is not None and getattr(package, name, None) in (real_wait, real_as_completed):
            setattr(package, name, fn)


def _install_executor(hooks, module) -> None:
    for cls_name in ("ThreadPoolExecutor", "ProcessPoolExecutor"):
        cls = getattr(module, cls_name, None)
        if cls is not None:
            cls.submit = _remembering(cls.submit)
            # shutdown(wait=True), also the end of a `with` block: the span says so, not the joins inside it
            cls.shutdown = hooks.blocking(cls.shutdown, unless_patched(
                lambda a, k: f"{type(a[0]).__name__}.shutdown()" if (a[1] if len(a) > 1 else k.get("wait", True))
                else None))


def _remembering(submit):
    """`submit` that keeps the callable and its arguments on the future, to name the job in a wait for it."""
    @functools.wraps(submit)
    def wrapper(self, fn, /, *args, **kwargs):
        future = submit(self, fn, *args, **kwargs)
        try:
            future._viz_call = (fn, args, kwargs)
        except Exception:
            pass
        return future
    return wrapper
