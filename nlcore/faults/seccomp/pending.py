"""Synthetic replies waiting in line with the kernel's real ones, and their delivery.

Each synthetic NLMSGERR has a *token* in the socket's real receive queue: the kernel's ack
of a 16-byte NLMSG_NOOP (NLM_F_REQUEST|NLM_F_ACK) that the supervisor sent in the failing
request's place, with the request's seq and a port id from the token space (top bit set)
in its header. The kernel echoes that header, so the ack names its synthetic reply.
"""

from __future__ import annotations

import socket
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ...codec import consts as C
from . import mem as _mem

MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT, MSG_ERRQUEUE = 0x2, 0x20, 0x40, 0x2000
TOKEN_BIT = 0x80000000
_HDR = C.NLMSGHDR
_ERR = struct.Struct("=i")


@dataclass
class Pending:
    """A synthetic reply waiting for the receive that meets its token."""

    seq: int
    token: int
    reply: bytes


@dataclass
class SockState:
    """A target socket with synthetic replies pending, and our duplicate of it."""

    sock: socket.socket
    queue: deque[Pending] = field(default_factory=deque)
    qbytes: int = 0  # bytes of the replies queued, at most the socket's rcvbuf
    overrun: bool = False  # a reply was dropped: the next receive fails ENOBUFS

    def push(self, p: Pending, room: int) -> bool:
        """Queue ``p`` unless that would hold more than ``room`` bytes (the socket's
        rcvbuf, as the kernel bounds its queue): then drop it and mark the overrun."""
        if self.qbytes + len(p.reply) > room:
            self.overrun = True
            return False
        self.queue.append(p)
        self.qbytes += len(p.reply)
        return True

    def pop(self) -> Pending:
        """The first pending reply, removed."""
        p = self.queue.popleft()
        self.qbytes -= len(p.reply)
        return p


def token(seq: int, number: int) -> bytes:
    """The NOOP request standing in for a failing request with ``seq``."""
    return _HDR.pack(16, C.NLMSG_NOOP, C.NLM_F_REQUEST | C.NLM_F_ACK, seq,
                     TOKEN_BIT | number & 0x7FFFFFFF)


def token_of(dgram: bytes) -> tuple[int, int] | None:
    """``(seq, token port id)`` if ``dgram`` is the kernel's ack of one of our tokens."""
    if len(dgram) != 36 or _HDR.unpack_from(dgram, 0)[1] != C.NLMSG_ERROR:
        return None
    ln, tp, _fl, seq, pid = _HDR.unpack_from(dgram, 20)
    if _ERR.unpack_from(dgram, 16)[0] or ln != 16 or tp != C.NLMSG_NOOP or not pid & TOKEN_BIT:
        return None
    return seq, pid


def head(st: SockState, log: Callable[[dict[str, Any]], None]) -> Pending | None:
    """The pending reply whose token is the next datagram of the real queue, or None (a
    real datagram comes first, or nothing is queued). OSError (ENOBUFS) from the peek."""
    while st.queue:
        try:
            tok = token_of(st.sock.recv(64, MSG_PEEK | MSG_DONTWAIT))
        except BlockingIOError:
            return None
        if tok is None:
            return None
        for i, p in enumerate(st.queue):
            if (p.seq, p.token) == tok:
                for _ in range(i):  # tokens overtaken (dropped by an overrun): replies lost
                    log({"event": "lost", "seq": st.pop().seq})
                return st.queue[0]
        st.sock.recv(64, MSG_DONTWAIT)  # a stale token of ours: drop it, look again
    return None


def deliver(mem: _mem.Mem, name: str, a: Sequence[int], flags: int, data: bytes,
            src: bytes = _mem.KERNEL_ADDR) -> int:
    """Write ``data`` as the result of receive syscall ``name`` (args ``a``) into the target,
    as netlink_recvmsg() would; returns the syscall's return value."""
    if name == "readv":
        writes, copied = _mem.scatter(data, _mem.read_iov(mem, a[1], a[2]))
    elif name in ("recvfrom", "read"):
        room = a[2]
        writes = [(a[1], data[:room])]
        if name == "recvfrom" and a[4] and a[5]:
            alen = _mem.U32.unpack(mem.read(a[5], 4))[0]
            writes += [(a[4], src[:alen]),
                       (a[5], _mem.U32.pack(_mem.SOCKADDR_NL.size))]
        copied = min(room, len(data))
    else:
        hdr = _mem.read_msghdr(mem, a[1])
        writes, copied = _mem.recvmsg_writes(hdr, data, MSG_TRUNC, src)
    ret = len(data) if flags & MSG_TRUNC and name not in ("read", "readv") else copied
    if name == "recvmmsg":
        writes.append((a[1] + _mem.MSG_LEN_OFF, _mem.U32.pack(ret)))
    mem.poke(writes)
    return 1 if name == "recvmmsg" else ret
