"""Pure twin of csrc/wire.c ``nlc_addr_emit``: ``struct nlc_addr`` records -> RTM_NEWADDR /
RTM_DELADDR messages, attribute for attribute in the C's order (see csrc/nlcore.h)."""

from __future__ import annotations

import struct
from typing import Any, Union

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
    RTM_DELADDR,
    RTM_NEWADDR,
)
from .errors import SpecError

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

Buffer = Union[bytes, bytearray, memoryview]
WBuffer = Union[bytearray, memoryview]

_HDR_IFA = struct.Struct("=IHHIIBBBBI")  # nlmsghdr + ifaddrmsg
_U32 = struct.Struct("=HHI")
_U8 = struct.Struct("=HHB3x")
_CI = struct.Struct("=HHIIII")


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
