"""The fast decoder of dump datagrams: :func:`decode_dump` returns what
:func:`nlcore.codec.decode.decode` returns (equal messages of the same classes, the same
offsets, the same ParseError), built from the packed rows of one ``dump_scan`` per
datagram (csrc/dump.c, or its pure twin).

An address, route or neighbour message whose attributes the scan found well formed and
free of nests is built without the dataclasses' generated ``__init__``, its ``attrs``
decoded on first read (see ``msgs._Attrs``): the cost of a dump is one Header and one
message object per entry. Every other message goes to the reference ``decode_one``, and a
buffer with a malformed message header to the reference ``decode``, so errors are raised by
the reference code itself, in the same order.
"""

from __future__ import annotations

import dataclasses
import gc
import struct
from array import array
from typing import Any, Mapping

from . import _backend
from ._pure_dump import BAD, COLS, SKIP
from .decode import Header, Message, decode, decode_one
from .errors import ParseError
from .msgs import AddrMsg, NeighMsg, RouteMsg
from .tables import HEADERS, IFADDRMSG, NDMSG, RTMSG, Fixed

_NEW = object.__new__
_GC_ROWS = 64  # rows from which the collector is paused
_ROWS = 256  # rows per scan call: a 32 KiB datagram holds ~430 address messages
_EAGER_KINDS = ("nest", "multipath")  # a malformed inside raises: decoded eagerly


def _mask(fam: Fixed) -> int:
    """The attribute-type bits (as the scan sets them) of the set's nests."""
    m = 0
    for d in fam.attrs.defs:
        if d.kind in _EAGER_KINDS:
            m |= 1 << d.num if d.num < 31 else 1 << 31
    return m


def _plan(cls: type[Message], fam: Fixed) -> tuple[Any, ...]:
    names = tuple(f.name for f in dataclasses.fields(cls)
                  if f.name not in ("header", "raw", "attrs"))
    assert len(names) == len(fam.layout.unpack(bytes(fam.layout.size))), cls
    return (cls, fam.layout.unpack_from, names, _mask(fam), 16 + fam.layout.size,
            fam.attrs.name)


#: nlmsg_type -> (class, fixed header unpack, field names, eager mask, attrs offset, set)
_PLANS: dict[int, tuple[Any, ...]] = {
    t: _plan(cls, fam) for cls, fam in ((AddrMsg, IFADDRMSG), (RouteMsg, RTMSG),
                                        (NeighMsg, NDMSG)) for t in fam.types}
_ITER = struct.Struct(f"={COLS}I").iter_unpack


def _rows(codec: Any, data: bytes, fixed: int) -> array[int]:
    out = array("I", bytes(4 * COLS * _ROWS))
    rows = array("I")
    pos = 0
    while pos < len(data):
        n, pos = codec.dump_scan(data, pos, fixed, out)
        rows.extend(out[:n * COLS])
    return rows


def decode_dump(buf: bytes | bytearray | memoryview,
                requests: Mapping[int, bytes] | None = None,
                codec: Any = None) -> list[Message]:
    """:func:`~nlcore.codec.decode.decode`, faster for dumps; same results. ``codec``: a
    backend (default: the one in use; tests pass both)."""
    data = bytes(buf)
    first = HEADERS.get(struct.unpack_from("=H", data, 4)[0]) if len(data) >= 16 else None
    fixed = first.layout.size if first is not None else 0
    try:
        rows = _rows(codec or _backend.codec, data, fixed)
    except ParseError:
        return decode(data, requests)  # raises the reference ParseError
    # the loop makes only acyclic objects, two per message: the cyclic collector would run
    # every ~700 of them for nothing (40% of the time); it is paused, and restored as it was
    paused = len(rows) >= _GC_ROWS * COLS and gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _build(data, rows, fixed, requests)
    finally:
        if paused:
            gc.enable()


def _build(data: bytes, rows: array[int], fixed: int,
           requests: Mapping[int, bytes] | None) -> list[Message]:
    out: list[Any] = []
    append, plans, new, hdr_new = out.append, _PLANS, _NEW, Header
    attrs_at = 16 + fixed
    for off, n, tf, seq, pid, na, mask in _ITER(rows):
        plan = plans.get(tf & 0xFFFF)
        if plan is None or na >= SKIP or mask & plan[3] or plan[4] != attrs_at:
            append(decode_one(data, off, n, 0, requests))
            continue
        cls, unpack, names, _eager, _at, aset = plan
        h = new(hdr_new)
        hd = h.__dict__
        hd["len"], hd["type"], hd["flags"], hd["seq"], hd["pid"] = n, tf & 0xFFFF, tf >> 16, \
            seq, pid
        m = new(cls)
        d = m.__dict__
        d["header"], d["raw"], d["_lazy"] = h, data[off:off + n], (aset, attrs_at, off)
        d.update(zip(names, unpack(data, off + 16)))
        append(m)
    return out


assert BAD > SKIP  # na >= SKIP: not walked or malformed (both go to the reference decoder)
