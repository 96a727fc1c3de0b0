"""Waits on child processes and pipes: the waiting task is `blocked`, e.g. `waiting for pid 4242 (sleep 0.3)`.

Covers `os.waitpid`/`os.wait`/`wait3`/`wait4`, `subprocess.Popen` (its start, `wait`, `communicate`, hence `subprocess.run`),
`os.read`/`os.write` on a blocking pipe, FIFO, socket or terminal that is not ready (a regular file is never a wait),
and, once the script imports multiprocessing, `Process.join`, its `Queue.get`, `Connection.recv` and
`Pool.map`/`apply`/`imap`/`AsyncResult.get`.
"""

from __future__ import annotations

import functools
import os
import select
import stat

from viz.recorder.callsite import call_name
from viz.recorder.imports import when_imported
from viz.recorder.locks import unless_patched

MAX_COMMAND = 40
_WAITABLE = (stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR)
_real_poll = select.poll  # (blocking.py later makes select.poll remember its fds)


def ready(fd: int, event: int = select.POLLIN) -> bool:
    """The fd can be read (or written, with POLLOUT) without waiting."""
    p = _real_poll()
    p.register(fd, event)
    return bool(p.poll(0))


def command_words(args) -> str:
    """`sleep 0.3`: a command line as a reader would type it, shortened to fit a lane."""
    if isinstance(args, (str, bytes, os.PathLike)):
        text = os.fsdecode(args)
    else:
        try:
            text = " ".join(os.fsdecode(a) for a in args)
        except TypeError:
            text = repr(args)
    return text if len(text) <= MAX_COMMAND else text[: MAX_COMMAND - 1] + "…"


class ProcessHooks:
    def __init__(self, hooks):
        self.hooks = hooks
        self.rec = hooks.rec
        self.commands: dict[int, str] = {}  # pid -> command line, for the processes Popen started

    def install(self) -> None:
        self._install_os()
        rec = self.rec
        when_imported(rec, "subprocess", self._install_subprocess)  # as the program imports it: not at every start
        when_imported(rec, "multiprocessing.process", self._install_mp_process)
        when_imported(rec, "multiprocessing.queues", self._install_mp_queues)
        when_imported(rec, "multiprocessing.pool", self._install_mp_pool)
        when_imported(rec, "multiprocessing.connection", self._install_mp_connection)

    def pid_words(self, pid: int) -> str:
        if pid <= 0:
            return "waiting for any child process" if pid == -1 else "waiting for a child process"
        cmd = self.commands.get(pid)
        if cmd is None:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = command_words([a for a in f.read().split(b"\0") if a])
            except OSError:
                cmd = ""
        return f"waiting for pid {pid} ({cmd})" if cmd else f"waiting for pid {pid}"

    # ---- os ---------------------------------------------------------------------------------------------------
    def _install_os(self) -> None:
        blocking = self.hooks.blocking
        os.waitpid = blocking(os.waitpid, lambda a, k: None if (a[1] if len(a) > 1 else 0) & os.WNOHANG
                              else self.pid_words(a[0]))
        os.wait = blocking(os.wait, lambda a, k: "waiting for any child process")
        if hasattr(os, "wait4"):
            os.wait4 = blocking(os.wait4, lambda a, k: None if a[1] & os.WNOHANG else self.pid_words(a[0]))
            os.wait3 = blocking(os.wait3, lambda a, k: None if a[0] & os.WNOHANG else "waiting for any child process")
        def fd_wait(name, event):
            def describe(args, kwargs):
                fd = args[0]
                kind = would_wait(fd, event) if isinstance(fd, int) else None
                return None if kind is None else f"os.{name}() on fd {fd} ({kind})"
            return describe
        os.read = blocking(os.read, fd_wait("read", select.POLLIN))
        os.write = blocking(os.write, fd_wait("write", select.POLLOUT))

    # ---- subprocess -------------------------------------------------------------------------------------------
    def _install_subprocess(self, subprocess) -> None:
        blocking, Popen = self.hooks.blocking, subprocess.Popen
        init = Popen.__init__
        started = blocking(init, lambda a, k: f"starting {command_words(a[1] if len(a) > 1 else k.get('args'))}")

        @functools.wraps(init)
        def init_wrapper(p, *args, **kwargs):
            started(p, *args, **kwargs)
            try:
                self.commands[p.pid] = command_words(p.args)
            except Exception:
                self.rec.hook_error("Popen hook")
        Popen.__init__ = init_wrapper

        def popen_words(a, k):
            p = a[0]
            return None if p.returncode is not None else self.pid_words(p.pid)
        Popen.wait = blocking(Popen.wait, popen_words)
        Popen.communicate = blocking(Popen.communicate, popen_words)

    # ---- multiprocessing, installed when the script imports it ------------------------------------------------
    def _install_mp_process(self, module) -> None:
        cls = module.BaseProcess

        def join_words(a, k):
            p = a[0]
            if not p.is_alive():
                return None
            return f"join ({p.name}, pid {p.pid})"
        cls.join = self.hooks.blocking(cls.join, join_words)

    def _install_mp_queues(self, module) -> None:
        cls = module.Queue

        def get_words(a, k):  # (not empty(): it polls the pipe, a select() of its own)
            block = a[1] if len(a) > 1 else k.get("block", True)
            timeout = a[2] if len(a) > 2 else k.get("timeout")
            return "Queue.get()" if block and (timeout is None or timeout > 0) else None
        cls.get = self.hooks.blocking(cls.get, get_words)

    def _install_mp_connection(self, module) -> None:
        cls = module.Connection

        def recv_words(a, k):
            return None if ready(a[0].fileno()) else "Connection.recv()"
        for name in ("recv", "recv_bytes"):
            setattr(cls, name, self.hooks.blocking(getattr(cls, name), recv_words))

    def _install_mp_pool(self, module) -> None:
        Pool = module.Pool

        def blocking(fn, describe):  # a pool's results arrive through threading's waits: cooperative under gevent
            return self.hooks.blocking(fn, unless_patched(describe))

        def pool_call(method):
            def describe(a, k):
                func = a[1] if len(a) > 1 else k.get("func")
                if method == "apply":
                    args = a[2] if len(a) > 2 else k.get("args", ())
                    return f"Pool.apply({call_name(func, args, a[3] if len(a) > 3 else k.get('kwds'))})"
                return f"Pool.{method}({call_name(func)})"
            return describe
        for method in ("map", "starmap", "apply"):
            setattr(Pool, method, blocking(getattr(Pool, method), pool_call(method)))
        Pool.join = blocking(Pool.join, lambda a, k: "Pool.join()")
        result = module.ApplyResult
        result.get = blocking(result.get, lambda a, k: None if a[0].ready() else "AsyncResult.get()")
        result.wait = blocking(result.wait, lambda a, k: None if a[0].ready() else "AsyncResult.wait()")
        imap = module.IMapIterator  # (imap and imap_unordered: the next result, in order or as it comes)
        imap.next = imap.__next__ = blocking(imap.next, lambda a, k: "Pool.imap() next result")


def would_wait(fd: int, event: int = select.POLLIN) -> str | None:
    """The kind of fd (`pipe`, `socket`, `terminal`, `device`) when a blocking read (or write, with POLLOUT) of it
    would wait now; None when it returns at once: a regular file, a non-blocking fd, data (or room) already there,
    or not an open fd (the call itself will say so)."""
    try:
        if stat.S_IFMT(os.fstat(fd).st_mode) not in _WAITABLE or not os.get_blocking(fd) or ready(fd, event):
            return None
        return _fd_kind(fd)
    except OSError:
        return None


def _fd_kind(fd: int) -> str:
    mode = os.fstat(fd).st_mode
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "terminal" if os.isatty(fd) else "device"
    return "pipe"


def install(hooks) -> ProcessHooks:
    processes = ProcessHooks(hooks)
    processes.install()
    return processes
