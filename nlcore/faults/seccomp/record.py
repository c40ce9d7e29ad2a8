"""``nlcore record -o TRACE -- CMD``: CMD's whole rtnetlink conversation, written to TRACE.

Sends: the supervisor reads each datagram addressed to the kernel from the program's
memory, writes it to the trace, and lets the very syscall run (CONTINUE): the kernel
performs the request with the program's own credentials. Receives: a CONTINUEd receive's
result is invisible to a seccomp supervisor, so the supervisor performs every receive on a
NETLINK_ROUTE socket itself, through a duplicate of the program's socket: it peeks the
whole head datagram (recording it even when the program's buffer truncates it), writes what
``netlink_recvmsg()`` would into the program's buffer (MSG_PEEK, MSG_TRUNC, short buffers,
the source address), consumes it, and completes the syscall. A receive interrupted between
the consumption and the answer keeps its datagram for the next receive on that socket (a
NOOP token keeps the socket readable for poll/epoll meanwhile), so nothing is lost or
doubled. Socket options (port id, groups, NETLINK_EXT_ACK/CAP_ACK/GET_STRICT_CHK...) are
read from the socket at each of its syscalls and written as ``bind``/``sockopt`` events
when they change.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
from collections import deque

from ...codec import consts as C
from ..trace import SOCKOPTS, TraceWriter
from . import mem as _mem
from . import notify as _notify
from . import pending as _pending
from .pending import MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC
from .taskstate import deliver, route_dup
from .traced import TracedSupervisor
from .tracedrun import err, run_traced, split_cmd
from .tracesends import read_sends

_TOKEN_SEQ = 0


def socket_state(sock: socket.socket) -> tuple[int, list[int], dict[int, int]]:
    """(port id, joined groups, SOL_NETLINK options) of a netlink socket."""
    port, _groups = sock.getsockname()
    raw = sock.getsockopt(C.SOL_NETLINK, C.NETLINK_LIST_MEMBERSHIPS, 128)
    groups = [32 * w + b + 1 for w in range(len(raw) // 4)
              for b in range(32) if struct.unpack_from("=I", raw, 4 * w)[0] >> b & 1]
    opts = {}
    for opt in SOCKOPTS:
        try:
            opts[opt] = sock.getsockopt(C.SOL_NETLINK, opt)
        except OSError:
            pass  # an option this kernel does not have
    return int(port), groups, opts


class Recorder(TracedSupervisor):
    """Lets every request through and records it and every reply (see the module doc)."""

    def __init__(self, listener: int, writer: TraceWriter) -> None:
        super().__init__(listener)
        self.trace = writer
        self.stash: dict[int, deque[bytes]] = {}  # consumed, answer interrupted: next recv
        self._tokens = 0
        self.stats.update(sends=0, recvs=0)

    def _sock(self, ino: int, sock: socket.socket) -> int:
        num = self.trace.sock(ino)
        self.trace.options(num, *socket_state(sock))
        return num

    def on_send(self, n: _notify.Notif, name: str, ino: int) -> None:
        with route_dup(n.pid, n.args[0] & 0xFFFFFFFF) as sock, _mem.Mem(n.pid) as mem:
            num = self._sock(ino, sock)
            sends = read_sends(mem, n, name)
            limit = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) - 32
        if not _notify.reply_continue(self.listener, n.id):
            return  # interrupted before it ran: the restarted send is recorded, this is not
        self.stats["continued"] += 1
        for port, data in sends:  # what the kernel refuses (EMSGSIZE) was not a request
            if port == 0 and data is not None and len(data) <= limit:
                self.trace.send(num, data)
                self.stats["sends"] += 1

    def _head(self, ino: int, sock: socket.socket) -> tuple[bytes | None, bool]:
        """The next datagram for the program (stash first, our tokens skipped) and whether
        it is the kernel's head datagram; OSError (ENOBUFS...) from the socket."""
        stash = self.stash.get(ino)
        if stash:
            return stash[0], False
        while True:
            try:
                size = sock.recv_into(bytearray(1), 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT)
            except BlockingIOError:
                return None, False
            data = sock.recv(max(size, 1), MSG_PEEK | MSG_DONTWAIT)
            tok = _pending.token_of(data)
            if tok is None or tok[0] != _TOKEN_SEQ:
                return data, True
            sock.recv(64, MSG_DONTWAIT)  # a readiness token of ours: not the program's

    def try_recv(self, n: _notify.Notif, name: str, flags: int, ino: int,
                 sock: socket.socket) -> bool:
        num = self._sock(ino, sock)
        try:
            data, kernel = self._head(ino, sock)
        except OSError as exc:  # the socket's error (ENOBUFS): our peek took it, hand it on
            if not _notify.id_valid(self.listener, n.id):
                return True
            self.trace.recv(num, err=exc.errno or 5)
            _notify.reply_errno(self.listener, n.id, exc.errno or 5)
            return True
        if data is None:
            return False
        if not _notify.id_valid(self.listener, n.id):
            return True  # interrupted meanwhile: nothing consumed, nothing to answer
        with _mem.Mem(n.pid) as mem:
            ret = deliver(mem, name, n.args, flags, data)
        peek = bool(flags & MSG_PEEK) and name != "read"
        if not peek:
            if kernel:
                sock.recv_into(bytearray(len(data) or 1), len(data) or 1, MSG_DONTWAIT)
                self.trace.recv(num, data)
                self.stats["recvs"] += 1
            else:
                self.stash[ino].popleft()
        if not _notify.reply_value(self.listener, n.id, ret) and not peek:
            self.stash.setdefault(ino, deque()).appendleft(data)  # interrupted: keep it
            self._tokens = (self._tokens + 1) & 0x7FFFFFFF
            sock.send(_pending.token(_TOKEN_SEQ, self._tokens))
        return True


def record(cmd: list[str], out: str, **popen_kw: object) -> int:
    """Run ``cmd``, record to ``out``; returns its exit status."""
    writer = TraceWriter(out, source="nlcore record", cmd=list(cmd))
    try:
        code, sup = run_traced(cmd, lambda lst: Recorder(lst, writer), **popen_kw)  # type: ignore[arg-type]
        writer.exit(code)
    finally:
        writer.close()
    stats, first = sup.report()
    if stats.get("errors"):
        err(f"nlcore record: {stats['errors']} syscall(s) failed in the supervisor; "
            f"first: {first}")
    return code


def main(argv: list[str] | None = None) -> int:
    """``nlcore record -o TRACE -- CMD [ARGS...]``; returns CMD's exit status (125: ours)."""
    opts, cmd = split_cmd(list(sys.argv[1:] if argv is None else argv))
    p = argparse.ArgumentParser(prog="nlcore record", description=(
        "Run CMD; let every netlink request through and write every request and reply "
        "to TRACE (JSON lines, docs/record-replay.md)."))
    p.add_argument("-o", "--output", required=True, metavar="TRACE")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    args = p.parse_args(opts)
    cmd = cmd or args.cmd
    if not cmd:
        p.error("no command given (use: nlcore record -o TRACE -- CMD [ARGS...])")
    try:
        return record(cmd, args.output)
    except OSError as exc:
        err(f"nlcore record: {exc.strerror or exc}")
        return 125


if __name__ == "__main__":
    sys.exit(main())
