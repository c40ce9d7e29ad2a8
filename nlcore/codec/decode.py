"""Decode any buffer of netlink messages into typed, immutable messages.

Every walk uses the three-condition check (remaining >= header, len >= header, len <=
remaining) and raises :class:`~nlcore.codec.errors.ParseError` with the absolute offset of the first
malformed part. Unknown message types and attributes are kept raw, never dropped.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from . import consts as C
from .consts import IFADDRMSG, IFINFOMSG, NLATTR, NLMSGHDR, align4
from .errors import ParseError
from .values import Attr, Extack, Value


@dataclass(frozen=True)
class Header:
    """struct nlmsghdr."""

    len: int
    type: int
    flags: int
    seq: int
    pid: int


@dataclass(frozen=True)
class Message:
    """Any netlink message; subclasses add decoded bodies. ``raw`` is the whole message."""

    header: Header
    raw: bytes = field(repr=False)

    @property
    def type_name(self) -> str:
        """``RTM_NEWADDR``, ``NLMSG_ERROR``... or the number."""
        return C.MSG_TYPE_NAMES.get(self.header.type, str(self.header.type))


@dataclass(frozen=True)
class ErrorMsg(Message):
    """NLMSG_ERROR: an ack (``error == 0``) or a failure (negative errno)."""

    error: int = 0
    request: bytes = b""  # echoed bytes: the 16-byte header when capped, else the request
    request_msg: Message | None = None
    capped: bool = False
    extack: Extack | None = None


@dataclass(frozen=True)
class DoneMsg(Message):
    """NLMSG_DONE: the end of a dump; a negative ``error`` means the dump failed."""

    error: int = 0
    extack: Extack | None = None


@dataclass(frozen=True)
class AddrMsg(Message):
    """RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR: struct ifaddrmsg + IFA_* attributes."""

    family: int = 0
    prefixlen: int = 0
    ifa_flags: int = 0  # the header byte; see ``flags`` for the effective value
    scope: int = 0
    index: int = 0
    attrs: tuple[Attr, ...] = ()

    def get(self, attr_type: int) -> Value | None:
        """Value of the first attribute of ``attr_type``, or None."""
        return next((a.value for a in self.attrs if a.type == attr_type), None)

    @property
    def local(self) -> str | None:
        """IFA_LOCAL as text (falls back to IFA_ADDRESS, as the kernel does for IPv6)."""
        v = self.get(C.IFA_LOCAL) or self.get(C.IFA_ADDRESS)
        return v if isinstance(v, str) else None

    @property
    def flags(self) -> int:
        """IFA_FLAGS when present (it supersedes the 8-bit header field), else ifa_flags."""
        v = self.get(C.IFA_FLAGS)
        return v if isinstance(v, int) else self.ifa_flags


@dataclass(frozen=True)
class LinkMsg(Message):
    """RTM_NEWLINK / RTM_GETLINK...: struct ifinfomsg + IFLA_* attributes."""

    family: int = 0
    ifi_type: int = 0
    index: int = 0
    ifi_flags: int = 0
    change: int = 0
    attrs: tuple[Attr, ...] = ()

    @property
    def ifname(self) -> str | None:
        """IFLA_IFNAME."""
        v = next((a.value for a in self.attrs if a.type == C.IFLA_IFNAME), None)
        return v if isinstance(v, str) else None

    @property
    def mtu(self) -> int | None:
        """IFLA_MTU."""
        v = next((a.value for a in self.attrs if a.type == C.IFLA_MTU), None)
        return v if isinstance(v, int) else None


# ---------------------------------------------------------------------------- attributes
def iter_attrs(buf: bytes, start: int, end: int, base: int = 0) -> Iterator[tuple[int, int, int]]:
    """Yield ``(nla_type, payload_start, payload_end)`` for the attributes in buf[start:end].

    ``base`` is added to offsets in errors (position of ``buf`` in the caller's buffer).
    """
    pos = start
    while pos < end:
        rem = end - pos
        if rem < C.NLA_HDRLEN:
            raise ParseError(f"{rem} trailing bytes, shorter than an attribute header",
                             base + pos)
        n, tp = NLATTR.unpack_from(buf, pos)
        if n < C.NLA_HDRLEN or n > rem:
            raise ParseError(f"attribute length {n} with {rem} bytes left", base + pos)
        yield tp, pos + C.NLA_HDRLEN, pos + n
        pos += align4(n)


def _ip(raw: bytes) -> Value:
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return raw


def _u32(raw: bytes) -> Value:
    return int.from_bytes(raw, "little") if len(raw) == 4 else raw


def _u8(raw: bytes) -> Value:
    return raw[0] if len(raw) == 1 else raw


def _str(raw: bytes) -> Value:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _cacheinfo(raw: bytes) -> Value:
    if len(raw) != 16:
        return raw
    pref, valid, cstamp, tstamp = C.IFA_CACHEINFO_S.unpack(raw)
    return {"preferred": pref, "valid": valid, "cstamp": cstamp, "tstamp": tstamp}


def _mac(raw: bytes) -> Value:
    return ":".join(f"{b:02x}" for b in raw) if len(raw) == 6 else raw


IFA_VALUES = {C.IFA_ADDRESS: _ip, C.IFA_LOCAL: _ip, C.IFA_BROADCAST: _ip, C.IFA_ANYCAST: _ip,
              C.IFA_MULTICAST: _ip, C.IFA_LABEL: _str, C.IFA_CACHEINFO: _cacheinfo,
              C.IFA_FLAGS: _u32, C.IFA_RT_PRIORITY: _u32, C.IFA_PROTO: _u8}
IFLA_VALUES = {C.IFLA_IFNAME: _str, C.IFLA_MTU: _u32, C.IFLA_ADDRESS: _mac,
               C.IFLA_BROADCAST: _mac, C.IFLA_TXQLEN: _u32, C.IFLA_LINK: _u32,
               C.IFLA_OPERSTATE: _u8, C.IFLA_LINKMODE: _u8, C.IFLA_QDISC: _str,
               C.IFLA_EXT_MASK: _u32, C.IFLA_IFALIAS: _str, C.IFLA_MIN_MTU: _u32,
               C.IFLA_MAX_MTU: _u32, C.IFLA_CARRIER: _u8, C.IFLA_PROMISCUITY: _u32,
               C.IFLA_NUM_TX_QUEUES: _u32, C.IFLA_NUM_RX_QUEUES: _u32,
               C.IFLA_ALT_IFNAME: _str}
_NESTED_IFLA = {C.IFLA_LINKINFO: {C.IFLA_INFO_KIND: ("IFLA_INFO_KIND", _str)}}


def decode_attrs(buf: bytes, start: int, end: int, values: Mapping[int, Any],
                 names: Mapping[int, str], base: int = 0) -> tuple[Attr, ...]:
    """Decode attributes with per-type value functions; unknown types are kept raw."""
    out = []
    for tp, a, b in iter_attrs(buf, start, end, base):
        t = tp & C.NLA_TYPE_MASK
        raw = bytes(buf[a:b])
        fn = values.get(t)
        out.append(Attr(t, raw, fn(raw) if fn else raw, names.get(t), base + a - C.NLA_HDRLEN))
    return tuple(out)


def _link_attrs(buf: bytes, start: int, end: int, base: int) -> tuple[Attr, ...]:
    attrs = list(decode_attrs(buf, start, end, IFLA_VALUES, C.IFLA_NAMES, base))
    for i, a in enumerate(attrs):
        sub = _NESTED_IFLA.get(a.type)
        if sub is not None:
            a0 = a.offset - base + C.NLA_HDRLEN
            inner = decode_attrs(buf, a0, a0 + len(a.raw), {k: f for k, (_, f) in sub.items()},
                                 {k: n for k, (n, _) in sub.items()}, base)
            attrs[i] = Attr(a.type, a.raw, inner, a.name, a.offset)
    return tuple(attrs)


# ---------------------------------------------------------------------------- messages
def _extack(buf: bytes, start: int, end: int, base: int,
            request: bytes | None) -> Extack:
    fields: dict[str, Any] = {}
    raw = decode_attrs(buf, start, end, {C.NLMSGERR_ATTR_MSG: _str, C.NLMSGERR_ATTR_OFFS: _u32,
                                         C.NLMSGERR_ATTR_MISS_TYPE: _u32,
                                         C.NLMSGERR_ATTR_MISS_NEST: _u32},
                       C.EXTACK_NAMES, base)
    keys = {C.NLMSGERR_ATTR_MSG: "msg", C.NLMSGERR_ATTR_OFFS: "offset",
            C.NLMSGERR_ATTR_MISS_TYPE: "miss_type", C.NLMSGERR_ATTR_MISS_NEST: "miss_nest"}
    for a in raw:
        key = keys.get(a.type)
        if key is not None and (isinstance(a.value, int) or key == "msg"):
            fields.setdefault(key, a.value)
        elif a.type == C.NLMSGERR_ATTR_COOKIE:
            fields.setdefault("cookie", a.raw)
        elif a.type == C.NLMSGERR_ATTR_POLICY:
            try:
                fields.setdefault("policy", decode_attrs(a.raw, 0, len(a.raw), {},
                                                         POLICY_NAMES))
            except ParseError:
                fields.setdefault("policy", (a,))
    offset = fields.get("offset")
    if offset is not None and request is not None:
        fields["attr"] = attr_at(request, offset)
    return Extack(raw=raw, **fields)


POLICY_NAMES = {1: "NL_POLICY_TYPE_ATTR_TYPE", 2: "NL_POLICY_TYPE_ATTR_MIN_VALUE_S",
                3: "NL_POLICY_TYPE_ATTR_MAX_VALUE_S", 4: "NL_POLICY_TYPE_ATTR_MIN_VALUE_U",
                5: "NL_POLICY_TYPE_ATTR_MAX_VALUE_U", 6: "NL_POLICY_TYPE_ATTR_MIN_LENGTH",
                7: "NL_POLICY_TYPE_ATTR_MAX_LENGTH", 8: "NL_POLICY_TYPE_ATTR_POLICY_IDX",
                9: "NL_POLICY_TYPE_ATTR_POLICY_MAXTYPE", 10: "NL_POLICY_TYPE_ATTR_BITFIELD32_MASK",
                11: "NL_POLICY_TYPE_ATTR_PAD", 12: "NL_POLICY_TYPE_ATTR_MASK"}

_ADDR_TYPES = (C.RTM_NEWADDR, C.RTM_DELADDR, C.RTM_GETADDR)
_LINK_TYPES = (C.RTM_NEWLINK, C.RTM_DELLINK, C.RTM_GETLINK, C.RTM_SETLINK)
_IFA_FIELDS = ((16, "ifa_family"), (17, "ifa_prefixlen"), (18, "ifa_flags"), (19, "ifa_scope"),
               (20, "ifa_index"))
_IFI_FIELDS = ((16, "ifi_family"), (18, "ifi_type"), (20, "ifi_index"), (24, "ifi_flags"),
               (28, "ifi_change"))
_HDR_FIELDS = ((0, "nlmsg_len"), (4, "nlmsg_type"), (6, "nlmsg_flags"), (8, "nlmsg_seq"),
               (12, "nlmsg_pid"))


def attr_at(request: bytes, offset: int) -> str | None:
    """Name what ``offset`` (from the start of ``request``) points at: ``IFA_LOCAL``,
    ``IFLA_LINKINFO/IFLA_INFO_KIND``, a header field such as ``ifa_prefixlen``, or None."""
    if len(request) < C.NLMSG_HDRLEN or offset < 0 or offset >= len(request):
        return None
    tp = NLMSGHDR.unpack_from(request, 0)[1]
    fixed: int
    names: Mapping[int, str]
    hdr_fields: tuple[tuple[int, str], ...]
    if tp in _ADDR_TYPES:
        fixed, names, hdr_fields = 24, C.IFA_NAMES, _IFA_FIELDS
    elif tp in _LINK_TYPES:
        fixed, names, hdr_fields = 32, C.IFLA_NAMES, _IFI_FIELDS
    else:
        fixed, names, hdr_fields = 16, {}, ()
    for start, name in reversed(_HDR_FIELDS + hdr_fields):
        if offset < fixed and offset >= start:
            return name
    end = min(len(request), NLMSGHDR.unpack_from(request, 0)[0])
    return _attr_in(request, fixed, end, offset, names)


def _attr_in(buf: bytes, start: int, end: int, offset: int, names: Mapping[int, str],
             depth: int = 0) -> str | None:
    if depth > 8:  # no rtnetlink request nests deeper; forged ones stop here
        return None
    try:
        for tp, a, b in iter_attrs(buf, start, end):
            if a - C.NLA_HDRLEN <= offset < max(b, a):
                t = tp & C.NLA_TYPE_MASK
                name = names.get(t, str(t))
                if (offset >= a and tp & C.NLA_F_NESTED) or (t == C.IFLA_LINKINFO and offset >= a):
                    inner = _attr_in(buf, a, b, offset, {C.IFLA_INFO_KIND: "IFLA_INFO_KIND",
                                                         C.IFLA_INFO_DATA: "IFLA_INFO_DATA"},
                                     depth + 1)
                    return f"{name}/{inner}" if inner else name
                return name
    except ParseError:
        return None
    return None


def decode_one(buf: bytes, pos: int, n: int, base: int = 0,
               requests: Mapping[int, bytes] | None = None) -> Message:
    """Decode the message of length ``n`` at ``buf[pos]`` (lengths already checked)."""
    hdr = Header(*NLMSGHDR.unpack_from(buf, pos))
    raw = bytes(buf[pos:pos + n])
    end = pos + n
    body = pos + C.NLMSG_HDRLEN
    if hdr.type == C.NLMSG_ERROR:
        return _error(buf, pos, end, hdr, raw, base, requests)
    if hdr.type == C.NLMSG_DONE and n >= C.NLMSG_HDRLEN + 4:
        err = struct.unpack_from("=i", buf, body)[0]
        ext = None
        if hdr.flags & C.NLM_F_ACK_TLVS and end > body + 4:
            ext = _extack(buf, body + 4, end, base, (requests or {}).get(hdr.seq))
        return DoneMsg(hdr, raw, err, ext)
    if hdr.type in _ADDR_TYPES and n >= C.NLMSG_HDRLEN + IFADDRMSG.size:
        fam, plen, fl, scope, idx = IFADDRMSG.unpack_from(buf, body)
        attrs = decode_attrs(buf, body + IFADDRMSG.size, end, IFA_VALUES, C.IFA_NAMES, base)
        return AddrMsg(hdr, raw, fam, plen, fl, scope, idx, attrs)
    if hdr.type in _LINK_TYPES and n >= C.NLMSG_HDRLEN + IFINFOMSG.size:
        fam, itype, idx, fl, ch = IFINFOMSG.unpack_from(buf, body)
        return LinkMsg(hdr, raw, fam, itype, idx, fl, ch,
                       _link_attrs(buf, body + IFINFOMSG.size, end, base))
    return Message(hdr, raw)


def _error(buf: bytes, pos: int, end: int, hdr: Header, raw: bytes, base: int,
           requests: Mapping[int, bytes] | None) -> ErrorMsg:
    body = pos + C.NLMSG_HDRLEN
    if end - body < 20:
        raise ParseError(f"NLMSG_ERROR of {end - pos} bytes, shorter than 36", base + pos)
    err = struct.unpack_from("=i", buf, body)[0]
    req_pos = body + 4
    req_len = NLMSGHDR.unpack_from(buf, req_pos)[0]
    capped = bool(hdr.flags & C.NLM_F_CAPPED)
    if capped:
        echo_end = req_pos + C.NLMSG_HDRLEN
    else:
        if req_len < C.NLMSG_HDRLEN or req_pos + req_len > end:
            raise ParseError(f"echoed request of {req_len} bytes does not fit in the "
                             f"{end - pos}-byte NLMSG_ERROR", base + req_pos)
        echo_end = req_pos + req_len
    request = bytes(buf[req_pos:echo_end])
    request_msg: Message | None = None
    if not capped:
        # an echoed request is decoded one level deep: an NLMSG_ERROR echoing an NLMSG_ERROR
        # (never sent by a kernel) stays raw instead of recursing without bound
        echo_type = NLMSGHDR.unpack_from(buf, req_pos)[1]
        request_msg = (Message(Header(*NLMSGHDR.unpack_from(buf, req_pos)),
                               bytes(buf[req_pos:req_pos + req_len]))
                       if echo_type in (C.NLMSG_ERROR, C.NLMSG_DONE)
                       else decode_one(buf, req_pos, req_len, base))
    ext = None
    tlv_start = req_pos + align4(echo_end - req_pos)
    if hdr.flags & C.NLM_F_ACK_TLVS and tlv_start < end:
        known = (requests or {}).get(hdr.seq)
        ext = _extack(buf, tlv_start, end, base, known if known is not None else
                      (request if not capped else None))
    return ErrorMsg(hdr, raw, err, request, request_msg, capped, ext)


def iter_messages(buf: bytes | bytearray | memoryview,
                  requests: Mapping[int, bytes] | None = None) -> Iterator[Message]:
    """Decode every message of ``buf`` in order.

    ``requests`` maps seq -> the original request bytes, so that an extack offset in a
    capped error (which echoes only the header) can still be resolved to an attribute.
    """
    data = bytes(buf)
    pos, total = 0, len(data)
    while pos < total:
        rem = total - pos
        if rem < C.NLMSG_HDRLEN:
            raise ParseError(f"{rem} trailing bytes, shorter than a netlink header", pos)
        n = NLMSGHDR.unpack_from(data, pos)[0]
        if n < C.NLMSG_HDRLEN or n > rem:
            raise ParseError(f"nlmsg_len {n} with {rem} bytes left", pos)
        yield decode_one(data, pos, n, 0, requests)
        pos += align4(n)


def decode(buf: bytes | bytearray | memoryview,
           requests: Mapping[int, bytes] | None = None) -> list[Message]:
    """Decode a whole buffer; see :func:`iter_messages`."""
    return list(iter_messages(buf, requests))
