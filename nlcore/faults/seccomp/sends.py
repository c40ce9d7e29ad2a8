"""What a notified send asks the kernel to do, read from the target, and our own send of it.

Every way into a route socket ends here: ``write``, ``writev``, ``sendto``, ``sendmsg`` and
each datagram of ``sendmmsg``. The destination the program named is kept and used for our
own send (port 0 is the kernel whatever the multicast groups: ``netlink_sendmsg`` unicasts
to it after any broadcast), and no named destination stays unnamed, so the kernel checks
the socket opener's capabilities exactly as for the program's own send.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from typing import Sequence

from ...codec import consts as C
from . import mem as _mem
from . import syscalls as _syscalls

#: SOCK_MIN_SNDBUF - 32: every socket accepts a send this long
SMALL_SEND = 4576


def send_limit(pid: int, fd: int, total: int) -> int:
    """The longest send the kernel accepts on the target's socket (sk_sndbuf - 32)."""
    if total <= SMALL_SEND:
        return total
    with socket.socket(fileno=_syscalls.task_getfd(pid, fd)) as s:
        return int(s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)) - 32


@dataclass(frozen=True)
class Send:
    """A send as the kernel would take it: the ``data`` and the ``dest`` named (b"": none),
    whether it goes ``to_kernel`` (port 0), or the errno the kernel would ``answer``
    before sending anything (0: none)."""

    data: bytes = b""
    dest: bytes = b""
    to_kernel: bool = True
    answer: int = 0


def _dest(mem: _mem.Mem, name: int, namelen: int) -> bytes:
    """The sockaddr_nl named; OSError(EINVAL) when the kernel refuses it unread."""
    if not name or not namelen:
        return b""
    if namelen < _mem.SOCKADDR_NL.size or namelen > 128:
        raise OSError(errno.EINVAL, "bad destination length")
    raw = mem.read(name, _mem.SOCKADDR_NL.size)
    if _mem.SOCKADDR_NL.unpack(raw)[0] != socket.AF_NETLINK:
        raise OSError(errno.EINVAL, "destination is not AF_NETLINK")
    return raw


def read_send(mem: _mem.Mem, pid: int, name: str, a: Sequence[int]) -> Send:
    """Send syscall ``name`` (args ``a``) as the kernel would take it; OSError when the
    target cannot be read."""
    try:
        if name == "sendmsg":
            hdr = _mem.read_msghdr(mem, a[1])
            dest, pieces = _dest(mem, hdr.name, hdr.namelen), hdr.iov
        elif name == "writev":
            dest, pieces = b"", _mem.read_iov(mem, a[1], a[2])
        elif name == "sendto":
            dest, pieces = _dest(mem, a[4], a[5] & 0xFFFFFFFF), ((a[1], a[2]),)
        else:
            dest, pieces = b"", ((a[1], a[2]),)
    except OSError as exc:
        if exc.errno == errno.EMSGSIZE:  # too many pieces: writev says EINVAL
            return Send(answer=errno.EINVAL if name == "writev" else errno.EMSGSIZE)
        if exc.errno == errno.EINVAL:
            return Send(answer=errno.EINVAL)
        raise
    limit = send_limit(pid, a[0] & 0xFFFFFFFF, sum(n for _, n in pieces))
    data = _mem.read_pieces(mem, pieces, limit)
    if data is None:
        return Send(answer=errno.EMSGSIZE)
    return Send(data, dest, not dest or _mem.SOCKADDR_NL.unpack(dest)[2] == 0)


def dest_send(sock: socket.socket, data: bytes, dest: bytes) -> None:
    """Send ``data`` through our duplicate to ``dest`` (b"": unnamed, as the program did)."""
    if not dest:
        sock.send(data)
        return
    family, _pad, port, groups = _mem.SOCKADDR_NL.unpack(dest)
    if family != socket.AF_NETLINK:
        raise OSError(errno.EINVAL, "destination is not AF_NETLINK")
    sock.sendto(data, (port, groups))


def route_socket(pid: int, fd: int) -> socket.socket:
    """Our duplicate of the target's route socket (family and protocol known: no probing)."""
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, C.NETLINK_ROUTE,
                         fileno=_syscalls.task_getfd(pid, fd))
