"""Generator and coroutine hooks: each generator defined in the script becomes a task, running while resumed,
blocked at its yield; each coroutine the event loop drives (an asyncio task's outermost coroutine) does too, blocked
at its innermost `await`.

Only the script's own generator functions are followed (generator expressions do not count), and nothing is
installed when the script defines none. How they are followed depends on the Python:

- 3.12+: sys.monitoring events on exactly those code objects (viz/recorder/monitoring.py), so every other call runs
  at full speed.
- 3.11 (or no free sys.monitoring tool id, or VIZ_GENERATOR_HOOK=profile): a profile function, which sees every
  resume of a generator frame as a 'call' and every suspension as a 'return' (at a YIELD_VALUE instruction when it
  yielded, elsewhere when it finished). Python runs every frame more slowly while a profile function is set; a C
  filter (`Profiler` in _fasthook.c) passes over frames of other code by their flags and keeps our own share small.

Both feed the same methods with the generator's frame. The task that resumed the generator is blocked meanwhile,
for the call it made (`con.send(n)`); an event loop running a coroutine is `ready` meanwhile, like gevent's hub. A
coroutine awaited by another one is part of that one's task.
"""

from __future__ import annotations

import os
import sys
import threading
from types import GeneratorType

from viz.recorder import monitoring
from viz.recorder.callsite import short_repr
from viz.recorder.core import get_ident

_CORO = 0x80  # inspect.CO_COROUTINE (inspect is slow to import, and this module loads at every start)
_GEN_FLAGS = 0x20 | _CORO  # inspect.CO_GENERATOR | CO_COROUTINE


def generator_codes(code) -> set:
    """The code objects of every generator function and coroutine defined in `code`, nested ones included."""
    found = set()
    stack = [code]
    while stack:
        c = stack.pop()
        if c.co_flags & _GEN_FLAGS and c.co_name != "<genexpr>":
            found.add(c)  # generator expressions are left out: they would turn the hooks on for little
        stack.extend(k for k in c.co_consts if hasattr(k, "co_code"))
    return found


def _monitoring_wanted() -> bool:
    return os.environ.get("VIZ_GENERATOR_HOOK", "") != "profile"


def _c_profiler(codes: set, handler):
    if os.environ.get("VIZ_PURE_PYTHON"):
        return None
    try:
        from viz.recorder._fasthook import Profiler
    except ImportError:
        return None
    return Profiler(codes, handler)


class GeneratorHooks:
    def __init__(self, rec, codes: set, closers: set = frozenset()):
        self.rec = rec
        self.codes = codes
        self.closers = closers  # code objects naming `close` (the monitoring path watches their calls)
        self.task_of_frame: dict = {}
        self.stacks: dict[object, list[int]] = {}  # thread or greenlet (see context) -> tasks of resumed generators
        self.pending_close: dict = {}  # generator in close() / throw() -> [(generator, frame)], see close_starts
        self.awaiting: dict[object, tuple] = {}  # thread or greenlet -> (reason, frame) of the innermost await

    def install(self) -> None:
        base = self.base_task = self.rec.current_task
        stacks = self.stacks
        context = self.context

        def current_task() -> int:  # inside a generator, the generator is the running task
            stack = stacks.get(context())
            return stack[-1] if stack else base()
        self.rec.current_task = current_task
        if _monitoring_wanted() and monitoring.follow(self, self.codes, self.closers) is not None:
            return  # every thread, no profile function
        profiler = _c_profiler(self.codes, self.profile)
        if profiler is None:
            sys.setprofile(self.profile)
            threading.setprofile(self.profile)
        else:  # the C filter calls Python only for our frames; each thread installs it as it starts
            profiler.install()
            self.rec.thread_start_hooks.append(profiler.install)

    def context(self):
        """Whose stack of resumed generators this is: the running greenlet's when greenlet is in use (greenlets
        interleave their generators in one thread), else the thread's."""
        getcurrent = self.rec.current_greenlet
        return get_ident() if getcurrent is None else getcurrent()

    def profile(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code.co_flags & _GEN_FLAGS and code in self.codes:  # the flags first: a code object's hash is slow
                try:
                    if code.co_flags & _CORO:
                        self.coroutine_resumed(frame)
                    else:
                        self.resumed(frame)
                except Exception:
                    self.rec.hook_error("generator hook")
        elif event == "return":
            code = frame.f_code
            if code.co_flags & _GEN_FLAGS and code in self.codes:
                try:
                    if code.co_flags & _CORO:
                        self.coroutine_suspended(frame)
                    else:
                        self.suspended(frame)
                except Exception:
                    self.rec.hook_error("generator hook")
        elif event == "c_call":
            # gen.close() / gen.throw() unwind through the yield like a suspension: remember the generator...
            if getattr(arg, "__name__", None) in ("close", "throw"):
                try:
                    self.close_starts(getattr(arg, "__self__", None))
                except Exception:
                    self.rec.hook_error("generator close")
        elif (event == "c_return" or event == "c_exception") and self.pending_close:
            if getattr(arg, "__name__", None) in ("close", "throw"):
                try:
                    self.close_ends(getattr(arg, "__self__", None))  # ...and end its task if that finished it
                except Exception:
                    self.rec.hook_error("generator close")

    # ---- coroutines ------------------------------------------------------------------------------------------
    def _awaited_by_user_coroutine(self, frame) -> bool:
        back = frame.f_back
        return back is not None and back.f_code in self.codes and bool(back.f_code.co_flags & _CORO)

    def coroutine_resumed(self, frame) -> None:
        if self._awaited_by_user_coroutine(frame):
            return  # part of the task of the coroutine that awaits it
        rec = self.rec
        ident = self.context()
        stack = self.stacks.setdefault(ident, [])
        loop = stack[-1] if stack else self.base_task()
        tid = self.task_of_frame.get(frame)
        if tid is None:
            tid = self.task_of_frame[frame] = rec.new_task(self._name(frame), "coroutine", loop,
                                                          rec.sites.file_name(frame.f_code), frame.f_code.co_firstlineno)
        t = rec.now()
        rec.state(loop, "ready", f"running {rec.names.get(tid)}", frame.f_back, t=t)
        rec.state(tid, "running", None, frame, t=t)
        self.awaiting.pop(ident, None)
        stack.append(tid)

    def coroutine_suspended(self, frame) -> None:
        rec = self.rec
        ident = self.context()
        if self._awaited_by_user_coroutine(frame):
            if rec.sites.is_yield(frame) and ident not in self.awaiting:
                self.awaiting[ident] = (rec.sites.call_text(frame), frame)  # the innermost await is the reason
            return
        tid = self.task_of_frame.get(frame)
        if tid is None:
            return
        stack = self.stacks.get(ident)
        if stack and stack[-1] == tid:
            stack.pop()
        t = rec.now()
        if rec.sites.is_yield(frame):
            reason, where = self.awaiting.pop(ident, (None, frame))
            rec.state(tid, "blocked", reason or rec.sites.call_text(frame) or "waiting at await", where, t=t)
        else:
            del self.task_of_frame[frame]
            rec.end(tid)
        loop = stack[-1] if stack else self.base_task()
        rec.state(loop, "running", None, frame.f_back, t=t)

    def _name(self, frame) -> str:
        code = frame.f_code
        if code.co_name.startswith("<"):  # <genexpr>: its only argument is an iterator
            return f"{code.co_name[1:-1]} at line {code.co_firstlineno}"
        args = [short_repr(frame.f_locals.get(n), 16) for n in code.co_varnames[: code.co_argcount]]
        return f"{code.co_name}({', '.join(args)})"

    # ---- generators ------------------------------------------------------------------------------------------
    def resumed(self, frame) -> None:
        rec = self.rec
        stack = self.stacks.setdefault(self.context(), [])
        caller = stack[-1] if stack else self.base_task()
        tid = self.task_of_frame.get(frame)
        code = frame.f_code
        if tid is None:
            tid = self.task_of_frame[frame] = rec.new_task(self._name(frame), "generator", caller,
                                                          rec.sites.file_name(code),
                                                          code.co_firstlineno)
        back = frame.f_back
        reason = rec.sites.call_text(back) if back is not None and rec.sites.is_user(back.f_code) else None
        t = rec.now()
        rec.state(caller, "blocked", reason or f"resumed {rec.names.get(tid)}", back, t=t)
        rec.state(tid, "running", None, frame, t=t)
        rec.cause(tid, caller, f"{reason or 'resumed'} from {rec.names.get(caller)}", t)  # `con.send(n) from producer`
        stack.append(tid)

    def suspended(self, frame, yielded: bool | None = None) -> None:
        """The generator of `frame` suspended at a yield (`yielded`), or finished; None: tell from its frame."""
        rec = self.rec
        context = self.context()
        stack = self.stacks.get(context)
        tid = self.task_of_frame.get(frame)
        if tid is None:
            return
        if stack and stack[-1] == tid:
            stack.pop()
            if not stack:
                del self.stacks[context]  # holds no finished greenlet
        t = rec.now()
        if yielded is None:
            yielded = rec.sites.is_yield(frame)
        if yielded:
            rec.state(tid, "blocked", "waiting at yield", frame, t=t)
        else:
            del self.task_of_frame[frame]
            rec.end(tid)
        caller = stack[-1] if stack else self.base_task()
        rec.state(caller, "running", None, frame.f_back, t=t)

    # ---- close() and throw() ---------------------------------------------------------------------------------
    def close_starts(self, gen) -> None:
        """`gen.close()` or `gen.throw()` is about to run: remember `gen` and the generators it delegates to with
        `yield from` (they are closed with it), with their frames, if any of them is a task."""
        chain = []
        g = gen
        while type(g) is GeneratorType and g.gi_frame is not None:
            chain.append((g, g.gi_frame))
            g = g.gi_yieldfrom
        if any(frame in self.task_of_frame for _, frame in chain):
            self.pending_close[gen] = chain

    def close_ends(self, gen) -> None:
        """`gen.close()` or `gen.throw()` returned or raised: end the tasks of the generators it finished. Their
        frames may not have said so: on 3.11 one unwinding through its yield looks suspended there, and 3.13
        finishes one suspended at a yield outside any `try` without running it."""
        chain = self.pending_close.pop(gen, None) if type(gen) is GeneratorType else None
        for g, frame in chain or ():
            if g.gi_frame is None:
                tid = self.task_of_frame.pop(frame, None)
                if tid is not None:
                    self.rec.end(tid)


def install(rec, script_code, coroutines: bool = True) -> GeneratorHooks | None:
    """Follow the script's generators, and its coroutines unless `coroutines` is False (an event loop's own
    hooks follow them: viz/recorder/asyncio_loop.py)."""
    codes = generator_codes(script_code)
    if not coroutines:
        codes = {c for c in codes if not c.co_flags & _CORO}
    if not codes:
        return None
    hooks = GeneratorHooks(rec, codes, monitoring.closing_codes(script_code))
    hooks.install()
    return hooks
