"""The traced child's entry point: install the hooks, run the script as __main__, report how it ended.

    python -m viz.recorder.child FD SCRIPT [ARGS...]

    python -m viz.recorder.child --held GO_FD FD

FD is the write end of the event pipe the viewer reads. Held (`--held`): the child starts before the viewer has read
its own arguments (`viz record` spawns it first thing, so the interpreter's start and the recorder's imports overlap
the viewer's); it imports the recorder, then waits for GO_FD to bring the script and its arguments (NUL-separated),
and the run, its time 0 included, starts only then. End-of-file with nothing on GO_FD: it exits, having run nothing.

This module never imports Textual; it imports gevent only if the script does (an import hook then adds the
gevent-specific hooks). The order matters: the recorder captures the real thread/write/sleep functions and wraps the
standard library before the script's first line, so a later `monkey.patch_all()` replaces our wrappers with gevent's
cooperative versions, which the greenlet hooks see.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import types
import warnings


def main(argv: list[str]) -> None:
    from viz.protocol import UnsupportedPython, check_python

    try:
        check_python()
    except UnsupportedPython as e:
        print(f"viz: {e}", file=sys.stderr)
        os._exit(2)
    from viz.recorder import blocking, generators, gil, greenlets, output
    from viz.recorder.core import Recorder
    from viz.recorder.imports import names_module, when_imported

    if argv[0] == "--held":
        argv = [argv[2], *_wait_for_script(int(argv[1]))]
    fd, script, args = int(argv[0]), os.path.abspath(argv[1]), argv[2:]
    code = _compiled(script)  # None: it is read again below, to report why it cannot run
    if code is not None:
        _preload_hooks(code, names_module)

    rec = Recorder(fd, script)
    gil.install(rec)  # before any hook holds on to rec.state: threads waiting for the GIL are ready, not running
    rec.sites.file_name(_code_stub(script))  # sends the script's own source first
    out, err = output.install(rec)
    status, outcome, detail = 0, "finished", None

    def finish(status: int, outcome: str, detail: str | None) -> None:
        out.finish()
        err.finish()
        rec.close(status, outcome, detail)

    _install_exit_hooks(rec, finish)
    os.register_at_fork(after_in_child=rec.forget_in_forked_child)
    # Python 3.12+ warns at os.fork() in a process with threads; here the thread is the recorder's own flusher,
    # which the program does not have when it runs untraced: its fork must not print a warning it would not print
    warnings.filterwarnings("ignore", message=r"This process \(pid=\d+\) is multi-threaded, use of fork\(\)",
                            category=DeprecationWarning)
    try:
        if code is None:
            with open(script, "rb") as f:
                source = f.read()
            code = compile(source, script, "exec")
    except (OSError, SyntaxError, ValueError) as e:
        import traceback
        err.write("".join(traceback.format_exception_only(type(e), e)))
        finish(1, "raised", f"{type(e).__name__}: {e}")
        os._exit(1)

    ghooks = greenlets.install(rec)
    when_imported(rec, "gevent", ghooks.install_gevent)  # gevent's hooks once the script imports it, never before
    bhooks = blocking.install(rec)
    when_imported(rec, "asyncio", lambda asyncio: _install_asyncio(rec, bhooks, asyncio))
    generators.install(rec, code, coroutines=not names_module(code, "asyncio"))
    rec.start_flusher()

    module = types.ModuleType("__main__")
    module.__file__ = script
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(script)
    try:
        exec(code, module.__dict__)
    except SystemExit as e:
        status, outcome, detail = _exit_status(e.code)
    except BaseException as e:  # the script's own error: record it as output of the task that raised
        import traceback  # (not before it is needed: most runs end without one)
        tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
        err.write("".join(traceback.format_exception(type(e), e, tb)))
        status, outcome, detail = 1, "raised", "".join(traceback.format_exception_only(type(e), e)).strip()
    _wait_for_threads(rec)
    finish(status, outcome, detail)
    os._exit(status)


def _compiled(script: str):
    """The script's code, or None if it cannot be read or compiled."""
    try:
        with open(script, "rb") as f:
            return compile(f.read(), script, "exec")
    except (OSError, SyntaxError, ValueError):
        return None


def _preload_hooks(code, names_module) -> None:
    """Before the trace's time 0: the recorder's own modules for gevent and asyncio, when the script's code names
    them. Their hooks are still added when the script imports the library (viz.recorder.imports), but loading the
    hooks' modules then would be drawn as the script's own running, inside its `import gevent`."""
    if names_module(code, "gevent"):
        from viz.recorder import gevent_sync  # noqa: F401
    if names_module(code, "asyncio"):
        from viz.recorder import asyncio_loop  # noqa: F401


def _install_asyncio(rec, bhooks, asyncio) -> None:
    """asyncio's loop and tasks become lanes once the script imports it (their hooks load only then)."""
    from viz.recorder import asyncio_loop
    asyncio_loop.AsyncioHooks(rec, bhooks).install(asyncio)


def _wait_for_script(go_fd: int) -> list[str]:
    """Held: the script and its arguments, once the viewer sends them; nothing sent means nothing to run."""
    data = b""
    while chunk := os.read(go_fd, 1 << 16):
        data += chunk
    os.close(go_fd)
    if not data:
        os._exit(0)
    return [os.fsdecode(a) for a in data.split(b"\0")]


def _code_stub(script: str):
    return compile("", script, "exec")


def _exit_status(code) -> tuple[int, str, str | None]:
    if code is None:
        return 0, "finished", None
    if isinstance(code, int):
        return code, "finished" if code == 0 else "exited", f"sys.exit({code})"
    print(code, file=sys.stderr)
    return 1, "exited", f"sys.exit({code!r})"


def _wait_for_threads(rec) -> None:
    """After the script's last line the interpreter waits for its non-daemon threads: main is blocked on them."""
    import threading
    names = []
    try:
        names = [rec.names.get(getattr(t, "_viz_task", 0), t.name) for t in threading.enumerate()
                 if t is not threading.main_thread() and not t.daemon and t.is_alive()]
        if names:
            more = f" and {len(names) - 4} more" if len(names) > 5 else ""
            rec.state(rec.current_task(), "blocked",
                      "waiting for threads at exit: " + ", ".join(names[:4] if more else names) + more)
    except Exception:
        rec.hook_error("waiting for threads")
    try:
        threading._shutdown()
    except Exception:
        rec.hook_error("waiting for threads")
    if names:
        rec.state(rec.current_task(), "running")
    try:
        import atexit
        atexit._run_exitfuncs()
    except Exception:
        rec.hook_error("atexit")


def _install_exit_hooks(rec, finish) -> None:
    real_exit = os._exit

    def _exit(status):
        try:
            finish(status, "os._exit", f"os._exit({status})")
        except Exception:
            pass
        real_exit(status)
    os._exit = _exit

    def on_term(signum, frame):
        if rec.after_own_flush(lambda: on_term(signum, frame)):
            return  # it came inside the recorder's write of its buffer: the run ends once that is written
        try:
            finish(128 + signum, "stopped", f"stopped by signal {signal.Signals(signum).name}")
        finally:
            real_exit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    faulthandler.enable(file=sys.__stderr__, all_threads=True)


if __name__ == "__main__":
    main(sys.argv[1:])
