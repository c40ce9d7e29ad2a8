"""The user-notification supervisor behind ``nlcore inject``.

Every notified send on a NETLINK_ROUTE socket is read from the target's memory and decoded.
No rule fires: SECCOMP_USER_NOTIF_FLAG_CONTINUE, the kernel runs the very syscall. A rule
fires: the supervisor sends the batch itself through a duplicate of the target's socket
(``pidfd_getfd``), with each failing request replaced by a 16-byte NLMSG_NOOP carrying
NLM_F_ACK and a *token* port id in its header, and completes the target's syscall with the
length it asked to send. The kernel answers the batch in order: real replies for the real
requests, a real 36-byte ack for every token. So the receive queue holds one real datagram
where each synthetic NLMSGERR belongs -- in sequence order, and readable for poll, select
and epoll (edge- or level-triggered) exactly as a kernel reply would be. A receive whose
next datagram is a token gets the synthetic error instead (written through /proc/PID/mem,
honouring MSG_PEEK, MSG_TRUNC and short buffers); every other receive goes to the kernel.
"""

from __future__ import annotations

import errno as _errno
import os
import select
import socket
import struct
import subprocess
from typing import IO, Any, Callable

from ...codec import consts as C
from . import bpf as _bpf
from . import creds as _creds
from . import mem as _mem
from . import notify as _notify
from . import pending as _pending
from . import redo as _redo
from . import syscalls as _syscalls
from .pending import MSG_DONTWAIT, MSG_ERRQUEUE, MSG_PEEK, MSG_TRUNC, SockState
from .rules import RuleSet
from .sendside import SendSide

_HDR = C.NLMSGHDR
_TYPE = struct.Struct("=H")
Plan = list[tuple[int, int, "int | None"]]  # (offset, length, firing rule) per message


class Supervisor(SendSide):
    """Answers notifications from ``listener`` according to ``rules``.

    ``errno`` (positive) and ``extack`` shape the synthetic NLMSGERR; ``syscall_errno`` fails
    the send syscall instead. ``log`` receives one JSON object per line for every message
    sent to the kernel on a route socket, and for every synthetic reply delivered.
    """

    def __init__(self, listener: int, rules: RuleSet, errno: int, extack: str | None = None,
                 syscall_errno: bool = False, log: IO[str] | None = None,
                 killable: bool = True) -> None:
        self.listener = listener
        self.rules = rules
        self.errno = errno
        self.extack = extack
        self.syscall_errno = syscall_errno
        self.log = log
        self.killable = killable  # WAIT_KILLABLE_RECV: a received notification stays valid
        self._me: _creds.Creds | None = None  # our credentials (read when first needed)
        self.kinds: dict[int, bool] = {}  # socket inode -> is NETLINK_ROUTE
        self.ports: dict[int, int] = {}  # socket inode -> its port id (fixed once bound)
        self.pending: dict[int, SockState] = {}  # socket inode -> synthetic replies
        self.stats: dict[str, int] = {"notifications": 0, "continued": 0, "failed": 0,
                                      "delivered": 0, "errors": 0, "interrupted": 0,
                                      "dropped": 0}
        self._tokens = 0
        self.redo = _redo.Redo(killable)  # per thread, its last answered send
        self.first_error = ""
        self._names = {a: _bpf.syscall_names(a) for a in _bpf.SYSCALLS}
        self._handlers: dict[str, Callable[[_notify.Notif, str], bool]] = {
            **{n: self._on_send for n in ("sendto", "sendmsg", "write", "writev")},
            **{n: self._on_refuse for n in _bpf.REFUSED_SYSCALLS},
            "sendmmsg": self._on_sendmmsg,
            **{n: self._on_recv for n in _bpf.RECV_SYSCALLS}}

    ENGINE = "pure"

    # ------------------------------------------------------------------ the loop
    def run(self, proc: subprocess.Popen[Any]) -> int:
        """Serve until ``proc`` has exited and no task is left under the filter; returns
        its exit status (128 + N for signal N)."""
        pidfd = _syscalls.pidfd_open(proc.pid)
        poller = select.poll()
        poller.register(self.listener, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        code: int | None = None
        hup = False
        try:
            while code is None or not hup:
                for fd, ev in poller.poll():
                    if fd == pidfd:
                        code = _syscalls.exit_status(proc)
                        poller.unregister(pidfd)
                    elif ev & select.POLLIN:
                        try:
                            n = _notify.recv(self.listener)
                        except OSError as exc:
                            if exc.errno in (_errno.ENOENT, _errno.EINTR):
                                continue
                            raise
                        self.handle(n)
                    elif ev & (select.POLLHUP | select.POLLERR):
                        hup = True
                        poller.unregister(self.listener)
        finally:
            os.close(pidfd)
        return code

    def report(self) -> tuple[dict[str, int], str]:
        """The counters and the first error (the rules' counts are in ``rules.counts``)."""
        return dict(self.stats), self.first_error

    def close(self) -> None:
        """Close the duplicates of sockets that still have synthetic replies pending."""
        for st in self.pending.values():
            st.sock.close()
        self.pending.clear()

    # ------------------------------------------------------------------ plumbing
    def handle(self, n: _notify.Notif) -> None:
        """Answer one notification; never leaves the target waiting."""
        counts, stats = list(self.rules.counts), dict(self.stats)
        self.stats["notifications"] += 1
        name = self._names.get(n.arch, {}).get(n.nr, "")
        handler = self._handlers.get(name)
        self.redo.killable = self.killable
        self.redo.begin(n)
        try:
            answered = self._continue(n) if handler is None else handler(n, name)
            self.redo.end()  # a thread's record lasts until its next notification
            if not answered and not _notify.id_valid(self.listener, n.id):
                # interrupted before the answer: the task asks again, as if never seen
                self.rules.counts[:] = counts
                self.stats.update(stats, notifications=stats["notifications"] + 1,
                                  interrupted=stats["interrupted"] + 1)
        except Exception as exc:  # a bug, or a target we may not look into
            self.redo.end()
            self.stats["errors"] += 1
            self.first_error = self.first_error or f"{name}: {exc!r}"
            self._write({"event": "error", "syscall": name, "pid": n.pid, "error": repr(exc)})
            if handler is self._on_recv:  # the kernel's own datagram is always right
                _notify.reply_continue(self.listener, n.id)
            else:  # fail closed: a request that should fail must never reach the kernel
                err = exc.errno if isinstance(exc, OSError) and exc.errno else 5
                _notify.reply_errno(self.listener, n.id, err)

    def _forget_if_idle(self, ino: int, st: SockState) -> None:
        if not st.queue and not st.overrun:
            del self.pending[ino]
            st.sock.close()

    def _real_one(self, n: _notify.Notif, st: SockState, flags: int) -> bool:
        """recvmmsg of several while replies pend: the kernel would hand out token acks
        among the real datagrams; the real one at the head is delivered alone."""
        try:
            size = st.sock.recv_into(bytearray(1), 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC)
            data, src = st.sock.recvfrom(max(size, 1), MSG_PEEK | MSG_DONTWAIT)
        except BlockingIOError:
            return self._continue(n)  # nothing queued: the kernel waits
        except OSError as exc:
            return _notify.reply_errno(self.listener, n.id, exc.errno or 5)
        if not _notify.id_valid(self.listener, n.id):
            return False
        with _mem.Mem(n.pid) as mem:
            ret = _pending.deliver(mem, "recvmmsg", n.args, flags, data,
                                   _mem.SOCKADDR_NL.pack(socket.AF_NETLINK, 0, *src))
        if not _notify.reply_value(self.listener, n.id, ret):
            return False
        if not flags & MSG_PEEK:
            st.sock.recv_into(bytearray(1), 1, MSG_DONTWAIT | MSG_TRUNC)  # delivered: drop
        return True

    def _on_recv(self, n: _notify.Notif, name: str) -> bool:
        if not self.pending:
            return self._continue(n)  # the common case: nothing synthetic anywhere
        fd, a = n.args[0] & 0xFFFFFFFF, n.args
        ino = _mem.fd_inode(n.pid, fd)
        st = self.pending.get(ino) if ino is not None else None
        flags = {"recvfrom": a[3], "recvmsg": a[2], "recvmmsg": a[3]}.get(name, 0) & 0xFFFFFFFF
        if st is None or flags & MSG_ERRQUEUE or (name == "recvmmsg" and not a[2]):
            return self._continue(n)
        if st.overrun:  # as sock_error() reports the kernel's overrun: once
            if not _notify.reply_errno(self.listener, n.id, _errno.ENOBUFS):
                return False
            st.overrun = False
            self._forget_if_idle(ino, st)  # type: ignore[arg-type]
            return True
        try:
            head = _pending.head(st, self._write)
        except OSError as exc:  # ENOBUFS: our peek took the error; hand it on
            return _notify.reply_errno(self.listener, n.id, exc.errno or 5)
        if head is None and name == "recvmmsg" and a[2] > 1:
            return self._real_one(n, st, flags)
        if head is None:
            return self._continue(n)
        if not _notify.id_valid(self.listener, n.id):
            return False
        data = head.reply
        with _mem.Mem(n.pid) as mem:
            ret = _pending.deliver(mem, name, a, flags, data)
        if not _notify.reply_value(self.listener, n.id, ret):
            return False  # not delivered: the reply stays first in line
        peek = bool(flags & MSG_PEEK) and name not in ("read", "readv")
        if not peek:
            st.sock.recv(64, MSG_DONTWAIT)  # the token's ack, now replaced
            st.pop()
            self.stats["delivered"] += 1
            self._forget_if_idle(ino, st)  # type: ignore[arg-type]
        self._write({"event": "reply", "syscall": name, "pid": n.pid, "fd": fd,
                     "seq": head.seq, "peek": peek, "bytes": len(data), "hex": data.hex()})
        return True
