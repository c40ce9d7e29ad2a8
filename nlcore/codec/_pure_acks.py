"""Pure twins of csrc/wire.c ``nlc_acks_scan`` and ``nlc_acks_match``: walk a buffer of
replies, read each ack's error and extack span, match acks to a window of sequence numbers."""

from __future__ import annotations

import struct
from array import array
from typing import Union

from .consts import NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN
from .errors import ParseError

Buffer = Union[bytes, bytearray, memoryview]

_HDR = struct.Struct("=IHHII")
_I32 = struct.Struct("=i")


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
