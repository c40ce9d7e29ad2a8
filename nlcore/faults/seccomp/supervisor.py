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
import json
import os
import select
import socket
import struct
import subprocess
from typing import IO, Any, Callable

from ...codec import consts as C
from ...codec.errors import errno_name
from ...codec.text import describe_request
from ...codec.wire import encode_error_reply
from . import bpf as _bpf
from . import mem as _mem
from . import notify as _notify
from . import pending as _pending
from . import sends as _sends
from . import syscalls as _syscalls
from .pending import MSG_DONTWAIT, MSG_ERRQUEUE, MSG_PEEK, TOKEN_BIT, Pending, SockState
from .rules import RuleSet

_HDR = C.NLMSGHDR
_TYPE = struct.Struct("=H")
Plan = list[tuple[int, int, "int | None"]]  # (offset, length, firing rule) per message


class Supervisor:
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
        self.kinds: dict[int, bool] = {}  # socket inode -> is NETLINK_ROUTE
        self.ports: dict[int, int] = {}  # socket inode -> its port id (fixed once bound)
        self.pending: dict[int, SockState] = {}  # socket inode -> synthetic replies
        self.stats: dict[str, int] = {"notifications": 0, "continued": 0, "failed": 0,
                                      "delivered": 0, "errors": 0, "interrupted": 0,
                                      "dropped": 0}
        self._tokens = 0
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
        try:
            answered = self._continue(n) if handler is None else handler(n, name)
            if not answered and not _notify.id_valid(self.listener, n.id):
                # interrupted before the answer: the task asks again, as if never seen
                self.rules.counts[:] = counts
                self.stats.update(stats, notifications=stats["notifications"] + 1,
                                  interrupted=stats["interrupted"] + 1)
        except Exception as exc:  # a bug, or a target we may not look into
            self.stats["errors"] += 1
            self.first_error = self.first_error or f"{name}: {exc!r}"
            self._write({"event": "error", "syscall": name, "pid": n.pid, "error": repr(exc)})
            if handler is self._on_recv:  # the kernel's own datagram is always right
                _notify.reply_continue(self.listener, n.id)
            else:  # fail closed: a request that should fail must never reach the kernel
                err = exc.errno if isinstance(exc, OSError) and exc.errno else 5
                _notify.reply_errno(self.listener, n.id, err)

    def _continue(self, n: _notify.Notif) -> bool:
        self.stats["continued"] += 1
        return _notify.reply_continue(self.listener, n.id)

    def _write(self, rec: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write(json.dumps(rec, sort_keys=True) + "\n")
            self.log.flush()

    def _route_sock(self, pid: int, fd: int) -> socket.socket:
        return _sends.route_socket(pid, fd)

    def _route_inode(self, pid: int, fd: int) -> int | None:
        ino = _mem.fd_inode(pid, fd)
        if ino is None:
            return None
        known = self.kinds.get(ino)
        if known is None:
            with socket.socket(fileno=_syscalls.task_getfd(pid, fd)) as s:
                known = s.family == socket.AF_NETLINK and s.proto == C.NETLINK_ROUTE
            if len(self.kinds) > 4096:
                self.kinds.clear()
                self.ports.clear()
            self.kinds[ino] = known
        return ino if known else None

    # ------------------------------------------------------------------ sends
    def _decide(self, data: bytes, n: _notify.Notif, name: str, fd: int
                ) -> list[tuple[int, int, int | None]] | None:
        """``(offset, length, rule)`` per message, or None when nothing fires."""
        spans, pos = [], 0
        while len(data) - pos >= 16:
            ln = _HDR.unpack_from(data, pos)[0]
            if ln < 16 or ln > len(data) - pos:
                break  # the kernel stops here too; the rest travels untouched
            spans.append((pos, ln))
            pos += C.align4(ln)
        if self.log is None and not any(_TYPE.unpack_from(data, p + 4)[0] in self.rules.types
                                        for p, _ in spans):
            return None
        out = [(p, ln, self.rules.decide(data[p:p + ln])) for p, ln in spans]
        fired = any(r is not None for _, _, r in out)
        if self.log is not None:
            for p, ln, rule in out:
                self._log_msg(data[p:p + ln], n, name, fd, rule, fired)
        return out if fired else None

    def _err(self, rule: int) -> int:
        return self.rules.rules[rule].errno or self.errno

    def _log_msg(self, raw: bytes, n: _notify.Notif, name: str, fd: int,
                 rule: int | None, fired: bool) -> None:
        tp, _fl, seq = _HDR.unpack_from(raw, 0)[1:4]
        if rule is not None:
            decision = "syscall-errno" if self.syscall_errno else "fail"
        else:  # with --syscall-errno, its batch-mates fail with the syscall
            decision = "not-sent" if fired and self.syscall_errno else "pass"
        self._write({"syscall": name, "pid": n.pid, "fd": fd, "seq": seq,
                     "type": C.MSG_TYPE_NAMES.get(tp, str(tp)),
                     "request": describe_request(raw), "decision": decision, "rule": rule,
                     "errno": None if rule is None else errno_name(self._err(rule)),
                     "hex": raw.hex()})

    def _on_refuse(self, n: _notify.Notif, name: str) -> bool:
        """sendfile, splice, preadv2, pwritev2 on a route socket: EOPNOTSUPP."""
        fds = (n.args[0], n.args[2]) if name == "splice" else (n.args[0],)
        if any(self._route_inode(n.pid, fd & 0xFFFFFFFF) is not None for fd in fds):
            return _notify.reply_errno(self.listener, n.id, _errno.EOPNOTSUPP)
        return self._continue(n)

    def _on_send(self, n: _notify.Notif, name: str) -> bool:
        fd = n.args[0] & 0xFFFFFFFF
        ino = self._route_inode(n.pid, fd)
        if ino is None:
            return self._continue(n)
        with _mem.Mem(n.pid) as mem:
            got = _sends.read_send(mem, n.pid, name, n.args)
        if got is None:
            return self._continue(n)
        data, dest = got
        plan = self._decide(data, n, name, fd)
        if plan is None:
            return self._continue(n)
        if not _notify.id_valid(self.listener, n.id):
            return False
        self.stats["failed"] += sum(r is not None for _, _, r in plan)
        if self.syscall_errno:
            first = next(r for _, _, r in plan if r is not None)
            return _notify.reply_errno(self.listener, n.id, self._err(first))
        if not self.killable:  # interruptible: answer first, act only once it was delivered
            if not _notify.reply_value(self.listener, n.id, len(data)):
                return False
            return self._late(lambda: self._send_planned(ino, n.pid, fd, data, plan, dest))
        try:
            self._send_planned(ino, n.pid, fd, data, plan, dest)
        except OSError as exc:
            return _notify.reply_errno(self.listener, n.id, exc.errno or 5)
        return _notify.reply_value(self.listener, n.id, len(data))

    def _late(self, act: Callable[[], object]) -> bool:
        """Run ``act`` after the answer went out: its failure can only be counted."""
        try:
            act()
        except OSError as exc:
            self.stats["errors"] += 1
            self.first_error = self.first_error or f"send after the answer: {exc!r}"
        return True

    def _state(self, ino: int, pid: int, fd: int) -> SockState:
        st = self.pending.get(ino)
        if st is None:
            st = SockState(self._route_sock(pid, fd))
        return st

    def _send_planned(self, ino: int, pid: int, fd: int, data: bytes,
                      plan: list[tuple[int, int, int | None]], dest: bytes) -> None:
        """Send ``data`` through our duplicate with tokens for the failing requests."""
        st = self._state(ino, pid, fd)
        parts, waiting, end = [], [], 0
        for p, ln, rule in plan:
            end = p + C.align4(ln)
            if rule is None:
                parts.append(data[p:end])
                continue
            self._tokens = (self._tokens + 1) & 0x7FFFFFFF
            seq = _HDR.unpack_from(data, p)[3]
            parts.append(_pending.token(seq, self._tokens))
            waiting.append((p, ln, rule, seq, TOKEN_BIT | self._tokens))
        parts.append(data[end:])
        try:
            _sends.dest_send(st.sock, b"".join(parts), dest)
            port = self.ports.get(ino) or st.sock.getsockname()[0]  # bound by now
            ext = st.sock.getsockopt(C.SOL_NETLINK, C.NETLINK_EXT_ACK)
            capped = st.sock.getsockopt(C.SOL_NETLINK, C.NETLINK_CAP_ACK)
        except OSError:
            if not st.queue:
                st.sock.close()
            raise
        self.ports[ino] = port
        room = st.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        for p, ln, rule, seq, token in waiting:
            reply = encode_error_reply(data[p:p + ln], -self._err(rule), port,
                                       msg=self.extack if ext else None, capped=bool(capped),
                                       ext_ack=bool(ext))
            if not st.push(Pending(seq, token, reply), room):
                self.stats["dropped"] += 1
        self.pending[ino] = st

    def _on_sendmmsg(self, n: _notify.Notif, name: str) -> bool:
        fd, vec, vlen = n.args[0] & 0xFFFFFFFF, n.args[1], min(n.args[2] & 0xFFFFFFFF, 1024)
        ino = self._route_inode(n.pid, fd)
        if ino is None or not vlen:
            return self._continue(n)
        datas: list[tuple[bytes, bytes] | None] = []
        plans: list[Plan | None] = []
        with _mem.Mem(n.pid) as mem:
            for i in range(vlen):
                got = _sends.read_send(mem, n.pid, "sendmsg",
                                       (fd, vec + i * _mem.MMSGHDR_SIZE))
                datas.append(got)
                plans.append(self._decide(got[0], n, name, fd) if got is not None else None)
            if all(p is None for p in plans):
                return self._continue(n)
            if not _notify.id_valid(self.listener, n.id):
                return False
            self.stats["failed"] += sum(r is not None for p in plans if p for _, _, r in p)
            if self.syscall_errno or any(d is None for d in datas):
                first = next(r for p in plans if p for _, _, r in p if r is not None)
                return _notify.reply_errno(self.listener, n.id, self._err(first))
            if not self.killable:  # answer first; send once it was delivered
                mem.poke([(n.args[1] + i * _mem.MMSGHDR_SIZE + _mem.MSG_LEN_OFF,
                           _mem.U32.pack(len(d[0]) if d else 0)) for i, d in enumerate(datas)])
                if not _notify.reply_value(self.listener, n.id, len(datas)):
                    return False
                return self._late(lambda: self._sendmmsg(None, n, ino, fd, datas, plans))
            done = self._sendmmsg(mem, n, ino, fd, datas, plans)
        if done < 0:
            return _notify.reply_errno(self.listener, n.id, -done)
        return _notify.reply_value(self.listener, n.id, done)

    def _sendmmsg(self, mem: _mem.Mem | None, n: _notify.Notif, ino: int, fd: int,
                  datas: list[tuple[bytes, bytes] | None], plans: list[Plan | None]) -> int:
        """Send every datagram ourselves; the count sent, or -errno if the first failed."""
        vec = n.args[1]
        for i, (got, plan) in enumerate(zip(datas, plans)):
            assert got is not None
            data, dest = got
            try:
                if plan is None:
                    with self._route_sock(n.pid, fd) as s:
                        _sends.dest_send(s, data, dest)
                else:
                    self._send_planned(ino, n.pid, fd, data, plan, dest)
            except OSError as exc:
                if mem is None:
                    raise
                return i if i else -(exc.errno or 5)
            if mem is not None:
                mem.poke([(vec + i * _mem.MMSGHDR_SIZE + _mem.MSG_LEN_OFF,
                          _mem.U32.pack(len(data)))])
        return len(datas)

    # ------------------------------------------------------------------ receives
    def _forget_if_idle(self, ino: int, st: SockState) -> None:
        if not st.queue and not st.overrun:
            del self.pending[ino]
            st.sock.close()

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
