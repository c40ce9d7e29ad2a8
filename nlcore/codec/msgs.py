"""Typed, immutable netlink messages: the header, acks, and one class per rtnetlink family.

Each family class holds its fixed header's fields and ``attrs`` (every attribute, named from
:mod:`.tables`, nested sets decoded); properties give the common values typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import consts as C
from .lazy import lazy_attrs, lazy_get
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


class _Attrs:
    """Attribute lookup shared by the family messages.

    A message built by the dump scan (:mod:`.dumpscan`) holds ``_lazy`` = (attribute set
    name, offset of the attributes in ``raw``, offset of ``raw`` in the decoded buffer)
    instead of ``attrs``: the first read of ``attrs`` decodes them with the reference walker
    (the scan checked every attribute's length, and took the messages with a nest apart, so
    this decode cannot fail), giving the very tuple ``decode()`` gives.
    """

    attrs: tuple[Attr, ...]

    def __getattr__(self, name: str) -> Any:
        if name == "attrs" and "_lazy" in self.__dict__:
            return lazy_attrs(self.__dict__)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get(self, name: int | str) -> Value | None:
        """Value of the first attribute of that number or name (``"RTA_OIF"``), or None."""
        lazy = self.__dict__.get("_lazy")
        if lazy is not None:  # not decoded yet: decode only that attribute
            return lazy_get(self.__dict__["raw"], lazy, name)
        key = "name" if isinstance(name, str) else "type"
        return next((a.value for a in self.attrs if getattr(a, key) == name), None)

    def _int(self, name: str) -> int | None:
        v = self.get(name)
        return v if isinstance(v, int) else None

    def _str(self, name: str) -> str | None:
        v = self.get(name)
        return v if isinstance(v, str) else None


@dataclass(frozen=True)
class AddrMsg(Message, _Attrs):
    """RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR: struct ifaddrmsg + IFA_* attributes."""

    family: int = 0
    prefixlen: int = 0
    ifa_flags: int = 0  # the header byte; see ``flags`` for the effective value
    scope: int = 0
    index: int = 0
    attrs: tuple[Attr, ...] = ()

    @property
    def local(self) -> str | None:
        """IFA_LOCAL as text (falls back to IFA_ADDRESS, as the kernel does for IPv6)."""
        return self._str("IFA_LOCAL") or self._str("IFA_ADDRESS")

    @property
    def flags(self) -> int:
        """IFA_FLAGS when present (it supersedes the 8-bit header field), else ifa_flags."""
        v = self._int("IFA_FLAGS")
        return self.ifa_flags if v is None else v


@dataclass(frozen=True)
class LinkMsg(Message, _Attrs):
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
        return self._str("IFLA_IFNAME")

    @property
    def mtu(self) -> int | None:
        """IFLA_MTU."""
        return self._int("IFLA_MTU")

    @property
    def master(self) -> int | None:
        """IFLA_MASTER (0 in a request means "no master")."""
        return self._int("IFLA_MASTER")

    @property
    def address(self) -> str | None:
        """IFLA_ADDRESS as ``aa:bb:...``."""
        return self._str("IFLA_ADDRESS")

    @property
    def kind(self) -> str | None:
        """IFLA_LINKINFO/IFLA_INFO_KIND (``veth``, ``bridge``...)."""
        info = self.get("IFLA_LINKINFO")
        if isinstance(info, tuple):
            v = next((a.value for a in info if a.name == "IFLA_INFO_KIND"), None)
            return v if isinstance(v, str) else None
        return None


@dataclass(frozen=True)
class NextHopInfo:
    """One decoded struct rtnexthop of RTA_MULTIPATH, with its attributes."""

    flags: int
    hops: int
    ifindex: int
    attrs: tuple[Attr, ...]

    @property
    def weight(self) -> int:
        """rtnh_hops + 1, as ``ip route`` prints it."""
        return self.hops + 1

    @property
    def gateway(self) -> str | None:
        """RTA_GATEWAY, or the address of RTA_VIA."""
        return _gateway(self.attrs)


def _gateway(attrs: tuple[Attr, ...]) -> str | None:
    for a in attrs:
        if a.name == "RTA_GATEWAY" and isinstance(a.value, str):
            return a.value
        if a.name == "RTA_VIA" and isinstance(a.value, dict):
            addr: Any = a.value.get("addr")
            return addr if isinstance(addr, str) else None
    return None


@dataclass(frozen=True)
class RouteMsg(Message, _Attrs):
    """RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE: struct rtmsg + RTA_* attributes."""

    family: int = 0
    dst_len: int = 0
    src_len: int = 0
    tos: int = 0
    rtm_table: int = 0  # the header byte; see ``table``
    protocol: int = 0
    scope: int = 0
    rtm_type: int = 0
    rtm_flags: int = 0
    attrs: tuple[Attr, ...] = ()

    @property
    def table(self) -> int:
        """RTA_TABLE when present (it holds tables > 255), else rtm_table."""
        v = self._int("RTA_TABLE")
        return self.rtm_table if v is None else v

    @property
    def dst(self) -> str:
        """``198.51.100.0/24``, or ``default`` for a zero-length prefix."""
        addr = self._str("RTA_DST")
        if self.dst_len == 0 and (addr is None or addr in ("0.0.0.0", "::")):
            return "default"
        if addr is None:
            addr = "0.0.0.0" if self.family == C.AF_INET else "::"
        return f"{addr}/{self.dst_len}"

    @property
    def gateway(self) -> str | None:
        """RTA_GATEWAY, or the address of RTA_VIA."""
        return _gateway(self.attrs)

    @property
    def oif(self) -> int | None:
        """RTA_OIF."""
        return self._int("RTA_OIF")

    @property
    def priority(self) -> int | None:
        """RTA_PRIORITY (``metric`` in iproute2's words)."""
        return self._int("RTA_PRIORITY")

    @property
    def prefsrc(self) -> str | None:
        """RTA_PREFSRC."""
        return self._str("RTA_PREFSRC")

    @property
    def metrics(self) -> dict[str, int | str]:
        """RTA_METRICS as ``{"mtu": 1400, "congctl": "cubic", ...}`` (iproute2's words)."""
        nest = self.get("RTA_METRICS")
        out: dict[str, int | str] = {}
        for a in nest if isinstance(nest, tuple) else ():
            if a.name and isinstance(a.value, (int, str)):
                key = a.name[5:].lower()
                out["congctl" if key == "cc_algo" else key] = a.value
        return out

    @property
    def nexthops(self) -> tuple[NextHopInfo, ...]:
        """RTA_MULTIPATH's nexthops (empty for a single-path route)."""
        mp = self.get("RTA_MULTIPATH")
        out = []
        for a in mp if isinstance(mp, tuple) else ():
            v = a.value
            if isinstance(v, dict):
                out.append(NextHopInfo(v["flags"], v["hops"], v["ifindex"], v["attrs"]))
        return tuple(out)


@dataclass(frozen=True)
class NeighMsg(Message, _Attrs):
    """RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH: struct ndmsg + NDA_* attributes."""

    family: int = 0
    index: int = 0
    state: int = 0
    ndm_flags: int = 0
    ndm_type: int = 0
    attrs: tuple[Attr, ...] = ()

    @property
    def dst(self) -> str | None:
        """NDA_DST."""
        return self._str("NDA_DST")

    @property
    def lladdr(self) -> str | None:
        """NDA_LLADDR as ``aa:bb:...``."""
        return self._str("NDA_LLADDR")


# A class-level default would hide ``__getattr__`` (the generated __init__ keeps its own copy
# of the default): a lazily built message has no ``attrs`` in its __dict__ until it is read.
for _cls in (AddrMsg, RouteMsg, NeighMsg):
    del _cls.attrs
