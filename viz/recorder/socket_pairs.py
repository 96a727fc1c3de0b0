"""The two ends of a connection inside one program, and who last wrote to each: a read or a select() that data woke
names the task that sent it (`sendall() by client 1`), a wake-up cause across threads.

A connection has both ends in the program when a task connects and another accepts (a server with built-in
clients, a test). They are paired by address: the connecting socket's local address is the accepted one's peer,
whichever of the two calls returns first. A send, or a close (the reader then sees end of file), on one end is
noted for the other end's fd, in order, until a read there takes it: a read that got bytes was woken by the first
send not yet read (a reply sent and the connection closed at once: the read names the send, the next one, which
finds end of file, the close). A close forgets the pair, so a reused fd is never taken for the old connection.
"""

from __future__ import annotations

EARLY_WRITES = 16  # writes noted on an unpaired socket before it is taken for one whose other end is elsewhere


class SocketPairs:
    def __init__(self, rec):
        self.rec = rec
        self.peer: dict[int, int] = {}          # fd -> fd of the other end, both in this program
        self._connected: dict[str, int] = {}    # "host:port" of a connecting socket -> its fd, not yet accepted
        self._accepted: dict[str, int] = {}     # "host:port" of an accepted connection's peer -> its fd, not paired
        self._wrote: dict[int, list] = {}       # fd -> [(task, "sendall()"), ...] the other end's writes not yet read
        self._early: dict[int, list] = {}       # fd -> its own writes, made before its other end was accepted
        self._unpaired: dict[int, list] = {}    # fd waiting for its other end -> [table, address, writes so far]

    def connected(self, sock) -> None:
        """After a connect() that succeeded: pair it with its accepted end, or keep it for the accept to find."""
        try:
            fd = sock.fileno()
            host, port = sock.getsockname()[:2]
        except (OSError, ValueError, TypeError):
            return
        local = f"{host}:{port}"
        other = self._accepted.pop(local, None)
        if other is None:
            self._connected[local] = fd
            self._unpaired[fd] = [self._connected, local, 0]
        else:
            self._pair(fd, other)

    def accepted(self, conn, addr) -> None:
        """After an accept(): pair the new connection with the program's own connecting socket, if it is one."""
        if not isinstance(addr, tuple):
            return
        try:
            fd = conn.fileno()
        except (OSError, ValueError):
            return
        peer = f"{addr[0]}:{addr[1]}"
        other = self._connected.pop(peer, None)
        if other is None:
            self._accepted[peer] = fd
            self._unpaired[fd] = [self._accepted, peer, 0]
        else:
            self._pair(fd, other)

    def _pair(self, a: int, b: int) -> None:
        self.peer[a], self.peer[b] = b, a
        self._unpaired.pop(a, None)
        self._unpaired.pop(b, None)
        for fd, other in ((a, b), (b, a)):  # a client may send before the server accepts
            early = self._early.pop(fd, None)
            if early is None:
                self._wrote.pop(other, None)
            else:
                self._wrote[other] = early

    def wrote(self, fd: int, what: str) -> None:
        """The calling task wrote to fd (`what`: `sendall()`): the other end, when in the program, can name it."""
        other = self.peer.get(fd)
        if other is not None:
            _note(self._wrote.setdefault(other, []), (self.rec.current_task(), what))
        else:
            waiting = self._unpaired.get(fd)
            if waiting is None:
                return  # its other end is not in the program: nothing to note
            waiting[2] += 1
            if waiting[2] > EARLY_WRITES:  # the other end would have come by now: it is elsewhere, stop noting
                self._forget(fd)
            else:
                _note(self._early.setdefault(fd, []), (self.rec.current_task(), what))

    def closed(self, fd: int) -> None:
        """fd is being closed: its other end reads end of file, by this task's close(); the pair is forgotten."""
        other = self.peer.pop(fd, None)
        self._wrote.pop(fd, None)
        self._forget(fd)
        if other is not None:
            self.peer.pop(other, None)
            _note(self._wrote.setdefault(other, []), (self.rec.current_task(), "close()"))

    def _forget(self, fd: int) -> None:
        """fd's other end never came (a server or client outside the program): stop waiting for it."""
        self._early.pop(fd, None)
        waiting = self._unpaired.pop(fd, None)
        if waiting is not None:
            table, address, _ = waiting
            if table.get(address) == fd:
                del table[address]

    def writer(self, fd: int, read: int | None = None) -> tuple[int, str] | None:
        """(task, `sendall() by client 1`) of the write that made fd readable, or None when no task of the program
        wrote to it. `read`: the bytes a read of fd got, which takes the writes it was woken by (0: end of file, the
        close); None: only a look (a select() returned fd)."""
        notes = self._wrote.get(fd)
        if not notes:
            return None
        if read is None:
            tid, what = notes[0]
        elif read == 0:
            closes = [i for i, note in enumerate(notes) if note[1] == "close()"]
            if not closes:
                return None
            tid, what = notes[closes[0]]
            del notes[:closes[0] + 1]
        else:
            if notes[0][1] == "close()":
                return None  # bytes read after the close was noted: not from a write we saw
            tid, what = notes.pop(0)
        return tid, f"{what} by {self.rec.names.get(tid, '?')}"


def _note(notes: list, note: tuple) -> None:
    """Add a write to fd's notes: the same task's same call again is the same note (bytes a read takes at once)."""
    if not notes or notes[-1] != note:
        if len(notes) >= 16:
            del notes[0]
        notes.append(note)
