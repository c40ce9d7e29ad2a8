"""Pure twin of csrc/dump.c ``nlc_dump_scan``: one row of :data:`COLS` numbers per netlink
message of a dump datagram; same arguments, same rows, same offsets in the same exceptions."""

from __future__ import annotations

import struct
from array import array

from ._pure_tlv import Buffer
from .errors import ParseError, SpecError

COLS = 7  # NLC_DUMP_COLS
BAD = 0xFFFFFFFF  # NLC_DUMP_BAD: a malformed attribute
SKIP = 0xFFFFFFFE  # NLC_DUMP_SKIP: attributes not walked
_HDR = struct.Struct("=IHHII")
_NLA = struct.Struct("=HH")


def _attrs(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    n = mask = 0
    unpack = _NLA.unpack_from
    while pos < end:
        rem = end - pos
        if rem < 4:
            return BAD, mask
        ln, tp = unpack(buf, pos)
        if ln < 4 or ln > rem:
            return BAD, mask
        t = tp & 0x3FFF
        mask |= 1 << t if t < 31 else 1 << 31
        n += 1
        pos += (ln + 3) & ~3
    return n, mask


def dump_scan(buf: Buffer, start: int, fixed: int, out: array[int]) -> tuple[int, int]:
    """Scan the messages of ``buf[start:]`` into ``out`` (see nlc_dump_scan in
    csrc/nlcore.h): at most ``len(out) // COLS`` rows; returns ``(rows, stop)``. Raises
    ParseError at a malformed message header, SpecError for a bad range."""
    size = memoryview(buf).nbytes
    if not 0 <= start <= size or not 0 <= fixed <= 0xFFFF or size > 0xFFFFFFFF:
        raise SpecError(f"bad scan: start {start}, fixed {fixed}, {size} bytes")
    cap = len(out) // COLS
    pos, i = start, 0
    while pos < size and i < cap:
        rem = size - pos
        if rem < 16:
            raise ParseError(f"{rem} trailing bytes, shorter than a netlink header", pos)
        n, tp, flags, seq, pid = _HDR.unpack_from(buf, pos)
        if n < 16 or n > rem:
            raise ParseError(f"nlmsg_len {n} with {rem} bytes left", pos)
        na, mask = (SKIP, 0) if tp < 16 or n < 16 + fixed else _attrs(buf, pos + 16 + fixed,
                                                                     pos + n)
        out[COLS * i:COLS * i + COLS] = array("I", (pos, n, tp | flags << 16, seq, pid, na, mask))
        i += 1
        pos = min(size, pos + ((n + 3) & ~3))
    return i, pos
