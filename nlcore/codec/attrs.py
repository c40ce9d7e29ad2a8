"""Attribute sets as data, and the one encoder and one walker over them.

A message family is a declaration: an :class:`AttrSet` lists each attribute's number, kernel
name, kind and (for nests) the set nested in it; :func:`encode` turns ``(name, value)`` pairs
into attributes, :func:`decode_attrs` turns bytes back into named :class:`Attr` values, and
:func:`attr_path` names what a byte offset points at (``RTA_MULTIPATH/RTNH[1]/RTA_GATEWAY``).

Kinds: ``u8 u16 u32 u64 s32 be16 be32`` (integers, range-checked when encoding), ``string``
(NUL-terminated), ``binary`` (raw), ``ip`` (4 or 16 bytes, text when decoded), ``mac`` (a
link-layer address, ``aa:bb:...``), ``flag`` (no payload), ``nest`` (a nested set), ``struct``
(a fixed C struct, decoded into a dict by a named :data:`STRUCTS` entry), ``via`` (struct rtvia:
family + address) and ``multipath`` (RTA_MULTIPATH: struct rtnexthop, each with a nested set).
Every walk uses the three-condition check and raises ParseError with the absolute offset.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .consts import NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, NLATTR, NLMSG_HDRLEN, NLMSGHDR, align4
from .errors import ParseError, SpecError
from .values import Attr, Value

KINDS = ("u8", "u16", "u32", "u64", "s32", "be16", "be32", "string", "binary", "ip", "mac",
         "flag", "nest", "struct", "via", "multipath")
_INT = {"u8": struct.Struct("=B"), "u16": struct.Struct("=H"), "u32": struct.Struct("=I"),
        "u64": struct.Struct("=Q"), "s32": struct.Struct("=i"), "be16": struct.Struct(">H"),
        "be32": struct.Struct(">I")}
RTNEXTHOP = struct.Struct("=HBBi")  # rtnh_len, rtnh_flags, rtnh_hops, rtnh_ifindex
RTVIA_FAMILY = struct.Struct("=H")


@dataclass(frozen=True)
class AttrDef:
    """One attribute: number, kernel name, kind, nested set name (nest/multipath), struct."""

    num: int
    name: str
    kind: str
    nested: str | None = None
    struct: str | None = None

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert (self.nested is not None) == (self.kind in ("nest", "multipath")), self.name
        assert (self.struct is not None) == (self.kind == "struct"), self.name


class AttrSet:
    """A named attribute set: lookup by number and by name. Sets register themselves so that
    a nest can name its inner set before that set is declared."""

    registry: dict[str, AttrSet] = {}

    def __init__(self, name: str, defs: Iterable[AttrDef]) -> None:
        self.name = name
        self.defs = tuple(defs)
        self.by_num = {d.num: d for d in self.defs}
        self.by_name = {d.name: d for d in self.defs}
        assert len(self.by_num) == len(self.defs) == len(self.by_name), name
        AttrSet.registry[name] = self

    def num(self, name: str) -> int:
        """The number of attribute ``name`` (KeyError if the set has none)."""
        return self.by_name[name].num

    @property
    def names(self) -> dict[int, str]:
        """number -> name."""
        return {d.num: d.name for d in self.defs}


def attrset(name: str, *rows: tuple[Any, ...], start: int = 1) -> AttrSet:
    """Declare a set from rows ``(NAME, kind[, nested-or-struct])`` numbered from ``start``;
    a row whose first item is an int gives its number explicitly."""
    defs = []
    num = start
    for row in rows:
        if isinstance(row[0], int):
            num, row = row[0], row[1:]
        extra = row[2] if len(row) > 2 else None
        kind = row[1]
        defs.append(AttrDef(num, row[0], kind, extra if kind in ("nest", "multipath") else None,
                            extra if kind == "struct" else None))
        num += 1
    return AttrSet(name, defs)


_UNKNOWN = AttrSet("unknown", ())  # the inside of a nest no table declares: numbers only

# ------------------------------------------------------------------------------ structs
#: name -> (struct layout, field names); decoded into {field: int} when the length matches.
STRUCTS: dict[str, tuple[struct.Struct, tuple[str, ...]]] = {
    "ifa_cacheinfo": (struct.Struct("=IIII"), ("preferred", "valid", "cstamp", "tstamp")),
    "rta_cacheinfo": (struct.Struct("=IIiIIIII"), ("clntref", "lastuse", "expires", "error",
                                                    "used", "id", "ts", "tsage")),
    "nda_cacheinfo": (struct.Struct("=IIII"), ("confirmed", "used", "updated", "refcnt")),
    "rtnl_link_ifmap": (struct.Struct("=QQQHBBxxxx"), ("mem_start", "mem_end", "base_addr",
                                                         "irq", "dma", "port")),
}


# ------------------------------------------------------------------------------ walker
def iter_attrs(buf: bytes, start: int, end: int, base: int = 0) -> Iterator[tuple[int, int, int]]:
    """Yield ``(nla_type, payload_start, payload_end)`` for the attributes in buf[start:end].

    ``base`` is added to offsets in errors (position of ``buf`` in the caller's buffer).
    """
    pos = start
    while pos < end:
        rem = end - pos
        if rem < NLA_HDRLEN:
            raise ParseError(f"{rem} trailing bytes, shorter than an attribute header",
                             base + pos)
        n, tp = NLATTR.unpack_from(buf, pos)
        if n < NLA_HDRLEN or n > rem:
            raise ParseError(f"attribute length {n} with {rem} bytes left", base + pos)
        yield tp, pos + NLA_HDRLEN, pos + n
        pos += align4(n)


def iter_nexthops(buf: bytes, start: int, end: int, base: int = 0
                  ) -> Iterator[tuple[int, int, int, int, int, int]]:
    """Yield ``(flags, hops, ifindex, rtnh_start, attrs_start, rtnh_end)`` per struct
    rtnexthop in buf[start:end] (the same three-condition check as attributes)."""
    pos = start
    while pos < end:
        rem = end - pos
        if rem < RTNEXTHOP.size:
            raise ParseError(f"{rem} trailing bytes, shorter than a struct rtnexthop",
                             base + pos)
        n, flags, hops, ifindex = RTNEXTHOP.unpack_from(buf, pos)
        if n < RTNEXTHOP.size or n > rem:
            raise ParseError(f"rtnh_len {n} with {rem} bytes left", base + pos)
        yield flags, hops, ifindex, pos, pos + RTNEXTHOP.size, pos + n
        pos += align4(n)


def _ip(raw: bytes) -> Value:
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return raw


def _value(d: AttrDef, buf: bytes, a: int, b: int, base: int) -> Value:
    raw = bytes(buf[a:b])
    k = d.kind
    if k in _INT:
        s = _INT[k]
        return s.unpack(raw)[0] if len(raw) == s.size else raw
    if k == "string":
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    if k == "ip":
        return _ip(raw)
    if k == "mac":
        return ":".join(f"{x:02x}" for x in raw) if raw else raw
    if k == "struct":
        layout, fields = STRUCTS[d.struct or ""]
        return dict(zip(fields, layout.unpack(raw))) if len(raw) == layout.size else raw
    if k == "via":
        if len(raw) < 2:
            return raw
        return {"family": RTVIA_FAMILY.unpack_from(raw)[0], "addr": _ip(raw[2:])}
    if k == "nest":
        return decode_attrs(AttrSet.registry[d.nested or ""], buf, a, b, base)
    if k == "multipath":
        inner = AttrSet.registry[d.nested or ""]
        return tuple(Attr(i, bytes(buf[p:e]), {"flags": fl, "hops": hops, "ifindex": idx,
                                              "attrs": decode_attrs(inner, buf, q, e, base)},
                          f"RTNH[{i}]", base + p)
                     for i, (fl, hops, idx, p, q, e) in enumerate(iter_nexthops(buf, a, b, base)))
    return raw  # binary, flag


def decode_attrs(aset: AttrSet, buf: bytes, start: int, end: int,
                 base: int = 0) -> tuple[Attr, ...]:
    """Decode the attributes in buf[start:end] by ``aset``; unknown types are kept raw.

    A value that does not fit its kind (an u32 of 3 bytes) is kept as raw bytes; a nest whose
    inside is malformed raises ParseError at the offending offset.
    """
    out = []
    for tp, a, b in iter_attrs(buf, start, end, base):
        t = tp & NLA_TYPE_MASK
        d = aset.by_num.get(t)
        raw = bytes(buf[a:b])
        out.append(Attr(t, raw, _value(d, buf, a, b, base) if d else raw,
                        d.name if d else None, base + a - NLA_HDRLEN))
    return tuple(out)


def attr_path(aset: AttrSet, buf: bytes, start: int, end: int, offset: int,
              depth: int = 0) -> str | None:
    """Name the attribute of buf[start:end] that ``offset`` falls in, through nests and
    nexthops (``IFLA_LINKINFO/IFLA_INFO_KIND``); None if it falls in none or is malformed."""
    if depth > 8:  # no rtnetlink request nests deeper; forged ones stop here
        return None
    try:
        for tp, a, b in iter_attrs(buf, start, end):
            if not a - NLA_HDRLEN <= offset < a - NLA_HDRLEN + align4(b - a + NLA_HDRLEN):
                continue  # (the padding after an attribute counts as that attribute's)
            t = tp & NLA_TYPE_MASK
            d = aset.by_num.get(t)
            name = d.name if d else str(t)
            inner: str | None = None
            if d is not None and d.nested and offset >= a:
                sub = AttrSet.registry[d.nested]
                inner = (attr_path(sub, buf, a, b, offset, depth + 1) if d.kind == "nest"
                         else _nexthop_path(sub, buf, a, b, offset, depth))
            elif tp & NLA_F_NESTED and offset >= a:
                inner = attr_path(_UNKNOWN, buf, a, b, offset, depth + 1)
            return f"{name}/{inner}" if inner else name
    except ParseError:
        return None
    return None


def _nexthop_path(aset: AttrSet, buf: bytes, start: int, end: int, offset: int,
                  depth: int) -> str | None:
    for i, (_f, _h, _x, p, q, e) in enumerate(iter_nexthops(buf, start, end)):
        if p <= offset < p + align4(e - p):
            inner = attr_path(aset, buf, q, e, offset, depth + 1) if offset >= q else None
            return f"RTNH[{i}]/{inner}" if inner else f"RTNH[{i}]"
    return None


# ------------------------------------------------------------------------------ encoder
def attr(num: int, payload: bytes) -> bytes:
    """One attribute: header, payload, padding to 4 bytes."""
    n = NLA_HDRLEN + len(payload)
    if n > 0xFFFF:
        raise SpecError(f"attribute {num} of {n} bytes does not fit nla_len")
    return NLATTR.pack(n, num) + payload + bytes(align4(n) - n)


def _payload(d: AttrDef, value: Any) -> bytes:
    k = d.kind
    if isinstance(value, (bytes, bytearray, memoryview)) and k not in ("string", "nest"):
        return bytes(value)  # already encoded: sent as it is (so tests can forge lengths)
    if k in _INT:
        s = _INT[k]
        lo, hi = (-(1 << 31), (1 << 31) - 1) if k == "s32" else (0, (1 << (8 * s.size)) - 1)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise SpecError(f"invalid {d.name} {value!r}: expected an integer {lo}..{hi}")
        return s.pack(value)
    if k == "string":  # text gets its NUL; bytes go verbatim (iproute2 sends congctl so)
        return value.encode() + b"\0" if isinstance(value, str) else bytes(value)
    if k == "flag":
        return b""
    if k == "nest":  # pairs, or the inside already encoded (a set the tables leave open)
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return encode(AttrSet.registry[d.nested or ""], value)
    if k == "via":
        family, raw = value
        return RTVIA_FAMILY.pack(family) + bytes(raw)
    if k == "multipath":
        inner = AttrSet.registry[d.nested or ""]
        out = b""
        for flags, hops, ifindex, items in value:
            body = encode(inner, items)
            out += RTNEXTHOP.pack(RTNEXTHOP.size + len(body), flags, hops, ifindex) + body
        return out
    raise SpecError(f"invalid {d.name} {value!r}: expected bytes")


def encode(aset: AttrSet, items: Iterable[tuple[str, Any]] | Mapping[str, Any]) -> bytes:
    """Attributes for ``(name, value)`` pairs, in order (a mapping in its order).

    Values: int for integer kinds, str for strings, packed bytes for ip/mac/binary (bytes
    for any kind are sent as they are: a string without a NUL, a forged u32 of 2 bytes),
    a sequence of pairs (or encoded bytes) for a nest, ``(family, bytes)`` for via,
    ``(flags, hops, ifindex, pairs)`` per nexthop for multipath.
    A value out of range raises SpecError naming it.
    """
    pairs: Sequence[tuple[str, Any]] = (list(items.items()) if isinstance(items, Mapping)
                                        else list(items))
    return b"".join(attr(aset.by_name[name].num, _payload(aset.by_name[name], value))
                    for name, value in pairs)


def nlmsg(mtype: int, flags: int, body: bytes, seq: int = 0, pid: int = 0) -> bytes:
    """A whole message: nlmsghdr + ``body`` (the fixed header and attributes)."""
    return NLMSGHDR.pack(NLMSG_HDRLEN + len(body), mtype, flags, seq & 0xFFFFFFFF,
                         pid & 0xFFFFFFFF) + body
