"""The send side of the pure supervisor: every send on a route socket, decided and performed.

Never continued to the kernel (it would read the program's memory again, maybe rewritten
since the check: TOCTOU): the bytes checked are sent, to the program's destination, with its
credentials (:mod:`.creds`), each failing request replaced by a token (:mod:`.pending`).
What the kernel refuses before sending (bad address, too many pieces, > sndbuf - 32) gets
the kernel's errno."""

from __future__ import annotations

import json
import socket
import struct
from typing import IO, Any, Callable, Sequence

from ...codec import consts as C
from ...codec.errors import errno_name
from ...codec.text import describe_request
from ...codec.wire import encode_error_reply
from . import creds as _creds
from . import mem as _mem
from . import notify as _notify
from . import pending as _pending
from . import redo as _redo
from . import sends as _sends
from . import syscalls as _syscalls
from .pending import TOKEN_BIT, Pending, SockState
from .rules import RuleSet

_HDR = C.NLMSGHDR
_TYPE = struct.Struct("=H")
Plan = list[tuple[int, int, "int | None"]]  # (offset, length, firing rule) per message


class SendSide:
    """Send handlers; :class:`~nlcore.faults.seccomp.supervisor.Supervisor` sets the state."""

    listener: int
    rules: RuleSet
    errno: int
    extack: str | None
    syscall_errno: bool
    log: IO[str] | None
    killable: bool
    kinds: dict[int, bool]
    ports: dict[int, int]
    pending: dict[int, SockState]
    stats: dict[str, int]
    first_error: str
    _tokens: int
    _me: _creds.Creds | None
    redo: _redo.Redo

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

    def _as_program(self, pid: int, send: Callable[[], None]) -> None:
        """``send`` with the credentials of task ``pid`` (OSError as the send's)."""
        if self._me is None:
            self._me = _creds.read("/proc/thread-self")
        _creds.send_as(self._me, _creds.read(f"/proc/{pid}"), pid, send)

    # ------------------------------------------------------------------ deciding
    def _decide(self, data: bytes, n: _notify.Notif, name: str, fd: int) -> Plan | None:
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
        out: Plan = [(p, ln, self.rules.decide(data[p:p + ln])) for p, ln in spans]
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

    def _count(self, plans: Sequence[Plan | None]) -> int | None:
        """Count the failing requests; the first firing rule, or None."""
        fired = [r for p in plans if p for _, _, r in p if r is not None]
        self.stats["failed"] += len(fired)
        return fired[0] if fired else None

    # ------------------------------------------------------------------ handlers
    def _on_refuse(self, n: _notify.Notif, name: str) -> bool:
        """sendfile, splice, preadv2, pwritev2 on a route socket: EOPNOTSUPP."""
        fds = (n.args[0], n.args[2]) if name == "splice" else (n.args[0],)
        if any(self._route_inode(n.pid, fd & 0xFFFFFFFF) is not None for fd in fds):
            return _notify.reply_errno(self.listener, n.id, 95)  # EOPNOTSUPP
        return self._continue(n)

    def _on_send(self, n: _notify.Notif, name: str) -> bool:
        fd = n.args[0] & 0xFFFFFFFF
        ino = self._route_inode(n.pid, fd)
        if ino is None:
            return self._continue(n)
        with _mem.Mem(n.pid) as mem:
            s = _sends.read_send(mem, n.pid, name, n.args)
        if s.answer:  # what the kernel answers before it sends anything
            return _notify.reply_errno(self.listener, n.id, s.answer)
        fp = b"" if self.killable else _redo.fingerprint(s.data, s.dest)
        rec = self.redo.match(fp)
        if rec is not None:  # the restart of a send answered and performed
            return self.redo.answer(self.listener, n, rec, self.stats)
        return self._act_send(n, name, fd, ino, s, fp)

    def _fail_syscall(self, n: _notify.Notif, rule: int, fp: bytes) -> bool:
        """--syscall-errno: the send fails with the rule's errno (remembered)."""
        err = self._err(rule)
        if not _notify.reply_errno(self.listener, n.id, err):
            return False
        self.redo.keep(n, fp, 0, -err)
        return True

    def _act_send(self, n: _notify.Notif, name: str, fd: int, ino: int, s: _sends.Send,
                  fp: bytes) -> bool:
        plan = self._decide(s.data, n, name, fd) if s.to_kernel else None
        if not _notify.id_valid(self.listener, n.id):
            return False
        first = self._count([plan])
        if self.syscall_errno and first is not None:
            return self._fail_syscall(n, first, fp)
        def act() -> None:
            self._send_now(n.pid, ino, fd, s, plan)

        if not self.killable:  # interruptible: answer first, act only once it was delivered
            if not _notify.reply_value(self.listener, n.id, len(s.data)):
                return False
            self.redo.keep(n, fp, len(s.data))
            return self._late(act)
        try:
            act()
        except OSError as exc:
            return _notify.reply_errno(self.listener, n.id, exc.errno or 5)
        return _notify.reply_value(self.listener, n.id, len(s.data))

    def _late(self, act: Callable[[], object]) -> bool:
        """Run ``act`` after the answer went out: its failure can only be counted."""
        try:
            act()
        except OSError as exc:
            self.stats["errors"] += 1
            self.first_error = self.first_error or f"send after the answer: {exc!r}"
        return True

    def _send_now(self, pid: int, ino: int, fd: int, s: _sends.Send, plan: Plan | None) -> None:
        if plan is not None:
            return self._send_planned(ino, pid, fd, s.data, plan, s.dest)
        with self._route_sock(pid, fd) as sock:
            def send() -> None:
                _sends.dest_send(sock, s.data, s.dest)

            self._as_program(pid, send)
        return None

    def _state(self, ino: int, pid: int, fd: int) -> SockState:
        st = self.pending.get(ino)
        if st is None:
            st = SockState(self._route_sock(pid, fd))
        return st

    def _send_planned(self, ino: int, pid: int, fd: int, data: bytes, plan: Plan,
                      dest: bytes) -> None:
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
            self._as_program(pid, lambda: _sends.dest_send(st.sock, b"".join(parts), dest))
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
        sends: list[_sends.Send] = []
        with _mem.Mem(n.pid) as mem:
            while len(sends) < vlen and not (sends and sends[-1].answer):
                sends.append(_sends.read_send(mem, n.pid, "sendmsg", (fd, vec + len(sends) * 64)))
            fp = b"" if self.killable else _redo.fingerprints(
                [(s.data, s.dest, s.answer) for s in sends])
            rec = self.redo.match(fp)
            if rec is not None:  # the restart of a sendmmsg answered and performed
                if not rec.error:
                    self._poke_lens(mem, vec, sends[:rec.val])
                return self.redo.answer(self.listener, n, rec, self.stats)
            return self._act_mmsg(mem, n, name, ino, sends, fp)

    @staticmethod
    def _poke_lens(mem: _mem.Mem, vec: int, sends: Sequence[_sends.Send]) -> None:
        mem.poke([(vec + i * _mem.MMSGHDR_SIZE + _mem.MSG_LEN_OFF, _mem.U32.pack(len(s.data)))
                  for i, s in enumerate(sends)])

    def _act_mmsg(self, mem: _mem.Mem, n: _notify.Notif, name: str, ino: int,
                  sends: list[_sends.Send], fp: bytes) -> bool:
        fd, vec = n.args[0] & 0xFFFFFFFF, n.args[1]
        plans: list[Plan | None] = [self._decide(s.data, n, name, fd)
                                    if s.to_kernel and not s.answer else None for s in sends]
        if not _notify.id_valid(self.listener, n.id):
            return False
        first = self._count(plans)
        if self.syscall_errno and first is not None:
            return self._fail_syscall(n, first, fp)
        ok = next((i for i, s in enumerate(sends) if s.answer), len(sends))
        if not ok:
            return _notify.reply_errno(self.listener, n.id, sends[0].answer)
        if not self.killable:  # answer first; send once it was delivered
            self._poke_lens(mem, vec, sends[:ok])
            if not _notify.reply_value(self.listener, n.id, ok):
                return False
            self.redo.keep(n, fp, ok)
            return self._late(lambda: self._sendmmsg(None, n, ino, fd, sends[:ok], plans))
        done = self._sendmmsg(mem, n, ino, fd, sends[:ok], plans)
        if done < 0:
            return _notify.reply_errno(self.listener, n.id, -done)
        return _notify.reply_value(self.listener, n.id, done)

    def _sendmmsg(self, mem: _mem.Mem | None, n: _notify.Notif, ino: int, fd: int,
                  sends: list[_sends.Send], plans: list[Plan | None]) -> int:
        """Send every datagram ourselves; the count sent, or -errno if the first failed."""
        for i, s in enumerate(sends):
            try:
                self._send_now(n.pid, ino, fd, s, plans[i])
            except OSError as exc:
                if mem is None:
                    raise
                return i if i else -(exc.errno or 5)
            if mem is not None:
                mem.poke([(n.args[1] + i * _mem.MMSGHDR_SIZE + _mem.MSG_LEN_OFF,
                           _mem.U32.pack(len(s.data)))])
        return len(sends)
