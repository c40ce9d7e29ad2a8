"""The public codec: request specs -> bytes, bytes -> typed messages and errors.

Address messages go through the backend (one native call for a whole batch); route,
neighbour and link specs carry their ``message`` (built once from the tables, see
:mod:`.attrs`); dump and reply messages are built here from the same tables. Everything is
byte-identical to what iproute2 sends for the same operation (seq and pid aside), which the
golden tests prove.
"""

from __future__ import annotations

import struct
from typing import Iterable, Mapping, Sequence

from . import consts as C
from ._backend import BACKEND, codec
from .attrs import attr as _attr
from .attrs import encode, nlmsg
from .consts import IFADDRMSG, NLMSGHDR, align4
from .decode import *  # noqa: F403  (the decoders' public names are this module's too)
from .decode import DoneMsg, ErrorMsg, attr_at, iter_attrs
from .decode import __all__ as _DECODE_ALL
from .errors import KernelError, SpecError, kernel_error
from .link import LinkSpec
from .neigh import NeighSpec, encode_getneigh
from .route import NextHop, RouteSpec, encode_getroute
from .spec import AddrSpec, check_ifname
from .tables import HEADERS, IFINFOMSG, IFLA
from .text import describe_request
from .values import Attr, Extack

#: Largest RTM_NEWADDR the encoder can produce (every attribute present).
MAX_ADDR_MSG = 148

__all__ = ["BACKEND", "MAX_ADDR_MSG", "AddrSpec", "Attr", "Extack", "LinkSpec", "NeighSpec",
           "NextHop", "RouteSpec", "encode_addr", "encode_addrs", "encode_addrs_into",
           "encode_error_reply", "encode_getaddr", "encode_getlink", "encode_getneigh",
           "encode_getroute", "encode_setlink", "encode_veth", "error_of", "pack_records",
           *_DECODE_ALL]


# ---------------------------------------------------------------------------- addresses
def pack_records(specs: Iterable[AddrSpec]) -> bytes:
    """The ``struct nlc_addr`` records of ``specs``, back to back (what the backend emits)."""
    return b"".join([s.record for s in specs])


def encode_addrs_into(buf: bytearray | memoryview, records: bytes | memoryview, seq: int = 0,
                      pid: int = 0) -> tuple[int, int]:
    """Emit packed records into a caller-owned ``buf`` in one backend call.

    Message i gets seq ``seq + i`` (mod 2^32). Returns ``(bytes_written, messages)``; stops
    before the first message that would not fit.
    """
    return codec.addr_emit(buf, records, seq, pid)


def encode_addrs(specs: Sequence[AddrSpec], seq: int = 0, pid: int = 0) -> bytes:
    """All of ``specs`` as one buffer of consecutive messages (seq, seq+1, ...)."""
    buf = bytearray(MAX_ADDR_MSG * len(specs))
    n, count = codec.addr_emit(buf, pack_records(specs), seq, pid)
    assert count == len(specs)
    return bytes(buf[:n])


def encode_addr(spec: AddrSpec, seq: int = 0, pid: int = 0) -> bytes:
    """One RTM_NEWADDR / RTM_DELADDR for ``spec``."""
    return encode_addrs([spec], seq, pid)


# ---------------------------------------------------------------------------- helpers
def _msg(mtype: int, flags: int, seq: int, pid: int, body: bytes) -> bytes:
    return nlmsg(mtype, flags, body, seq, pid)


def _u32(atype: int, value: int) -> bytes:
    return _attr(atype, struct.pack("=I", value))


def _check_index(index: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 0x7FFFFFFF:
        raise SpecError(f"invalid interface index {index!r}: expected 0..2147483647")
    return index


# ---------------------------------------------------------------------------- dumps, links
def encode_getaddr(family: int = C.AF_UNSPEC, index: int = 0, seq: int = 0,
                   pid: int = 0) -> bytes:
    """RTM_GETADDR dump request (``ip addr show``); ``index`` filters under strict checking."""
    if family not in (C.AF_UNSPEC, C.AF_INET, C.AF_INET6):
        raise SpecError(f"invalid address family {family!r}: expected 0, 2 or 10")
    return _msg(C.RTM_GETADDR, C.NLM_F_REQUEST | C.NLM_F_DUMP, seq, pid,
                IFADDRMSG.pack(family, 0, 0, 0, _check_index(index)))


def encode_getlink(index: int = 0, name: str | None = None, seq: int = 0, pid: int = 0,
                   dump: bool = False, family: int = C.AF_UNSPEC) -> bytes:
    """RTM_GETLINK: by ``name`` (IFLA_IFNAME, as ``ip`` resolves ``dev NAME``), by ``index``,
    or a dump. Like iproute2 it asks for IFLA_EXT_MASK = RTEXT_FILTER_VF|SKIP_STATS."""
    if family not in (C.AF_UNSPEC, C.AF_INET, C.AF_INET6):
        raise SpecError(f"invalid address family {family!r}: expected 0, 2 or 10")
    mask = C.RTEXT_FILTER_VF | C.RTEXT_FILTER_SKIP_STATS
    items: list[tuple[str, object]] = [("IFLA_EXT_MASK", mask)]
    if name is not None:
        items.append(("IFLA_IFNAME", check_ifname(name) + b"\0"))
    body = IFINFOMSG.layout.pack(family, 0, _check_index(index), 0, 0) + encode(IFLA, items)
    flags = C.NLM_F_REQUEST | (C.NLM_F_DUMP if dump else 0)
    return _msg(C.RTM_GETLINK, flags, seq, pid, body)


def encode_setlink(index: int, up: bool | None = None, mtu: int | None = None, seq: int = 0,
                   pid: int = 0) -> bytes:
    """RTM_NEWLINK changing a link's state (``ip link set DEV up|down``) and/or MTU (the
    message of ``LinkSpec(index=index, up=up, mtu=mtu)``)."""
    msg = LinkSpec(index=_check_index(index), up=up, mtu=mtu).message
    return msg[:8] + struct.pack("=II", seq & 0xFFFFFFFF, pid & 0xFFFFFFFF) + msg[16:]


def encode_veth(name: str, peer: str, seq: int = 0, pid: int = 0) -> bytes:
    """RTM_NEWLINK creating a veth pair ``name`` <-> ``peer`` (``ip link add ... type veth``)."""
    empty = IFINFOMSG.layout.pack(0, 0, 0, 0, 0)
    peer_body = empty + encode(IFLA, [("IFLA_IFNAME", check_ifname(peer) + b"\0")])
    data = _attr(C.VETH_INFO_PEER, peer_body)  # veth's data: struct ifinfomsg + IFLA_*
    info = [("IFLA_INFO_KIND", b"veth"), ("IFLA_INFO_DATA", data)]
    body = empty + encode(IFLA, [("IFLA_IFNAME", check_ifname(name) + b"\0"),
                                 ("IFLA_LINKINFO", info)])
    flags = C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL
    return _msg(C.RTM_NEWLINK, flags, seq, pid, body)


# ---------------------------------------------------------------------------- replies
def attr_offset(request: bytes, name: str) -> int:
    """Offset (from the request start) of the first attribute called ``name``, e.g.
    ``"IFA_LOCAL"``; SpecError if the request has none."""
    tp = NLMSGHDR.unpack_from(request, 0)[1] if len(request) >= 16 else 0
    fam = HEADERS.get(tp, HEADERS[C.RTM_NEWLINK])
    fixed, names = C.NLMSG_HDRLEN + fam.layout.size, fam.attrs.names
    end = min(len(request), NLMSGHDR.unpack_from(request, 0)[0]) if len(request) >= 16 else 0
    for atype, a, _b in iter_attrs(request, fixed, end):
        if names.get(atype & C.NLA_TYPE_MASK) == name:
            return a - C.NLA_HDRLEN
    raise SpecError(f"the request has no attribute {name!r}")


def encode_error_reply(request: bytes, error: int, pid: int, *, msg: str | None = None,
                       offset: int | str | None = None, cookie: bytes | None = None,
                       capped: bool = False, ext_ack: bool = True) -> bytes:
    """The NLMSG_ERROR the kernel's ``netlink_ack()`` sends for ``request``.

    ``error`` is 0 (an ack) or a negative errno; ``pid`` is the receiving socket's port id.
    As the kernel does: a success ack always echoes only the header (NLM_F_CAPPED); an error
    echoes the whole request unless ``capped`` (NETLINK_CAP_ACK); extack TLVs (only with
    ``ext_ack``) go in the order MSG, COOKIE, then for errors OFFS; ``offset`` may be an
    attribute name, resolved against ``request``.
    """
    if error > 0:
        raise SpecError(f"error must be 0 or a negative errno, not {error}")
    if len(request) < C.NLMSG_HDRLEN:
        raise SpecError(f"request of {len(request)} bytes has no netlink header")
    req_len, _t, _f, seq, _p = NLMSGHDR.unpack_from(request, 0)
    request = request[:req_len]
    is_capped = capped or error == 0
    echo = request[:C.NLMSG_HDRLEN] if is_capped else request + bytes(align4(len(request))
                                                                     - len(request))
    tlvs = b""
    if ext_ack:
        if msg:
            tlvs += _attr(C.NLMSGERR_ATTR_MSG, msg.encode() + b"\0")
        if cookie:
            tlvs += _attr(C.NLMSGERR_ATTR_COOKIE, cookie)
        if error and offset is not None:
            off = attr_offset(request, offset) if isinstance(offset, str) else offset
            tlvs += _u32(C.NLMSGERR_ATTR_OFFS, off)
    flags = (C.NLM_F_CAPPED if is_capped else 0) | (C.NLM_F_ACK_TLVS if tlvs else 0)
    return _msg(C.NLMSG_ERROR, flags, seq, pid, struct.pack("=i", error) + echo + tlvs)


def error_of(msg: ErrorMsg | DoneMsg, requests: Mapping[int, bytes] | None = None
             ) -> KernelError | None:
    """The KernelError a failed ack or dump carries (None for a success).

    ``requests`` (seq -> request bytes) supplies the full request when the ack was capped,
    so the error can name the request and the attribute the extack offset points at.
    """
    if msg.error >= 0:
        return None
    seq = msg.header.seq
    known = (requests or {}).get(seq)
    echoed = msg.request if isinstance(msg, ErrorMsg) else b""
    full = known if known is not None else echoed
    capped = isinstance(msg, ErrorMsg) and msg.capped
    ext = msg.extack
    if ext is not None and ext.offset is not None and ext.attr is None and known is not None:
        ext = Extack(ext.msg, ext.offset, attr_at(known, ext.offset), ext.cookie, ext.policy,
                     ext.miss_type, ext.miss_nest, ext.raw)
    return kernel_error(-msg.error, seq=seq, request=echoed or full,
                        request_text=describe_request(full), extack=ext, capped=capped)
