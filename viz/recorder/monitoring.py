"""Following the script's generator and coroutine functions with sys.monitoring (Python 3.12+), so that no other call
pays anything.

A profile function is called on every call of every function; sys.monitoring can instead switch on events for
chosen code objects alone. Here they are the code objects `generators.generator_codes()` found, with the local
events PY_START and PY_RESUME (the generator is resumed), PY_YIELD (it suspended at a yield or an await) and
PY_RETURN (it finished). Two events that tell a generator ended by an exception can only be switched on for the
whole program on 3.12 and 3.13: PY_THROW (resumed by `throw()` or `close()`) and PY_UNWIND (left by an exception);
they cost only when an exception is thrown into a generator or leaves a frame, and anything but our code objects is
passed over at once. Each event calls the same methods of GeneratorHooks as the profile path does, with the frame
the event happened in, so a task's states are the same: `resumed` / `suspended` for generators and
`coroutine_resumed` / `coroutine_suspended` for coroutines.

`gen.close()` on 3.13 finishes a generator suspended at a yield outside any `try` without running it: no event at
all. So the local event CALL is also on for the script's code objects that name `close` (and only them): a call
site that calls anything but a function or method named `close` is switched off at its first call (DISABLE), and
after a generator's `close()` returns, the generators it finished (itself and those it delegated to with
`yield from`) end their tasks. A generator finished that way by library code or by the garbage collector keeps its
lane at its last yield.

The tool id is one of those CPython leaves unnamed (4, 3, then 5), so a script's own debugger, coverage or
profiler (ids 0, 1, 2: cProfile takes 2 on 3.12+) still gets its own; when none is free, the recorder falls back
to the profile function.
"""

from __future__ import annotations

import sys
from types import BuiltinMethodType, FunctionType, MethodDescriptorType, MethodType

TOOL_IDS = (4, 3, 5)
TOOL_NAME = "viz"
_CORO = 0x80  # inspect.CO_COROUTINE (inspect is not imported here: it is slow to import and this runs at start-up)
_NAMED = (MethodDescriptorType, BuiltinMethodType, FunctionType, MethodType)  # whose __name__ runs no user code


def available() -> bool:
    return hasattr(sys, "monitoring")


def claim_tool() -> int | None:
    """A free tool id of sys.monitoring, now ours, or None when every one we may take is in use."""
    mon = sys.monitoring
    for tool in TOOL_IDS:
        if mon.get_tool(tool) is None:
            try:
                mon.use_tool_id(tool, TOOL_NAME)
            except ValueError:  # taken meanwhile (another thread)
                continue
            return tool
    return None


def closing_codes(script_code) -> set:
    """The code objects in `script_code` (nested ones included) that name `close`: where `gen.close()` can be."""
    found = set()
    stack = [script_code]
    while stack:
        c = stack.pop()
        if "close" in c.co_names:
            found.add(c)
        stack.extend(k for k in c.co_consts if hasattr(k, "co_code"))
    return found


def follow(hooks, codes: set, closers: set) -> int | None:
    """Switch on the events that feed `hooks` (a GeneratorHooks) for `codes`, and the close() watch for `closers`.

    Returns the tool id, or None (nothing switched on) when sys.monitoring is missing or no tool id is free."""
    if not available():
        return None
    tool = claim_tool()
    if tool is None:
        return None
    mon = sys.monitoring
    ev = mon.events
    DISABLE = mon.DISABLE
    rec = hooks.rec
    getframe = sys._getframe
    resumed, suspended = hooks.resumed, hooks.suspended
    coroutine_resumed, coroutine_suspended = hooks.coroutine_resumed, hooks.coroutine_suspended
    ours = frozenset(map(id, codes))  # by identity: hashing a code object hashes its contents (about 1 us)

    def resume(code, frame) -> None:
        try:
            if code.co_flags & _CORO:
                coroutine_resumed(frame)
            else:
                resumed(frame)
        except Exception:
            rec.hook_error("generator hook")

    def suspend(code, frame, yielded: bool) -> None:
        try:
            if code.co_flags & _CORO:
                coroutine_suspended(frame)  # tells a yield from a return by itself, as on the profile path
            else:
                suspended(frame, yielded)
        except Exception:
            rec.hook_error("generator hook")

    # the frame an event happened in is the caller of its callback: sys._getframe(1)
    def on_start(code, offset):  # PY_START (first resume) and PY_RESUME
        resume(code, getframe(1))

    def on_throw(code, offset, exc):  # global: any frame thrown into
        if id(code) in ours:
            resume(code, getframe(1))

    def on_yield(code, offset, value):
        suspend(code, getframe(1), True)

    def on_return(code, offset, value):
        suspend(code, getframe(1), False)

    def on_unwind(code, offset, exc):  # global: any frame left by an exception (never DISABLE a global event)
        if id(code) in ours:
            suspend(code, getframe(1), False)

    pending = hooks.pending_close
    close_starts, close_ends = hooks.close_starts, hooks.close_ends

    def on_call(code, offset, func, arg0):
        if type(func) not in _NAMED or func.__name__ != "close":
            return DISABLE  # this call site calls something else: switched off for good
        try:
            close_starts(func.__self__ if type(func) is BuiltinMethodType else arg0)
        except Exception:
            rec.hook_error("generator close")

    def on_call_done(code, offset, func, arg0):  # C_RETURN / C_RAISE: only at call sites whose CALL is on
        if pending and type(func) in _NAMED and func.__name__ == "close":
            try:
                close_ends(func.__self__ if type(func) is BuiltinMethodType else arg0)
            except Exception:
                rec.hook_error("generator close")

    register = mon.register_callback
    register(tool, ev.PY_START, on_start)
    register(tool, ev.PY_RESUME, on_start)
    register(tool, ev.PY_THROW, on_throw)
    register(tool, ev.PY_YIELD, on_yield)
    register(tool, ev.PY_RETURN, on_return)
    register(tool, ev.PY_UNWIND, on_unwind)
    register(tool, ev.CALL, on_call)
    register(tool, ev.C_RETURN, on_call_done)
    register(tool, ev.C_RAISE, on_call_done)
    local = ev.PY_START | ev.PY_RESUME | ev.PY_YIELD | ev.PY_RETURN
    for code in codes:
        mon.set_local_events(tool, code, local | (ev.CALL if code in closers else 0))
    for code in closers - codes:
        mon.set_local_events(tool, code, ev.CALL)
    mon.set_events(tool, ev.PY_THROW | ev.PY_UNWIND)
    return tool
