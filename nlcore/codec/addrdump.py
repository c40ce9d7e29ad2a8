"""The fast path for address dumps: :func:`decode_fast` returns exactly what
:func:`nlcore.codec.decode.decode` returns (equal AddrMsg, Header and Attr objects, the same
offsets, the same ParseError), about three times faster for RTM_NEWADDR messages.

It walks each address message with the same three-condition checks, builds the frozen
dataclasses without their generated ``__init__`` (filling ``__dict__`` directly, which is
what that ``__init__`` ends up doing), and hands every other message, and any buffer with a
malformed part, to the reference decoder, so errors are raised by the reference code itself.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from . import consts as C
from .attrs import _INT, STRUCTS, AttrDef, _ip, _value
from .decode import AddrMsg, Header, Message, decode, decode_one
from .tables import IFA
from .values import Attr

_NEW = object.__new__
_HDR = C.NLMSGHDR.unpack_from
_IFA = C.IFADDRMSG.unpack_from
_NLA = C.NLATTR.unpack_from
_MASK = C.NLA_TYPE_MASK
_ADDR = (C.RTM_NEWADDR, C.RTM_DELADDR, C.RTM_GETADDR)
_MIN = C.NLMSG_HDRLEN + C.IFADDRMSG.size
#: type -> its definition, for the IFA_* attributes whose value is not a nest (the walk hands
#: a message with any other attribute to the reference decoder)
_FLAT = {t: d for t, d in IFA.by_num.items() if d.kind not in ("nest", "multipath")}


def _reader(d: AttrDef) -> Callable[[bytes], Any]:
    """raw payload -> the value attrs._value gives for this definition (without its second
    copy of the payload and its chain of tests); checked equal by tests/test_events_fastdump."""
    k = d.kind
    if k in _INT:
        s = _INT[k]
        size, unpack = s.size, s.unpack
        return lambda raw: unpack(raw)[0] if len(raw) == size else raw
    if k == "string":
        return lambda raw: raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    if k == "ip":
        return _ip
    if k == "struct":
        layout, fields = STRUCTS[d.struct or ""]
        return lambda raw: dict(zip(fields, layout.unpack(raw))) if len(raw) == layout.size \
            else raw
    return lambda raw: _value(d, raw, 0, len(raw), 0)


_TABLE = {t: (_reader(d), d.name) for t, d in _FLAT.items()}


class _Malformed(Exception):
    """Raised inside the walk: the reference decoder takes the buffer and raises the error."""


class _Nested(Exception):
    """An attribute with a nested value: the reference decoder takes that message."""


def _attrs(data: bytes, at: int, end: int) -> tuple[Attr, ...]:
    out = []
    table = _TABLE
    while at < end:
        rem = end - at
        if rem < 4:
            raise _Malformed
        n, tp = _NLA(data, at)
        if n < 4 or n > rem:
            raise _Malformed
        t = tp & _MASK
        raw = data[at + 4:at + n]
        fn = table.get(t)
        a = _NEW(Attr)
        d = a.__dict__
        d["type"] = t
        d["raw"] = raw
        if fn is None:
            if t in IFA.by_num:
                raise _Nested
            d["value"], d["name"] = raw, None
        else:
            d["value"], d["name"] = fn[0](raw), fn[1]
        d["offset"] = at
        out.append(a)
        at += (n + 3) & ~3
    return tuple(out)


def _addr(data: bytes, pos: int, n: int, hdr: tuple[int, int, int, int, int]) -> AddrMsg:
    h = _NEW(Header)
    d = h.__dict__
    d["len"], d["type"], d["flags"], d["seq"], d["pid"] = hdr
    m = _NEW(AddrMsg)
    d = m.__dict__
    d["header"] = h
    d["raw"] = data[pos:pos + n]
    d["family"], d["prefixlen"], d["ifa_flags"], d["scope"], d["index"] = _IFA(data, pos + 16)
    d["attrs"] = _attrs(data, pos + _MIN, pos + n)
    return m


def decode_fast(buf: bytes | bytearray | memoryview,
                requests: Mapping[int, bytes] | None = None) -> list[Message]:
    """:func:`~nlcore.codec.decode.decode`, faster for address messages; same results."""
    data = bytes(buf)
    pos, total = 0, len(data)
    out: list[Any] = []
    try:
        while pos < total:
            rem = total - pos
            if rem < 16:
                raise _Malformed
            hdr = _HDR(data, pos)
            n = hdr[0]
            if n < 16 or n > rem:
                raise _Malformed
            if hdr[1] in _ADDR and n >= _MIN:
                try:
                    out.append(_addr(data, pos, n, hdr))
                except _Nested:
                    out.append(decode_one(data, pos, n, 0, requests))
            else:
                out.append(decode_one(data, pos, n, 0, requests))
            pos += (n + 3) & ~3
    except _Malformed:
        return decode(data, requests)  # raises the reference ParseError
    return out
