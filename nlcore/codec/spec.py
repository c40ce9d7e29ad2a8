"""Address request specs: validated once, packed once into the C record (``struct nlc_addr``).

An :class:`AddrSpec` is what a caller writes (``AddrSpec("198.51.100.1/24", index=2)``); its
``record`` is the 96-byte ``struct nlc_addr`` both backends emit from. Every value is checked
at construction and a :class:`~nlcore.codec.errors.SpecError` names the one that is wrong, so no
byte is ever written for a bad spec.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from typing import ClassVar, Iterable, Literal, Union

from . import _pure as P
from .consts import (
    AF_INET,
    AF_INET6,
    IFA_F_HOMEADDRESS,
    IFA_F_MANAGETEMPADDR,
    IFA_F_MCAUTOJOIN,
    IFA_F_NODAD,
    IFA_F_NOPREFIXROUTE,
    IFA_F_OPTIMISTIC,
    IFNAMSIZ,
    INFINITY_LIFE_TIME,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_SCOPE_SITE,
    RT_SCOPE_UNIVERSE,
    RTM_DELADDR,
    RTM_NEWADDR,
)
from .errors import SpecError

Op = Literal["add", "replace", "del"]
FlagsArg = Union[int, str, Iterable[str]]

#: nlmsg_type and nlmsg_flags of each operation, as iproute2 sends them.
OPS: dict[str, tuple[int, int]] = {
    "add": (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL),
    "replace": (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE),
    "del": (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK),
}
#: iproute2's flag words for IFA_F_* (the settable ones).
FLAG_WORDS: dict[str, int] = {
    "nodad": IFA_F_NODAD, "optimistic": IFA_F_OPTIMISTIC, "home": IFA_F_HOMEADDRESS,
    "mngtmpaddr": IFA_F_MANAGETEMPADDR, "noprefixroute": IFA_F_NOPREFIXROUTE,
    "autojoin": IFA_F_MCAUTOJOIN,
}
SETTABLE_FLAGS = 0
for _v in FLAG_WORDS.values():
    SETTABLE_FLAGS |= _v
SCOPE_WORDS: dict[str, int] = {"global": RT_SCOPE_UNIVERSE, "universe": RT_SCOPE_UNIVERSE,
                               "site": RT_SCOPE_SITE, "link": RT_SCOPE_LINK,
                               "host": RT_SCOPE_HOST, "nowhere": RT_SCOPE_NOWHERE}
_ZERO16 = bytes(16)


def parse_ip(text: str, what: str = "address") -> tuple[int, bytes]:
    """``"2001:db8::1"`` -> ``(AF_INET6, 16 bytes)``; SpecError naming ``what`` otherwise."""
    if not isinstance(text, str):
        raise SpecError(f"{what} must be text, not {type(text).__name__}: {text!r}")
    try:
        return AF_INET, socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    try:
        return AF_INET6, socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        raise SpecError(f"invalid {what} {text!r}: not an IPv4 or IPv6 address") from None


def parse_prefix(text: str, what: str = "address") -> tuple[int, bytes, int | None]:
    """``"198.51.100.1/24"`` -> ``(AF_INET, 4 bytes, 24)``; the prefix length may be absent."""
    if not isinstance(text, str):
        raise SpecError(f"{what} must be text, not {type(text).__name__}: {text!r}")
    addr, sep, plen_s = text.partition("/")
    family, raw = parse_ip(addr, what)
    if not sep:
        return family, raw, None
    maxlen = 32 if family == AF_INET else 128
    if not plen_s.isdigit() or not plen_s.isascii() or int(plen_s) > maxlen:
        raise SpecError(f"invalid prefix length {plen_s!r} in {what} {text!r}: "
                        f"expected 0..{maxlen}")
    return family, raw, int(plen_s)


def parse_flags(flags: FlagsArg) -> int:
    """IFA_F_* flags from an int or iproute2 words (``"nodad noprefixroute"``)."""
    if isinstance(flags, bool):
        raise SpecError(f"invalid address flags {flags!r}")
    if isinstance(flags, int):
        if flags < 0 or flags & ~SETTABLE_FLAGS:
            raise SpecError(f"invalid address flags {flags:#x}: settable flags are "
                            f"{SETTABLE_FLAGS:#x} ({', '.join(FLAG_WORDS)})")
        return flags
    words = flags.split() if isinstance(flags, str) else list(flags)
    value = 0
    for word in words:
        bit = FLAG_WORDS.get(word) if isinstance(word, str) else None
        if bit is None:
            raise SpecError(f"unknown address flag {word!r}: expected one of "
                            f"{', '.join(FLAG_WORDS)}")
        value |= bit
    return value


def _u32(value: int | None, what: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise SpecError(f"invalid {what} {value!r}: expected an integer 0..4294967295")
    return value


def parse_lifetime(value: int | str | None, what: str) -> int | None:
    """A lifetime in seconds, ``"forever"`` (2^32-1) or None (not given)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value == "forever":
            return INFINITY_LIFE_TIME
        if not value.isdigit() or not value.isascii():
            raise SpecError(f"invalid {what} {value!r}: expected seconds or 'forever'")
        value = int(value)
    return _u32(value, what, 0)


def _scope(scope: int | str | None, default: int) -> int:
    if scope is None:
        return default
    if isinstance(scope, str):
        if scope in SCOPE_WORDS:
            return SCOPE_WORDS[scope]
        if not scope.isdigit():
            raise SpecError(f"invalid scope {scope!r}: expected 0..255 or one of "
                            f"{', '.join(SCOPE_WORDS)}")
        scope = int(scope)
    if isinstance(scope, bool) or not isinstance(scope, int) or not 0 <= scope <= 255:
        raise SpecError(f"invalid scope {scope!r}: expected 0..255")
    return scope


def check_ifname(name: str, what: str = "interface name") -> bytes:
    """Validate an interface name or address label -> its bytes.

    Both are 1..15 bytes with no '/', NUL or white space. An interface name may not be '.'
    or '..' (the kernel's ``dev_valid_name``); a label may (the kernel stores it as given).
    """
    raw = name.encode() if isinstance(name, str) else b""
    dots = what != "label" and name in (".", "..")
    if (not isinstance(name, str) or not 0 < len(raw) < IFNAMSIZ or dots
            or any(c in name for c in "/\0") or any(c.isspace() for c in name)):
        rule = "" if what == "label" else ", not '.' or '..'"
        raise SpecError(f"invalid {what} {name!r}: 1..{IFNAMSIZ - 1} bytes, "
                        f"no '/', NUL or white space{rule}")
    return raw


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
