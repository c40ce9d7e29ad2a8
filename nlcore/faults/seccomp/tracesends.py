"""The datagrams of a notified send syscall, read from the target's memory.

Unlike :func:`nlcore.faults.seccomp.mem.to_kernel`, the destination is "the kernel" when
its port id is 0, whatever the groups: ``netlink_sendmsg()`` delivers to port 0 (the
kernel) and, with groups set, broadcasts as well.
"""

from __future__ import annotations

from . import mem as _mem
from . import notify as _notify

MAX_READ = 64 << 20  # larger sends are not read (the kernel's own limit is the sndbuf)
Send = tuple[int, "bytes | None"]  # (destination port id, the bytes; None: too large)


def dest_port(mem: _mem.Mem, name: int, namelen: int) -> int:
    """The destination port id of a send (0: the kernel, also for a NULL address)."""
    if not name or namelen < _mem.SOCKADDR_NL.size:
        return 0
    return int(_mem.SOCKADDR_NL.unpack(mem.read(name, _mem.SOCKADDR_NL.size))[2])


def read_pieces(mem: _mem.Mem, pieces: tuple[tuple[int, int], ...]) -> bytes | None:
    """The bytes of an iovec (None beyond MAX_READ)."""
    if sum(n for _, n in pieces) > MAX_READ:
        return None
    return b"".join([mem.read(a, n) for a, n in pieces if n])


def read_sends(mem: _mem.Mem, n: _notify.Notif, name: str) -> list[Send]:
    """One ``(port, bytes)`` per datagram of send syscall ``name`` (sendmmsg: each)."""
    a = n.args
    if name == "sendmsg":
        hdr = _mem.read_msghdr(mem, a[1])
        return [(dest_port(mem, hdr.name, hdr.namelen), read_pieces(mem, hdr.iov))]
    if name == "sendmmsg":
        out = []
        for i in range(min(a[2] & 0xFFFFFFFF, _mem.UIO_MAXIOV)):
            hdr = _mem.read_msghdr(mem, a[1] + i * _mem.MMSGHDR_SIZE)
            out.append((dest_port(mem, hdr.name, hdr.namelen), read_pieces(mem, hdr.iov)))
        return out
    if name == "writev":
        cnt = a[2] & 0xFFFFFFFF
        if cnt > _mem.UIO_MAXIOV:
            raise OSError(22, f"iovcnt {cnt} > UIO_MAXIOV")
        raw = mem.read(a[1], _mem.IOVEC.size * cnt) if cnt else b""
        pieces = tuple(_mem.IOVEC.unpack_from(raw, i * _mem.IOVEC.size) for i in range(cnt))
        return [(0, read_pieces(mem, pieces))]
    port = dest_port(mem, a[4], a[5] & 0xFFFFFFFF) if name == "sendto" else 0
    return [(port, read_pieces(mem, ((a[1], a[2]),)))]
