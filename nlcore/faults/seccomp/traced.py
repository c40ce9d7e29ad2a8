"""What ``nlcore record`` and ``nlcore replay`` share: a supervisor that answers every
receive on a NETLINK_ROUTE socket itself, and can hold a receive until it has an answer.

A receive that would block (a blocking socket, no MSG_DONTWAIT, nothing to deliver) is
*held*: its notification stays unanswered -- the program sleeps in the syscall as it would
in the kernel -- until the socket becomes readable (the supervisor polls its own duplicate),
its SO_RCVTIMEO passes (EAGAIN, as the kernel), or a signal is pending for the thread. The
listener is WAIT_KILLABLE_RECV where the kernel has it (>= 5.19), so an answer once sent is
never lost to a signal; a held receive with a signal pending is answered ERESTARTSYS, which
the kernel turns into a restart (SA_RESTART) or EINTR exactly as for its own blocking
receive. Without WAIT_KILLABLE_RECV the kernel withdraws an interrupted notification itself
(SECCOMP_IOCTL_NOTIF_ID_VALID tells us). Subclasses implement ``on_send`` and ``try_recv``
(deliver now and return True, or return False to hold).
"""

from __future__ import annotations

import errno as _errno
import os
import select
import socket
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from ...codec import consts as C
from . import bpf as _bpf
from . import mem as _mem
from . import notify as _notify
from . import syscalls as _syscalls
from .pending import MSG_DONTWAIT, MSG_ERRQUEUE
from .taskstate import nonblocking, rcvtimeo, recv_flags, route_dup, signal_pending

SWEEP = 0.02  # seconds between sweeps of held receives (signals, deadlines, ID_VALID)
ERESTARTSYS = 512  # include/linux/errno.h: restart if SA_RESTART, else EINTR (never seen)


@dataclass
class Held:
    """A receive waiting for data."""

    n: _notify.Notif
    name: str
    flags: int
    deadline: float | None


class TracedSupervisor:
    """The loop and the plumbing; see the module docstring."""

    ENGINE = "pure"

    def __init__(self, listener: int) -> None:
        self.listener = listener
        self.kinds: dict[int, int] = {}  # socket inode -> netlink protocol (-1: not netlink)
        self.held: dict[int, deque[Held]] = {}  # inode -> receives waiting, oldest first
        self.watch: dict[int, socket.socket] = {}  # inode -> our duplicate, polled
        self.stats: dict[str, int] = {"notifications": 0, "continued": 0, "held": 0,
                                      "interrupted": 0, "errors": 0}
        self.first_error = ""
        self.stop_reason = ""  # set by a subclass that kills the program
        self._names = {a: _bpf.syscall_names(a) for a in _bpf.SYSCALLS}
        self.proc: subprocess.Popen[Any] | None = None
        self.killable = False  # WAIT_KILLABLE_RECV (set by run_traced): see the module doc

    # ------------------------------------------------------------------ hooks
    def on_send(self, n: _notify.Notif, name: str, ino: int) -> None:
        """Answer a send on a NETLINK_ROUTE socket."""
        raise NotImplementedError

    def try_recv(self, n: _notify.Notif, name: str, flags: int, ino: int,
                 sock: socket.socket) -> bool:
        """Answer a receive now (True) or leave it to be held (False)."""
        raise NotImplementedError

    def release(self, ino: int) -> None:
        """Called when ``ino`` has no held receive left (drop what was kept for it)."""

    # ------------------------------------------------------------------ the loop
    def run(self, proc: subprocess.Popen[Any]) -> int:
        """Serve until ``proc`` has exited and no task is left under the filter."""
        self.proc = proc
        pidfd = _syscalls.pidfd_open(proc.pid)
        code: int | None = None
        hup = False
        try:
            while code is None or not hup:
                poller = select.poll()
                if not hup:
                    poller.register(self.listener, select.POLLIN)
                if code is None:
                    poller.register(pidfd, select.POLLIN)
                for s in self.watch.values():
                    poller.register(s.fileno(), select.POLLIN)
                timeout = self._timeout()
                for fd, ev in poller.poll(None if timeout is None else timeout * 1000):
                    if fd == pidfd:
                        code = _syscalls.exit_status(proc)
                    elif fd == self.listener and ev & select.POLLIN:
                        self._one()
                    elif fd == self.listener:
                        hup = True
                    else:
                        self._serve_fd(fd)
                self._expire()
        finally:
            os.close(pidfd)
            self.close()
        return code

    def _one(self) -> None:
        """Receive and handle one notification."""
        try:
            n = _notify.recv(self.listener)
        except OSError as exc:
            if exc.errno in (_errno.ENOENT, _errno.EINTR):
                return
            raise
        self.handle(n)

    def _timeout(self) -> float | None:
        if not self.held:
            return None
        now = time.monotonic()
        dl = [h.deadline for q in self.held.values() for h in q if h.deadline is not None]
        return max(0.0, min([SWEEP, *(d - now for d in dl)]))

    def _expire(self) -> None:
        now = time.monotonic()
        for ino in list(self.held):
            q = self.held[ino]
            keep: deque[Held] = deque()
            for h in q:
                if not _notify.id_valid(self.listener, h.n.id):
                    continue  # interrupted: the kernel withdrew it
                if h.deadline is not None and now >= h.deadline:
                    _notify.reply_errno(self.listener, h.n.id, _errno.EAGAIN)
                    continue
                if self.killable and signal_pending(h.n.pid):
                    self.stats["interrupted"] += 1
                    _notify.reply_errno(self.listener, h.n.id, ERESTARTSYS)
                    continue
                keep.append(h)
            self._set_held(ino, keep)

    def _set_held(self, ino: int, q: deque[Held]) -> None:
        if q:
            self.held[ino] = q
            return
        self.held.pop(ino, None)
        sock = self.watch.pop(ino, None)
        if sock is not None:
            sock.close()
        self.release(ino)

    def _serve_fd(self, fd: int) -> None:
        for ino, sock in list(self.watch.items()):
            if sock.fileno() == fd:
                self.serve_held(ino)
                return

    def serve_held(self, ino: int) -> None:
        """Answer held receives on ``ino`` while there is something for them."""
        q = self.held.get(ino)
        sock = self.watch.get(ino)
        while q and sock is not None:
            h = q[0]
            if not _notify.id_valid(self.listener, h.n.id):
                q.popleft()
                continue
            try:
                if not self.try_recv(h.n, h.name, h.flags, ino, sock):
                    break
            except OSError as exc:
                _notify.reply_errno(self.listener, h.n.id, exc.errno or _errno.EIO)
            q.popleft()
        self._set_held(ino, q or deque())

    # ------------------------------------------------------------------ dispatch
    def handle(self, n: _notify.Notif) -> None:
        """Answer (or hold) one notification; never leaves the target waiting by mistake."""
        self.stats["notifications"] += 1
        name = self._names.get(n.arch, {}).get(n.nr, "")
        try:
            fd = n.args[0] & 0xFFFFFFFF
            ino = self.route_inode(n.pid, fd) if name else None
            if ino is None:
                self.stats["continued"] += 1
                _notify.reply_continue(self.listener, n.id)
            elif name in _bpf.RECV_SYSCALLS:
                self._on_recv(n, name, ino, fd)
            elif name in _bpf.REFUSED_SYSCALLS:  # no way into a route socket bypasses us
                _notify.reply_errno(self.listener, n.id, _errno.EOPNOTSUPP)
            else:
                self.on_send(n, name, ino)
        except Exception as exc:
            self.stats["errors"] += 1
            self.first_error = self.first_error or f"{name}: {exc!r}"
            err = exc.errno if isinstance(exc, OSError) and exc.errno else _errno.EIO
            _notify.reply_errno(self.listener, n.id, err)  # fail closed, both ways

    def route_inode(self, pid: int, fd: int) -> int | None:
        """The inode of fd ``fd`` if it is a NETLINK_ROUTE socket; other netlink protocols
        are for ``other_netlink`` (None here)."""
        ino = _mem.fd_inode(pid, fd)
        if ino is None:
            return None
        proto = self.kinds.get(ino)
        if proto is None:
            with route_dup(pid, fd) as s:
                proto = s.proto if s.family == socket.AF_NETLINK else -1
            if len(self.kinds) > 4096:
                self.kinds.clear()
            self.kinds[ino] = proto
        if proto >= 0 and proto != C.NETLINK_ROUTE:
            return self.other_netlink(ino)
        return ino if proto == C.NETLINK_ROUTE else None

    def other_netlink(self, ino: int) -> int | None:
        """A socket of another netlink protocol: None lets its syscalls through."""
        return None

    def _on_recv(self, n: _notify.Notif, name: str, ino: int, fd: int) -> None:
        flags = recv_flags(name, n.args)
        if flags & MSG_ERRQUEUE or (name == "recvmmsg" and not n.args[2] & 0xFFFFFFFF):
            self.stats["continued"] += 1
            _notify.reply_continue(self.listener, n.id)
            return
        sock = self.watch.get(ino) or route_dup(n.pid, fd)
        try:
            if self.held.get(ino) or not self.try_recv(n, name, flags, ino, sock):
                if flags & MSG_DONTWAIT or nonblocking(n.pid, fd):
                    _notify.reply_errno(self.listener, n.id, _errno.EAGAIN)
                else:
                    tmo = rcvtimeo(sock)
                    self.stats["held"] += 1
                    self.held.setdefault(ino, deque()).append(
                        Held(n, name, flags, None if tmo is None else time.monotonic() + tmo))
                    self.watch.setdefault(ino, sock)
        finally:
            if self.watch.get(ino) is not sock:
                sock.close()

    def kill(self, why: str) -> None:
        """Stop the program (SIGKILL) and remember why, once."""
        self.stop_reason = self.stop_reason or why
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def report(self) -> tuple[dict[str, int], str]:
        """The counters and the first error."""
        return dict(self.stats), self.first_error

    def close(self) -> None:
        """Close every duplicate still held."""
        for sock in self.watch.values():
            sock.close()
        self.watch.clear()
        self.held.clear()
