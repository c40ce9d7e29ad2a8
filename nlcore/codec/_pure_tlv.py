"""Pure twin of csrc/attrs.c ``nlc_tlv_walk``: the generic record walker (attributes and
nexthops), same arguments, same results, same offsets in the same exceptions."""

from __future__ import annotations

import struct
from array import array
from typing import Union

from .errors import ParseError, SpecError

Buffer = Union[bytes, bytearray, memoryview]
_LEN = struct.Struct("=HH")
_WHAT = {4: ("an attribute header", "attribute length"),
         8: ("a struct rtnexthop", "rtnh_len")}


def tlv_walk(buf: Buffer, start: int, end: int, hdr: int, out: array[int]) -> tuple[int, int]:
    """Walk the records of ``buf[start:end]`` (see nlc_tlv_walk in csrc/nlcore.h).

    Stores ``(u16 after the length, offset, length)`` per record in ``out`` (3 entries each,
    ``len(out) // 3`` at most) and returns ``(count, stop)``. Raises ParseError with the
    offset of a malformed record, SpecError for a bad range or header size.
    """
    size = memoryview(buf).nbytes
    if hdr not in _WHAT or not 0 <= start <= end <= size:
        raise SpecError(f"bad walk: start {start}, end {end}, header {hdr}, {size} bytes")
    short, length = _WHAT[hdr]
    cap = len(out) // 3
    pos = start
    i = 0
    unpack = _LEN.unpack_from
    while pos < end and i < cap:
        rem = end - pos
        if rem < hdr:
            raise ParseError(f"{rem} trailing bytes, shorter than {short}", pos)
        n, word = unpack(buf, pos)
        if n < hdr or n > rem:
            raise ParseError(f"{length} {n} with {rem} bytes left", pos)
        out[3 * i] = word
        out[3 * i + 1] = pos
        out[3 * i + 2] = n
        i += 1
        pos = min(end, pos + ((n + 3) & ~3))
    return i, pos
