"""Sockets as the recorder names them: a connected socket's peer, the fds of select()'s lists, and connect()
wrapped so the connecting task is known by its local address. Shared by the thread and the greenlet hooks."""

from __future__ import annotations

import functools
import weakref

_peers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # socket -> (fd, "host:port"): one syscall each


def socket_peer(sock) -> str | None:
    """`host:port` of a connected socket's peer (cached per socket and fd), or None."""
    try:
        fd = sock.fileno()
        cached = _peers.get(sock)
    except (AttributeError, TypeError, OSError, ValueError):
        return None
    if cached is not None and cached[0] == fd:
        return cached[1]
    try:
        host, port = sock.getpeername()[:2]
        peer = f"{host}:{port}"
    except (AttributeError, OSError, ValueError, TypeError):
        return None
    try:
        _peers[sock] = (fd, peer)
    except TypeError:
        pass
    return peer


def fds_of(*lists) -> list[int]:
    out = set()
    for lst in lists:
        for obj in lst or ():
            try:
                out.add(obj if isinstance(obj, int) else obj.fileno())
            except Exception:
                pass
    return sorted(out)


def remember_connects(connect, rec, then=None):
    """Wrap a socket's connect so the connecting task is known by its local address (see Recorder.peer_name);
    `then(sock)`, when given, is told of each connect that succeeded."""
    @functools.wraps(connect)
    def wrapper(sock, *args, **kwargs):
        ok = False
        try:
            result = connect(sock, *args, **kwargs)
            ok = result in (None, 0)  # (connect_ex returns an error number instead of raising)
            return result
        finally:
            rec.remember_client(sock)
            if ok and then is not None:
                try:
                    then(sock)
                except Exception:
                    rec.hook_error("connect hook")
    return wrapper
