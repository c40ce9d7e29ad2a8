"""Decode any buffer of netlink messages into typed, immutable messages.

Every walk uses the three-condition check (remaining >= header, len >= header, len <=
remaining) and raises :class:`~nlcore.codec.errors.ParseError` with the absolute offset of the first
malformed part. Unknown message types and attributes are kept raw, never dropped. The families
are declarations (:mod:`.tables`): a fixed header and an attribute set per message type.
"""

from __future__ import annotations

import struct
from typing import Any, Iterator, Mapping

from . import consts as C
from .attrs import AttrDef, AttrSet, attr_path, decode_attrs, iter_attrs
from .consts import NLMSGHDR, align4
from .errors import ParseError
from .msgs import (
    AddrMsg,
    DoneMsg,
    ErrorMsg,
    Header,
    LinkMsg,
    Message,
    NeighMsg,
    NextHopInfo,
    RouteMsg,
)
from .tables import HEADERS, NLMSGERR, POLICY, Fixed
from .values import Extack

__all__ = ["AddrMsg", "DoneMsg", "ErrorMsg", "Header", "LinkMsg", "Message", "NeighMsg",
           "NextHopInfo", "RouteMsg", "attr_at", "decode", "decode_attrs", "decode_one",
           "iter_attrs", "iter_messages"]

_CLASSES: dict[str, type[Message]] = {"ifaddrmsg": AddrMsg, "ifinfomsg": LinkMsg,
                                      "rtmsg": RouteMsg, "ndmsg": NeighMsg}
_EXTACK_KEYS = {"NLMSGERR_ATTR_MSG": "msg", "NLMSGERR_ATTR_OFFS": "offset",
                "NLMSGERR_ATTR_MISS_TYPE": "miss_type", "NLMSGERR_ATTR_MISS_NEST": "miss_nest"}
_HDR_FIELDS = ((0, "nlmsg_len"), (4, "nlmsg_type"), (6, "nlmsg_flags"), (8, "nlmsg_seq"),
               (12, "nlmsg_pid"))


# ---------------------------------------------------------------------------- messages
def _extack(buf: bytes, start: int, end: int, base: int,
            request: bytes | None) -> Extack:
    fields: dict[str, Any] = {}
    raw = decode_attrs(_NLMSGERR_FLAT, buf, start, end, base)
    for a in raw:
        key = _EXTACK_KEYS.get(a.name or "")
        if key is not None and (isinstance(a.value, int) or key == "msg"):
            fields.setdefault(key, a.value)
        elif a.name == "NLMSGERR_ATTR_COOKIE":
            fields.setdefault("cookie", a.raw)
        elif a.name == "NLMSGERR_ATTR_POLICY":
            try:
                fields.setdefault("policy", decode_attrs(POLICY, a.raw, 0, len(a.raw)))
            except ParseError:
                fields.setdefault("policy", (a,))
    offset = fields.get("offset")
    if offset is not None and request is not None:
        fields["attr"] = attr_at(request, offset)
    return Extack(raw=raw, **fields)


# the extack TLVs with the policy kept raw at the top level (decoded apart, see _extack)
_NLMSGERR_FLAT = AttrSet("nlmsgerr_flat", [d if d.kind != "nest" else AttrDef(d.num, d.name,
                                                                                "binary")
                                           for d in NLMSGERR.defs])


def attr_at(request: bytes, offset: int) -> str | None:
    """Name what ``offset`` (from the start of ``request``) points at: ``IFA_LOCAL``,
    ``IFLA_LINKINFO/IFLA_INFO_KIND``, ``RTA_MULTIPATH/RTNH[1]/RTA_GATEWAY``, a header field
    such as ``ifa_prefixlen``, or None."""
    if len(request) < C.NLMSG_HDRLEN or offset < 0 or offset >= len(request):
        return None
    tp = NLMSGHDR.unpack_from(request, 0)[1]
    fam: Fixed | None = HEADERS.get(tp)
    fixed = C.NLMSG_HDRLEN + (fam.layout.size if fam else 0)
    for start, name in reversed(_HDR_FIELDS + (fam.fields if fam else ())):
        if offset < fixed and offset >= start:
            return name
    if fam is None:
        return None
    end = min(len(request), NLMSGHDR.unpack_from(request, 0)[0])
    return attr_path(fam.attrs, request, fixed, end, offset)


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
    fam = HEADERS.get(hdr.type)
    if fam is not None and n >= C.NLMSG_HDRLEN + fam.layout.size:
        values = fam.layout.unpack_from(buf, body)
        attrs = decode_attrs(fam.attrs, buf, body + fam.layout.size, end, base)
        return _CLASSES[fam.name](hdr, raw, *values, attrs)  # type: ignore[call-arg]
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
