"""The target task's state as a receive needs it: flags, O_NONBLOCK, SO_RCVTIMEO, pending
signals, and delivering a datagram into its buffers (readv included)."""

from __future__ import annotations

import errno as _errno
import socket
import struct
from typing import Sequence

from . import mem as _mem
from . import pending as _pending
from . import syscalls as _syscalls

O_NONBLOCK = 0o4000
_TIMEVAL = struct.Struct("=qq")


def recv_flags(name: str, a: Sequence[int]) -> int:
    """The flags argument of receive syscall ``name``."""
    return {"recvfrom": a[3], "recvmsg": a[2], "recvmmsg": a[3]}.get(name, 0) & 0xFFFFFFFF


def nonblocking(pid: int, fd: int) -> bool:
    """Whether fd ``fd`` of task ``pid`` has O_NONBLOCK (from /proc/PID/fdinfo)."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("flags:"):
                    return bool(int(line.split()[1], 8) & O_NONBLOCK)
    except (OSError, ValueError):
        pass
    return False


def rcvtimeo(sock: socket.socket) -> float | None:
    """SO_RCVTIMEO in seconds (None: block forever)."""
    sec, usec = _TIMEVAL.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                                                _TIMEVAL.size))
    return sec + usec / 1e6 if sec or usec else None


def deliver(mem: _mem.Mem, name: str, a: Sequence[int], flags: int, data: bytes) -> int:
    """``pending.deliver``, and readv (the datagram scattered over its iovec)."""
    if name != "readv":
        return _pending.deliver(mem, name, a, flags, data)
    cnt = a[2] & 0xFFFFFFFF
    if cnt > _mem.UIO_MAXIOV:
        raise OSError(_errno.EINVAL, f"iovcnt {cnt} > UIO_MAXIOV")
    raw = mem.read(a[1], _mem.IOVEC.size * cnt) if cnt else b""
    pieces = tuple(_mem.IOVEC.unpack_from(raw, i * _mem.IOVEC.size) for i in range(cnt))
    writes, copied = _mem.scatter(data, pieces)
    mem.poke(writes)
    return copied


def signal_pending(tid: int) -> bool:
    """Whether task ``tid`` has a pending signal it does not block: thread-directed, or
    process-directed in a single-threaded process (then it is the thread that takes it)."""
    try:
        with open(f"/proc/{tid}/status") as f:
            st = dict(line.split(":", 1) for line in f if ":" in line)
        own, shared, blocked = (int(st[k], 16) for k in ("SigPnd", "ShdPnd", "SigBlk"))
        threads = int(st["Threads"])
    except (OSError, KeyError, ValueError):
        return False
    return bool((own | (shared if threads == 1 else 0)) & ~blocked)


def route_dup(pid: int, fd: int) -> socket.socket:
    """A duplicate of the target's fd ``fd`` as a socket object (caller closes it)."""
    return socket.socket(fileno=_syscalls.task_getfd(pid, fd))
