"""Pure-Python twins of csrc/batch.c: pre-encoded messages copied with seq patched, the
acks-on-the-last flag pass, and the status scans (same signatures as the native wrappers)."""

from __future__ import annotations

import struct
from array import array
from typing import Union

from .errors import ParseError

Buffer = Union[bytes, bytearray, memoryview]
WBuffer = Union[bytearray, memoryview]
_LEN = struct.Struct("=I")
_FLAGS = struct.Struct("=H")
_SEQPID = struct.Struct("=II")
_F_ACK = 0x4


def _msg_len(buf: Buffer, pos: int, rem: int) -> int:
    if rem < 16:
        raise ParseError(f"{rem} trailing bytes, shorter than a netlink header", pos)
    n: int = _LEN.unpack_from(buf, pos)[0]
    if n < 16 or n > rem:
        raise ParseError(f"nlmsg_len {n} with {rem} bytes left", pos)
    return n


def msgs_copy(buf: WBuffer, src: Buffer, max_msgs: int, seq: int) -> tuple[int, int, int]:
    """Copy whole messages of ``src`` into ``buf`` (see nlc_msgs_copy): at most
    ``max_msgs``, message i stamped seq + i and pid 0. Returns ``(bytes written, src bytes
    used, messages)``; ParseError for a malformed message in ``src``."""
    view = memoryview(src).cast("B")
    out = memoryview(buf).cast("B")
    length, cap = len(view), len(out)
    pos = end = k = 0
    while pos < length and k < max_msgs:
        n = _msg_len(view, pos, length - pos)
        padded = (n + 3) & ~3
        if padded > cap - end:
            break
        out[end:end + n] = view[pos:pos + n]
        out[end + n:end + padded] = bytes(padded - n)
        _SEQPID.pack_into(out, end + 8, (seq + k) & 0xFFFFFFFF, 0)
        end += padded
        pos += min(padded, length - pos)
        k += 1
    return end, pos, k


def msgs_index(src: Buffer, count: int) -> tuple[array[int], int] | None:
    """The offsets of the ``count`` messages of ``src`` (``count + 1`` of them, the last
    ``len(src)``) and the largest message's size, or None unless ``src`` is exactly
    ``count`` whole messages back to back, each nlmsg_len a multiple of 4 (see
    nlc_msgs_index)."""
    view = memoryview(src).cast("B")
    length = len(view)
    offs = array("Q", bytes(8 * (max(0, count) + 1)))
    pos = big = 0
    for k in range(max(0, count)):
        if length - pos < 16:
            return None
        n = _LEN.unpack_from(view, pos)[0]
        if n < 16 or n > length - pos or n & 3:
            return None
        offs[k] = pos
        big = max(big, n)
        pos += n
    if pos != length:
        return None
    offs[max(0, count)] = pos
    return offs, big


def msgs_acks(buf: WBuffer, length: int) -> int:
    """NLM_F_ACK only on the last message of ``buf[:length]`` (see nlc_msgs_acks)."""
    out = memoryview(buf).cast("B")
    length = min(length, len(out))
    pos = k = 0
    last = -1
    while pos < length:
        n = _msg_len(out, pos, length - pos)
        flags = _FLAGS.unpack_from(out, pos + 6)[0]
        _FLAGS.pack_into(out, pos + 6, flags & ~_F_ACK)
        last = pos
        k += 1
        pos += (n + 3) & ~3
    if last >= 0:
        _FLAGS.pack_into(out, last + 6, _FLAGS.unpack_from(out, last + 6)[0] | _F_ACK)
    return k


def status_fill(status: array[int], start: int, end: int, old: int, new: int) -> int:
    """``status[i] == old`` -> ``new`` for start <= i < end; returns how many changed."""
    end = min(end, len(status))
    done = 0
    for i in range(max(0, start), end):
        if status[i] == old:
            status[i] = new
            done += 1
    return done


def status_scan(status: array[int], count: int, ok: int) -> list[int]:
    """The indexes i < count whose status is not ``ok`` (see nlc_status_scan)."""
    return [i for i in range(max(0, min(count, len(status)))) if status[i] != ok]
