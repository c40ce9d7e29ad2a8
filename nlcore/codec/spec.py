"""Address request specs: validated once, packed once into the C record (``struct nlc_addr``).

An :class:`AddrSpec` is what a caller writes (``AddrSpec("198.51.100.1/24", index=2)``); its
``record`` is the 96-byte ``struct nlc_addr`` both backends emit from. Every value is checked
at construction and a :class:`~nlcore.codec.errors.SpecError` names the one that is wrong, so no
byte is ever written for a bad spec.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from typing import ClassVar

from . import _pure_addr as P
from .addrparse import (  # re-exported (__all__): spec is where other modules look
    _ZERO16,
    FLAG_WORDS,
    OPS,
    SCOPE_WORDS,
    SETTABLE_FLAGS,
    FlagsArg,
    Op,
    _scope,
    _u32,
    check_ifname,
    parse_flags,
    parse_ip,
    parse_lifetime,
    parse_prefix,
)
from .consts import (
    AF_INET,
    AF_INET6,
    IFA_F_NODAD,
    INFINITY_LIFE_TIME,
    RT_SCOPE_HOST,
)
from .errors import SpecError

__all__ = ["FLAG_WORDS", "OPS", "SCOPE_WORDS", "SETTABLE_FLAGS", "AddrSpec", "FlagsArg", "Op",
           "check_ifname", "parse_flags", "parse_ip", "parse_lifetime", "parse_prefix"]

_INET_PTON = socket.inet_pton
_AF4, _AF6 = socket.AF_INET, socket.AF_INET6
_PACK = P.ADDR_REC.pack
# the constructor's fast path: ops, flag values and prefix lengths it takes as they are
_FAST_OPS = dict(OPS)
_FAST_FLAGS: dict[object, int] = {0: 0, "": 0, "nodad": IFA_F_NODAD, IFA_F_NODAD: IFA_F_NODAD}
_PLEN4 = {str(i): i for i in range(33)}
_PLEN6 = {str(i): i for i in range(129)}
_A_LOCAL = P.A_LOCAL


@dataclass(frozen=True, init=False)
class AddrSpec:
    """One address to add, replace or delete, in iproute2's terms.

    >>> AddrSpec("198.51.100.1/24", index=2).family
    2

    ``address`` is ``ADDR[/PLEN]`` (the local address; /32 or /128 when PLEN is absent).
    ``peer`` sets IFA_ADDRESS to another address (point-to-point; its PLEN wins).
    ``broadcast`` is an IPv4 address, ``"+"`` (host bits set) or ``"-"`` (host bits clear).
    ``flags`` takes IFA_F_* bits or iproute2 words (``"nodad noprefixroute"``); flags above
    0xff travel in IFA_FLAGS, as iproute2 sends them. ``valid_lft``/``preferred_lft`` take
    seconds or ``"forever"``; ``metric`` is IFA_RT_PRIORITY, ``proto`` is IFA_PROTO.
    ``address_first`` emits IFA_ADDRESS before IFA_LOCAL (the Rust rtnetlink crate's order,
    as in the Kata agent). ``dev`` names the interface for layers that resolve names;
    the encoders use ``index``.
    """

    address: str
    index: int = 0
    op: Op = "add"
    peer: str | None = None
    broadcast: str | None = None
    label: str | None = None
    scope: int | str | None = None
    flags: FlagsArg = 0
    valid_lft: int | str | None = None
    preferred_lft: int | str | None = None
    metric: int | None = None
    proto: int | None = None
    address_first: bool = False
    dev: str | None = None
    family: int = field(init=False, repr=False, compare=False)
    prefixlen: int = field(init=False, repr=False, compare=False)
    record: bytes = field(init=False, repr=False, compare=False)
    RECORD_SIZE: ClassVar[int] = P.ADDR_REC.size

    def __init__(self, address: str, index: int = 0, op: Op = "add", peer: str | None = None,
                 broadcast: str | None = None, label: str | None = None,
                 scope: int | str | None = None, flags: FlagsArg = 0,
                 valid_lft: int | str | None = None, preferred_lft: int | str | None = None,
                 metric: int | None = None, proto: int | None = None,
                 address_first: bool = False, dev: str | None = None) -> None:
        # the common spec (an address, an index, an op, no or known flags) is packed in one
        # step, its other fields left to the class defaults; anything else, or anything
        # wrong, goes through the full validator (__post_init__), which words every error
        if (peer is broadcast is label is scope is valid_lft is preferred_lft is metric
                is proto is None and address_first is False and type(address) is str
                and type(index) is int and 0 <= index <= 0xFFFFFFFF
                and (type(flags) is int or type(flags) is str)):
            try:
                mtype, nlflags = _FAST_OPS[op]
                ifa_flags = _FAST_FLAGS[flags]
                addr, sep, plen_s = address.partition("/")
                if ":" in addr:
                    family, local, scope_v = AF_INET6, _INET_PTON(_AF6, addr), 0
                    plen = _PLEN6[plen_s] if sep else 128
                else:
                    local = _INET_PTON(_AF4, addr)
                    family, plen = AF_INET, _PLEN4[plen_s] if sep else 32
                    scope_v = RT_SCOPE_HOST if local[0] == 127 and op != "del" else 0
            except (LookupError, TypeError, ValueError, OSError):
                pass
            else:
                self.__dict__.update(
                    address=address, index=index, op=op, flags=flags, dev=dev, family=family,
                    prefixlen=plen, record=_PACK(mtype, nlflags, family, plen, scope_v, 0,
                                                 index, ifa_flags, _A_LOCAL, 0, 0, 0, local,
                                                 _ZERO16, _ZERO16, b""))
                return
        self.__dict__.update(address=address, index=index, op=op, peer=peer,
                             broadcast=broadcast, label=label, scope=scope, flags=flags,
                             valid_lft=valid_lft, preferred_lft=preferred_lft, metric=metric,
                             proto=proto, address_first=address_first, dev=dev)
        self.__post_init__()

    def __post_init__(self) -> None:
        object.__setattr__(self, "record", b"")  # set for real at the end
        if self.op not in OPS:
            raise SpecError(f"invalid op {self.op!r}: expected add, replace or del")
        mtype, nlflags = OPS[self.op]
        family, local, plen = parse_prefix(self.address)
        maxlen = 32 if family == AF_INET else 128
        present = P.A_LOCAL
        peer = _ZERO16
        bitlen = maxlen if plen is None else plen
        if self.peer is not None:
            pfam, peer, pplen = parse_prefix(self.peer, "peer")
            if pfam != family:
                raise SpecError(f"peer {self.peer!r} is not of the family of {self.address!r}")
            present |= P.A_PEER
            bitlen = maxlen if pplen is None else pplen
            if plen is not None and pplen is None:
                bitlen = plen
        if self.address_first:
            present |= P.A_ADDRESS_FIRST
        brd = _ZERO16
        if self.broadcast is not None:
            brd, late = self._broadcast(family, peer if self.peer is not None else local,
                                        bitlen)
            if late is not None:
                present |= P.A_BROADCAST | (P.A_BRD_LATE if late else 0)
        label = b""
        if self.label is not None:
            label = check_ifname(self.label, "label")
            present |= P.A_LABEL
        ifa_flags = parse_flags(self.flags)
        default_scope = RT_SCOPE_HOST if family == AF_INET and local[0] == 127 else 0
        scope = _scope(self.scope, 0 if self.op == "del" else default_scope)
        index = _u32(self.index, "interface index", 0)
        prio = 0
        if self.metric is not None:
            prio = _u32(self.metric, "metric", 0)
            present |= P.A_PRIORITY
        proto = 0
        if self.proto is not None:
            if isinstance(self.proto, bool) or not isinstance(self.proto, int) \
                    or not 0 <= self.proto <= 255:
                raise SpecError(f"invalid proto {self.proto!r}: expected 0..255")
            proto = self.proto
            present |= P.A_PROTO
        valid = parse_lifetime(self.valid_lft, "valid_lft")
        pref = parse_lifetime(self.preferred_lft, "preferred_lft")
        if valid is not None or pref is not None:
            valid = INFINITY_LIFE_TIME if valid is None else valid
            pref = INFINITY_LIFE_TIME if pref is None else pref
            if valid == 0:
                raise SpecError("invalid valid_lft 0: an address must be valid for a while")
            if pref > valid:
                raise SpecError(f"preferred_lft {self._lft(pref)} is greater than valid_lft "
                                f"{self._lft(valid)}")
            present |= P.A_CACHEINFO
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "prefixlen", bitlen)
        object.__setattr__(self, "record", P.ADDR_REC.pack(
            mtype, nlflags, family, bitlen, scope, proto, index, ifa_flags, present, prio,
            valid or 0, pref or 0, local, peer, brd, label))

    @staticmethod
    def _lft(v: int) -> str:
        return "forever" if v == INFINITY_LIFE_TIME else str(v)

    def _broadcast(self, family: int, base: bytes, bitlen: int) -> tuple[bytes, bool | None]:
        """(broadcast bytes, emitted late?) or (zero, None) when iproute2 would emit none."""
        text = self.broadcast
        assert text is not None
        if family != AF_INET:
            raise SpecError(f"broadcast {text!r}: broadcast can be set only for IPv4")
        if text not in ("+", "-"):
            bfam, raw = parse_ip(text, "broadcast")
            if bfam != AF_INET:
                raise SpecError(f"invalid broadcast {text!r}: not an IPv4 address")
            return raw, False
        if self.op == "del" or bitlen > 30:
            return _ZERO16, None
        value = int.from_bytes(base, "big")
        host = (1 << (32 - bitlen)) - 1
        value = value | host if text == "+" else value & ~host
        return value.to_bytes(4, "big"), True

    def with_index(self, index: int) -> AddrSpec:
        """The same spec on another interface index."""
        return replace(self, index=index)

    def text(self) -> str:
        """``198.51.100.1/24 dev index 2`` (or ``dev NAME`` when known), as errors print it."""
        where = f"dev {self.dev}" if self.dev else f"dev index {self.index}"
        local = self.address.partition("/")[0]
        return f"{local}/{self.prefixlen} {where}"
