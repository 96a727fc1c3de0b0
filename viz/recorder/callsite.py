"""Where a task stands, in the words of its code: the user's frame, its file:line, and the call it is making.

Runs inside the traced child. "User code" is code in the traced script's folder (not the standard library, not
site-packages, not viz). The call text comes from the CALL instruction's source position (Python 3.11+), so
`gevent.sleep(2)` or `con.send(n)` is shown exactly as written.
"""

from __future__ import annotations

import linecache
import opcode
import os
import sys
import sysconfig

_VIZ_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBS = tuple({os.path.realpath(p) + os.sep for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                                      sysconfig.get_paths()["platlib"])})
_FOR_ITER = opcode.opmap.get("FOR_ITER")  # (opcode, not dis: dis is slower to import and adds nothing here)
_YIELD_VALUE = opcode.opmap.get("YIELD_VALUE")
_RESUME = opcode.opmap.get("RESUME")
MAX_CALL_TEXT = 48


class CallSites:
    """Answers, with caches, which frames are user code and what a frame is calling."""

    def __init__(self, script: str):
        self.script = os.path.realpath(script)
        self.root = os.path.dirname(self.script) + os.sep
        self._user: dict = {}
        self._names: dict[str, str] = {}
        self._calls: dict = {}
        self.on_new_file = None  # callback(display_name, real_path) the first time a user file is seen

    def is_user(self, code) -> bool:
        r = self._user.get(code)
        if r is None:
            fn = code.co_filename
            real = os.path.realpath(fn) if fn and not fn.startswith("<") else ""
            r = bool(real) and real.startswith(self.root) and not real.startswith(_VIZ_DIR) and \
                not real.startswith(_LIBS) and "site-packages" not in real
            self._user[code] = r
        return r

    def file_name(self, code) -> str:
        """The name a file is shown under: its path relative to the script's folder."""
        fn = code.co_filename
        name = self._names.get(fn)
        if name is None:
            real = os.path.realpath(fn)
            name = self._names[fn] = os.path.relpath(real, self.root) if real.startswith(self.root) else real
            if self.on_new_file is not None:
                self.on_new_file(name, real)
        return name

    def user_frame(self, frame):
        """The innermost user frame at or above `frame`, or None."""
        is_user = self.is_user
        while frame is not None:
            if is_user(frame.f_code):
                return frame
            frame = frame.f_back
        return None

    def where(self, frame) -> tuple[str | None, int | None]:
        f = self.user_frame(frame)
        if f is None:
            return None, None
        return self.file_name(f.f_code), f.f_lineno

    def call_text(self, frame) -> str | None:
        """The source text of the call `frame` is suspended in, shortened to fit a lane (e.g. `gevent.joinall(…)`)."""
        code, lasti = frame.f_code, frame.f_lasti
        key = (code, lasti)
        text = self._calls.get(key, False)
        if text is False:
            text = self._calls[key] = _call_text(code, lasti)
        return text

    def is_yield(self, frame) -> bool:
        """At a profile 'return' of a generator or coroutine frame: did it suspend (rather than finish)?

        3.11 and 3.12 leave f_lasti at the YIELD_VALUE; 3.13 at the RESUME after it, whose argument says it resumes
        after a yield, a yield from or an await (low two bits 1, 2 or 3; 0 is the start of the function)."""
        lasti = frame.f_lasti
        if lasti < 0:
            return False
        code = frame.f_code.co_code
        op = code[lasti]
        return op == _YIELD_VALUE or (op == _RESUME and code[lasti + 1] & 3 != 0)


def call_source(frame) -> str | None:
    """The whole source text of the call `frame` is making (not shortened), e.g. `gevent.spawn_later(delay, job, 3)`."""
    return _call_text(frame.f_code, frame.f_lasti, shorten=False)


def _call_text(code, lasti: int, shorten: bool = True) -> str | None:
    if lasti < 0:
        return None
    try:
        positions = list(code.co_positions())[lasti // 2]
    except (IndexError, ValueError):
        return None
    l0, l1, c0, c1 = positions
    if l0 is None or c0 is None or l1 is None or c1 is None:
        return None
    lines = [linecache.getline(code.co_filename, n) for n in range(l0, l1 + 1)]
    if not lines or not lines[0]:
        return None
    if l0 == l1:
        text = lines[0][c0:c1]
    else:
        text = lines[0][c0:] + "".join(lines[1:-1]) + lines[-1][:c1]
    text = " ".join(text.split())
    if code.co_code[lasti] == _FOR_ITER:
        text = f"for … in {text}"
    return shorten_call(text) if shorten else text


def shorten_call(text: str) -> str:
    """`gevent.joinall([gevent.spawn(fun), …])` → `gevent.joinall(…)` when it is too long for a lane."""
    if len(text) <= MAX_CALL_TEXT:
        return text
    paren = text.find("(")
    if 0 < paren < MAX_CALL_TEXT - 3:
        return text[:paren] + "(…)"
    return text[: MAX_CALL_TEXT - 1] + "…"


def short_repr(value, limit: int = 24) -> str:
    """A value as a reader would write it, short: `0.3` not `0.30000000000000004`, `Queue` not `<Queue at 0x7f…>`,
    `…/articles/1.html` for a long URL, `127.0.0.1:5000` for a connected socket."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str) and "://" in value and len(value) > limit:
        from urllib.parse import urlsplit
        try:
            path = urlsplit(value).path or "/"
            value = "…" + path if len(path) < limit - 3 else "…" + path[-(limit - 4):]
        except ValueError:
            pass
    if hasattr(value, "getpeername") and hasattr(value, "fileno"):
        try:
            host, port = value.getpeername()[:2]
            return f"{host}:{port}"
        except Exception:
            return f"<socket fd={value.fileno()}>"
    try:
        r = repr(value)
    except Exception:
        r = "<"
    if r.startswith("<"):  # `<Queue at 0x7f…>`, `<function f at 0x…>`: no literal form; its name says more
        name = getattr(value, "__qualname__", None) if callable(value) else None
        r = (name or type(value).__name__).rsplit(".", 1)[-1]
    return r if len(r) <= limit else r[: limit - 1] + "…"


def call_name(func, args=(), kwargs=None, limit: int = 40, is_user=None) -> str:
    """`consumer('c1')`, `fun`, `fetch('…/1.html')`, `job(2, 0.3)`: how a reader of the script names a call.

    With `is_user` (a predicate on code objects), a library function that runs a user function handed to it, such
    as gevent's `_handle_and_close_when_done(handle, close, (sock, addr))`, is named for the user function and
    the arguments it gets; a library function running none is named by its qualified name alone
    (`Pool._handle_workers`)."""
    if is_user is not None:
        code = getattr(func, "__code__", None)
        if code is not None and not is_user(code):
            found = _user_callable(args, is_user)
            if found is None:
                return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or type(func).__name__
            lib = getattr(func, "__name__", "")
            func, args, kwargs = found, [a for a in flat(args) if not callable(a)], None
            if "map" in lib:  # gevent's Group.map runs `square` over [1, 2, 3]: `map(square, [1, 2, 3])`
                return call_name(_Named("map"), [_Named(found.__name__), *args], limit=limit)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or type(func).__name__
    if "<locals>." in name or hasattr(func, "__self__"):
        name = name.rsplit(".", 1)[-1]
    parts = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in (kwargs or {}).items()]
    if not parts:
        return name
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= limit else text[: limit - 2] + "…)"


class _Named:
    """A name standing in for a call's function or argument, shown as it is."""

    def __init__(self, name: str):
        self.__name__ = name

    def __repr__(self) -> str:
        return self.__name__


def flat(args):
    """The arguments, with those packed in a tuple unpacked (one level)."""
    for a in args:
        if isinstance(a, tuple):
            yield from a
        else:
            yield a


def _user_callable(args, is_user):
    for a in flat(args):
        code = getattr(a, "__code__", None) or getattr(getattr(a, "__func__", None), "__code__", None)
        if code is not None and is_user(code):
            return a
    return None


def format_seconds(seconds) -> str:
    try:
        return f"{float(seconds):g}"
    except (TypeError, ValueError):
        return repr(seconds)


def caller(depth: int):
    """The frame `depth` levels above the caller of this function, or None when the stack is shallower (a
    function called straight from C, such as `print` run as a greenlet)."""
    f = sys._getframe(1)
    for _ in range(depth):
        if f is None:
            return None
        f = f.f_back
    return f
