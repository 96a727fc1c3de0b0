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


def remember_connects(connect, rec):
    """Wrap a socket's connect so the connecting task is known by its local address (see Recorder.peer_name)."""
    @functools.wraps(connect)
    def wrapper(sock, *args, **kwargs):
        try:
            return connect(sock, *args, **kwargs)
        finally:
            rec.remember_client(sock)
    return wrapper
