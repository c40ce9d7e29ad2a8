"""Pure-Python twin of the native API (csrc/nlcore.h): same signatures, same results.

This is the reference: every native function has one here, and the tests assert identical
bytes and identical exceptions over both.
"""

from __future__ import annotations

import errno as _errno
import os as _os
import struct
from array import array
from typing import TYPE_CHECKING, Any, Callable, Union

from .consts import (
    AF_INET,
    AF_INET6,
    IFA_ADDRESS,
    IFA_BROADCAST,
    IFA_CACHEINFO,
    IFA_FLAGS,
    IFA_LABEL,
    IFA_LOCAL,
    IFA_PROTO,
    IFA_RT_PRIORITY,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_HDRLEN,
    RTM_DELADDR,
    RTM_NEWADDR,
)
from .errors import ParseError, SpecError

NAME = "pure"

# struct nlc_addr
ADDR_REC = struct.Struct("=HHBBBBIIIIII16s16s16s16s")
A_LOCAL = 0x001
A_PEER = 0x002
A_ADDRESS_FIRST = 0x004
A_BROADCAST = 0x008
A_BRD_LATE = 0x010
A_LABEL = 0x020
A_PRIORITY = 0x040
A_PROTO = 0x080
A_CACHEINFO = 0x100
A_ALL = 0x1FF

if TYPE_CHECKING:
    import socket

_MSG_DONTWAIT = 0x40  # linux: MSG_DONTWAIT
_MSG_TRUNC = 0x20  # MSG_TRUNC

Buffer = Union[bytes, bytearray, memoryview]
WBuffer = Union[bytearray, memoryview]

_HDR_IFA = struct.Struct("=IHHIIBBBBI")  # nlmsghdr + ifaddrmsg
_U32 = struct.Struct("=HHI")
_U8 = struct.Struct("=HHB3x")
_CI = struct.Struct("=HHIIII")
_HDR = struct.Struct("=IHHII")
_I32 = struct.Struct("=i")


def _attr(tp: int, payload: bytes) -> bytes:
    n = 4 + len(payload)
    return struct.pack("=HH", n, tp) + payload + b"\0" * ((-n) & 3)


def _one(rec: tuple[Any, ...], seq: int, pid: int) -> bytes | None:
    """Encode one unpacked record; None if it is invalid."""
    (tp, nlflags, family, plen, scope, proto, index, ifa_flags, present, prio, valid, pref,
     local, address, brd, label) = rec
    if tp not in (RTM_NEWADDR, RTM_DELADDR) or present & ~A_ALL:
        return None
    alen = 4 if family == AF_INET else 16 if family == AF_INET6 else 0
    if not alen or plen > alen * 8 or not present & (A_LOCAL | A_PEER):
        return None
    local_b, addr_b, brd_b = local[:alen], address[:alen], brd[:alen]
    parts: list[bytes] = []
    if present & A_ADDRESS_FIRST:
        parts.append(_attr(IFA_ADDRESS, addr_b if present & A_PEER else local_b))
        if present & A_LOCAL:
            parts.append(_attr(IFA_LOCAL, local_b))
    else:
        if present & A_LOCAL:
            parts.append(_attr(IFA_LOCAL, local_b))
        if present & A_PEER:
            parts.append(_attr(IFA_ADDRESS, addr_b))
    if present & A_BROADCAST and not present & A_BRD_LATE:
        parts.append(_attr(IFA_BROADCAST, brd_b))
    if present & A_LABEL:
        nul = label.find(b"\0")
        if nul < 0:
            return None
        parts.append(_attr(IFA_LABEL, label[:nul + 1]))
    if present & A_PRIORITY:
        parts.append(_U32.pack(8, IFA_RT_PRIORITY, prio))
    if present & A_PROTO:
        parts.append(_U8.pack(5, IFA_PROTO, proto))
    hflags = ifa_flags
    if ifa_flags > 0xFF:
        parts.append(_U32.pack(8, IFA_FLAGS, ifa_flags))
        hflags = 0
    if present & A_LOCAL and not present & (A_PEER | A_ADDRESS_FIRST):
        parts.append(_attr(IFA_ADDRESS, local_b))
    if present & A_BROADCAST and present & A_BRD_LATE:
        parts.append(_attr(IFA_BROADCAST, brd_b))
    if present & A_CACHEINFO:
        parts.append(_CI.pack(20, IFA_CACHEINFO, pref, valid, 0, 0))
    body = b"".join(parts)
    return _HDR_IFA.pack(24 + len(body), tp, nlflags, seq & 0xFFFFFFFF, pid, family, plen,
                         hflags, scope, index) + body


def addr_emit(buf: WBuffer, recs: Buffer, seq: int, pid: int) -> tuple[int, int]:
    """Emit the ``struct nlc_addr`` records in ``recs`` into ``buf`` (see csrc/nlcore.h).

    Returns ``(bytes_written, messages_emitted)``; stops before the first message that does
    not fit. Raises :class:`SpecError` naming the index of an invalid record.
    """
    view = memoryview(recs).cast("B")
    if len(view) % ADDR_REC.size:
        raise SpecError(f"record buffer of {len(view)} bytes is not a multiple of "
                        f"{ADDR_REC.size}")
    cap = len(buf)
    pos = 0
    count = 0
    for rec in ADDR_REC.iter_unpack(view):
        msg = _one(rec, seq + count, pid & 0xFFFFFFFF)
        if msg is None:
            raise SpecError(f"invalid address record {count}")
        end = pos + len(msg)
        if end > cap:
            break
        buf[pos:end] = msg
        pos = end
        count += 1
    return pos, count


def acks_scan(buf: Buffer, length: int, seq: array[int], err: array[int], off: array[int],
              tf: array[int], ext: array[int] | None = None) -> int:
    """Walk ``buf[:length]`` and fill the arrays (see nlc_acks_scan in csrc/nlcore.h).

    Stores at most ``len(seq)`` messages and returns how many; with ``ext`` (3 entries per
    message) also the extack message span and offset of each. Raises :class:`ParseError`
    with the offset of the first malformed message.
    """
    cap = min(len(seq), len(err), len(off), len(tf))
    if ext is not None:
        cap = min(cap, len(ext) // 3)
    length = min(length, memoryview(buf).nbytes)
    unpack_hdr = _HDR.unpack_from
    pos = 0
    i = 0
    while i < cap:
        rem = length - pos
        if rem <= 0:
            break
        if rem < NLMSG_HDRLEN:
            raise ParseError(f"{rem} trailing bytes, shorter than a netlink header", pos)
        n, tp, flags, s, _pid = unpack_hdr(buf, pos)
        if n < NLMSG_HDRLEN or n > rem:
            raise ParseError(f"nlmsg_len {n} with {rem} bytes left", pos)
        e = 0
        if tp == NLMSG_ERROR:
            if n < NLMSG_HDRLEN + 20:
                raise ParseError(f"NLMSG_ERROR of {n} bytes, shorter than 36", pos)
            e = _I32.unpack_from(buf, pos + NLMSG_HDRLEN)[0]
        elif tp == NLMSG_DONE and n >= NLMSG_HDRLEN + 4:
            e = _I32.unpack_from(buf, pos + NLMSG_HDRLEN)[0]
        seq[i] = s
        err[i] = e
        off[i] = pos
        tf[i] = tp | flags << 16
        if ext is not None:
            ext[3 * i:3 * i + 3] = array("I", _extack_span(buf, pos, n, tp, flags))
        i += 1
        pos += (n + 3) & ~3
    return i


def _extack_span(buf: Buffer, pos: int, n: int, tp: int, flags: int) -> tuple[int, int, int]:
    """(message text offset, its length, NLMSGERR_ATTR_OFFS) of one ack, as the C does."""
    msg_off = msg_len = 0
    offs = 0xFFFFFFFF
    a = 0
    if flags & 0x200:
        if tp == NLMSG_DONE:
            a = 20 if n >= 20 else 0
        elif tp == NLMSG_ERROR:
            echo = _HDR.unpack_from(buf, pos + 20)[0]
            if flags & 0x100:
                a = 36
            elif 16 <= echo <= n - 20:
                a = 20 + ((echo + 3) & ~3)
    while a and n - a >= 4:
        alen, atype = struct.unpack_from("=HH", buf, pos + a)
        if alen < 4 or alen > n - a:
            break
        atype &= 0x3FFF
        p0 = pos + a + 4
        if atype == 1 and not msg_off:
            chunk = bytes(memoryview(buf)[p0:p0 + alen - 4])
            nul = chunk.find(b"\0")
            msg_off, msg_len = p0, nul if nul >= 0 else len(chunk)
        elif atype == 2 and alen == 8 and offs == 0xFFFFFFFF:
            offs = struct.unpack_from("=I", buf, p0)[0]
        a += (alen + 3) & ~3
    return msg_off, msg_len, offs


def sock_recv(sock: socket.socket, buf: WBuffer, room: int, max_dgrams: int
              ) -> tuple[int, int, int, int]:
    """Drain queued datagrams into ``buf`` back to back (see nlc_sock_recv).

    Returns ``(nbytes, foreign, truncated, overrun)``; raises BlockingIOError when nothing
    was queued, OSError for another failure of the first receive.
    """
    pos = got = foreign = truncated = overrun = overruns = 0
    view = memoryview(buf)
    cap = len(view)
    if cap < NLMSG_HDRLEN or max_dgrams < 1:  # never a 0 without a receive
        raise OSError(_errno.EINVAL, _os.strerror(_errno.EINVAL))
    room = min((max(room, NLMSG_HDRLEN) + 3) & ~3, cap & ~3)  # the first receive happens
    while got < max_dgrams and cap - pos >= room:
        try:
            n, _anc, flags, addr = sock.recvmsg_into([view[pos:]], 0, _MSG_DONTWAIT)
        except InterruptedError:
            continue
        except OSError as exc:
            if exc.errno == _errno.ENOBUFS and overruns < max_dgrams:
                overruns += 1
                overrun = 1
                continue
            if got == 0 and not overrun:
                raise
            break
        got += 1
        if (addr[0] if isinstance(addr, tuple) else 0) != 0:  # no name: as pid 0, like C
            foreign += 1
        elif flags & _MSG_TRUNC:
            truncated += 1
        else:
            pos = min(cap, pos + ((n + 3) & ~3))
    return pos, foreign, truncated, overrun


def acks_match(buf: Buffer, length: int, first_seq: int, status: array[int], count: int,
               pending: int, detail: array[int]) -> tuple[int, int, int, int, int]:
    """Record the acks of ``buf[:length]`` in ``status`` (see nlc_acks_match).

    Returns ``(stop, answered, outside, duplicates, ndetail)``; ``detail[:ndetail]`` holds
    the offsets of failures and of acks with TLVs. Raises ParseError for malformed input, with
    ``partial`` = that tuple for what was matched before the malformed message.
    """
    length = max(0, min(length, memoryview(buf).nbytes))
    count = min(count, len(status))
    pos = answered = outside = dups = nd = 0
    cap = len(detail)
    unpack = _HDR.unpack_from
    while pos < length:
        rem = length - pos
        if rem < NLMSG_HDRLEN:
            raise _partial(ParseError(f"{rem} trailing bytes, shorter than a netlink header",
                                      pos), pos, answered, outside, dups, nd)
        n, tp, flags, seq, _pid = unpack(buf, pos)
        if n < NLMSG_HDRLEN or n > rem:
            raise _partial(ParseError(f"nlmsg_len {n} with {rem} bytes left", pos), pos,
                           answered, outside, dups, nd)
        idx = (seq - first_seq) & 0xFFFFFFFF
        if tp != NLMSG_ERROR or idx >= count:
            outside += 1
        elif n < NLMSG_HDRLEN + 20:
            raise _partial(ParseError(f"NLMSG_ERROR of {n} bytes, shorter than 36", pos), pos,
                           answered, outside, dups, nd)
        elif _I32.unpack_from(buf, pos + NLMSG_HDRLEN)[0] > 0:
            # kernels send 0 or -errno; a positive value would read as an engine status
            raise _partial(ParseError("NLMSG_ERROR with a positive error", pos), pos,
                           answered, outside, dups, nd)
        elif status[idx] != pending:
            dups += 1
        else:
            e = _I32.unpack_from(buf, pos + NLMSG_HDRLEN)[0]
            if e or flags & 0x200:
                if nd >= cap:
                    return pos, answered, outside, dups, nd
                detail[nd] = pos
                nd += 1
            status[idx] = e
            answered += 1
        pos += (n + 3) & ~3
    return min(pos, length), answered, outside, dups, nd



def _partial(exc: ParseError, *counts: int) -> ParseError:
    exc.partial = (counts[0], counts[1], counts[2], counts[3], counts[4])
    return exc

CALL_RX = 256  # NLC_CALL_RX


def addr_call(sock: socket.socket, buf: WBuffer, rec: Buffer, seq: int, status: array[int],
              pending: int) -> tuple[int, tuple[int, ...]]:
    """One request, one ack (see nlc_addr_call): emit, send, drain, match.

    Returns ``(bytes_received, out)`` with ``out`` as in csrc/nlcore.h. Raises SpecError for
    a bad record, ``OSError`` with ``out``-style stage in ``exc.args`` for a failed syscall
    (``exc.stage`` is "send" or "recv"), ParseError for malformed replies.
    """
    view = memoryview(buf)
    if len(view) < CALL_RX + 4096:
        raise SpecError(f"buffer of {len(view)} bytes is too small for addr_call")
    n, emitted = addr_emit(view[:CALL_RX], rec, seq, 0)
    if emitted != 1:
        raise SpecError("the record does not fit in one request")
    try:
        sent = sock.sendto(view[:n], (0, 0))
    except OSError as exc:
        exc.stage = "send"  # type: ignore[attr-defined]
        raise
    if sent != n:
        err = OSError(_errno.EMSGSIZE, "short send")
        err.stage = "send"  # type: ignore[attr-defined]
        raise err
    try:
        got, foreign, trunc, overrun = sock_recv(sock, view[CALL_RX:], 1 << 12, 64)
    except BlockingIOError:
        return 0, (0, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0)
    except OSError as exc:
        exc.stage = "recv"  # type: ignore[attr-defined]
        raise
    detail = array("I", [0])
    _stop, answered, outside, dups, nd = acks_match(view[CALL_RX:], got, seq, status, 1,
                                                    pending, detail)
    return got, (foreign, trunc, overrun, answered, outside, dups,
                 detail[0] if nd else 0xFFFFFFFF, 0)


def addr_caller(sock: socket.socket, buf: bytearray
                ) -> Callable[[Buffer, int, int], tuple[int, int, list[int]]]:
    """A prepared :func:`addr_call` on ``sock`` and ``buf``: ``call(rec, seq, pending)`` ->
    ``(bytes received, status, out)``."""
    def call(rec: Buffer, seq: int, pending: int) -> tuple[int, int, list[int]]:
        status = array("i", [pending])
        got, out = addr_call(sock, buf, rec, seq, status, pending)
        return got, status[0], list(out)

    return call
