"""Run a hook the moment the script imports a module (socket, subprocess, asyncio, gevent, multiprocessing,
concurrent.futures), never importing it first.

Hooks on libraries that are costly to import or that not every program uses are added lazily, so the recorder's
start stays short: `when_imported(name, hook)` calls `hook(module)` right after the module's code ran, before
whoever imported it gets it (a `from socket import socket` binds the hooked class), or at once if it is
already imported. A hook that fails is reported as a recorder note and the import goes on. `names_module(code,
name)` tells, before the script runs, whether its code names a module at all.
"""

from __future__ import annotations

import importlib.util
import sys


def when_imported(rec, name: str, hook) -> None:
    """Call `hook(module)` once module `name` is imported (now, if it is)."""
    if name in sys.modules:
        _run(rec, name, hook, sys.modules[name])
        return

    class Finder:
        @staticmethod
        def find_spec(fullname, path=None, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(Finder)
            spec = importlib.util.find_spec(fullname)
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module

            def exec_and_hook(module):
                exec_module(module)
                _run(rec, name, hook, module)
            spec.loader.exec_module = exec_and_hook
            return spec
    sys.meta_path.insert(0, Finder)


def names_module(code, name: str) -> bool:
    """Whether the script's code (any function in it) names module `name` (`import asyncio`, `asyncio.run`): a script
    that uses asyncio has its coroutines followed by asyncio's hooks, not the generators'."""
    stack = [code]
    while stack:
        c = stack.pop()
        if name in c.co_names:
            return True
        stack.extend(k for k in c.co_consts if hasattr(k, "co_code"))
    return False


def _run(rec, name: str, hook, module) -> None:
    try:
        hook(module)
    except Exception:
        rec.hook_error(f"{name} import hook")
