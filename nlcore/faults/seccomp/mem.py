"""The target's syscall arguments in its own memory: send buffers in, receive results out.

LP64 layouts (x86_64, aarch64): ``struct msghdr`` is 56 bytes, ``struct mmsghdr`` 64 (the
msghdr, then ``msg_len``), ``struct iovec`` 16, ``struct sockaddr_nl`` 12.
"""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass

from . import syscalls as _syscalls

MSGHDR = struct.Struct("=QI4xQQQQi4x")  # name, namelen, iov, iovlen, control, controllen, flags
IOVEC = struct.Struct("=QQ")
SOCKADDR_NL = struct.Struct("=HHII")  # family, pad, pid, groups
U32 = struct.Struct("=I")
U64 = struct.Struct("=Q")
MMSGHDR_SIZE = 64
MSG_LEN_OFF = 56  # msg_len inside struct mmsghdr
NAMELEN_OFF, CONTROLLEN_OFF, FLAGS_OFF = 8, 40, 48  # inside struct msghdr
UIO_MAXIOV = 1024
KERNEL_ADDR = SOCKADDR_NL.pack(16, 0, 0, 0)  # AF_NETLINK, port 0 (the kernel), no groups


def fd_inode(pid: int, fd: int) -> int | None:
    """The socket inode behind fd ``fd`` of task ``pid`` (None: no such fd, or no socket)."""
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None
    return int(link[8:-1]) if link.startswith("socket:[") else None


class Mem:
    """One target task's memory for the handling of one notification: ``/proc/PID/mem``
    (pread/pwrite, the cheapest from Python), else process_vm_readv/writev. Opened anew
    for every notification, so an exec or a recycled pid can never show us stale memory."""

    __slots__ = ("fd", "pid")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self.fd = os.open(f"/proc/{pid}/mem", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            self.fd = -1

    def __enter__(self) -> Mem:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read(self, addr: int, n: int) -> bytes:
        """``n`` bytes at ``addr``; OSError(EFAULT) when they cannot all be read."""
        if n <= 0:
            return b""
        if self.fd < 0:
            return _syscalls.vm_read(self.pid, addr, n)
        try:
            data = os.pread(self.fd, n, addr)
        except OverflowError:
            data = b""
        if len(data) != n:
            raise OSError(errno.EFAULT, f"cannot read {n} bytes at {addr:#x} in task {self.pid}")
        return data

    def poke(self, writes: list[tuple[int, bytes]]) -> None:
        """Write each ``(addr, bytes)``; OSError(EFAULT) on a bad address."""
        writes = [(a, b) for a, b in writes if b]
        if self.fd < 0:
            if writes:
                _syscalls.vm_writev(self.pid, b"".join(b for _, b in writes),
                                  [(a, len(b)) for a, b in writes])
            return
        for addr, data in writes:
            try:
                done = os.pwrite(self.fd, data, addr)
            except OverflowError:
                done = -1
            if done != len(data):
                raise OSError(errno.EFAULT, f"cannot write {len(data)} bytes at {addr:#x}")


@dataclass(frozen=True)
class Msghdr:
    """A ``struct msghdr`` read from the target: its address and its pieces."""

    addr: int
    name: int
    namelen: int
    iov: tuple[tuple[int, int], ...]
    controllen: int


def read_msghdr(mem: Mem, addr: int) -> Msghdr:
    """``struct msghdr`` at ``addr`` and its iovec array; OSError on a bad pointer."""
    name, namelen, iov, iovlen, _ctl, ctllen, _fl = MSGHDR.unpack(mem.read(addr, 56))
    if iovlen > UIO_MAXIOV:
        raise OSError(errno.EMSGSIZE, f"msg_iovlen {iovlen} > UIO_MAXIOV")
    raw = mem.read(iov, IOVEC.size * iovlen) if iovlen else b""
    pieces = tuple(IOVEC.unpack_from(raw, i * IOVEC.size) for i in range(iovlen))
    return Msghdr(addr, name, namelen, pieces, ctllen)


def read_iov(mem: Mem, addr: int, count: int) -> tuple[tuple[int, int], ...]:
    """The iovec array of readv/writev; OSError(EMSGSIZE) beyond UIO_MAXIOV."""
    if count > UIO_MAXIOV:
        raise OSError(errno.EMSGSIZE, f"iovcnt {count} > UIO_MAXIOV")
    raw = mem.read(addr, IOVEC.size * count) if count else b""
    return tuple(IOVEC.unpack_from(raw, i * IOVEC.size) for i in range(count))


def destination(mem: Mem, name: int, namelen: int) -> bytes | None:
    """The sockaddr_nl a send names (b"": none), or None when it is not the kernel.
    Port 0 is the kernel whatever the groups: netlink_sendmsg unicasts to it after any
    broadcast. A short address is refused by the kernel (EINVAL) unread: None."""
    if not name or not namelen:
        return b""
    if namelen < SOCKADDR_NL.size:
        return None
    raw = mem.read(name, SOCKADDR_NL.size)
    return raw if SOCKADDR_NL.unpack(raw)[2] == 0 else None


def read_pieces(mem: Mem, pieces: tuple[tuple[int, int], ...], limit: int) -> bytes | None:
    """The bytes of a send (None if larger than ``limit``, the socket's sndbuf - 32, which
    netlink_sendmsg refuses with EMSGSIZE before reading anything)."""
    if sum(n for _, n in pieces) > limit:
        return None
    if len(pieces) == 1:
        return mem.read(*pieces[0])
    return b"".join([mem.read(a, n) for a, n in pieces if n])


def scatter(data: bytes, pieces: tuple[tuple[int, int], ...]) -> tuple[list[tuple[int, bytes]],
                                                                       int]:
    """Split ``data`` over iovec ``pieces``: the writes, and how many bytes fit."""
    out, pos = [], 0
    for addr, n in pieces:
        if pos >= len(data):
            break
        chunk = data[pos:pos + n]
        out.append((addr, chunk))
        pos += len(chunk)
    return out, pos


def recvmsg_writes(hdr: Msghdr, data: bytes, truncated_flag: int,
                   src: bytes = KERNEL_ADDR) -> tuple[list[tuple[int, bytes]], int]:
    """What a netlink recvmsg of ``data`` from the kernel writes into ``hdr``: payload,
    source address, msg_namelen, msg_controllen 0, msg_flags. Returns (writes, copied)."""
    writes, copied = scatter(data, hdr.iov)
    if hdr.name and hdr.namelen > 0:
        writes.append((hdr.name, src[:min(hdr.namelen, SOCKADDR_NL.size)]))
    if hdr.name:
        writes.append((hdr.addr + NAMELEN_OFF, U32.pack(SOCKADDR_NL.size)))
    writes.append((hdr.addr + CONTROLLEN_OFF, U64.pack(0)))
    writes.append((hdr.addr + FLAGS_OFF, U32.pack(truncated_flag if copied < len(data) else 0)))
    return writes, copied
