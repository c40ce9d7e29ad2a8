"""Links: name -> index (one RTM_GETLINK with IFLA_IFNAME, no dump), up/down, MTU, veth,
and each device's own IPv6 state read over netlink (no /proc, so any namespace works)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..codec import consts as C
from ..codec.decode import LinkMsg, iter_attrs
from ..codec.errors import ProtocolError
from ..codec.wire import encode_getlink, encode_setlink, encode_veth
from ..net.conn import Conn

IFLA_AF_SPEC = 26
IFLA_INET6_CONF = 2
DEVCONF_DISABLE_IPV6 = 26  # include/uapi/linux/ipv6.h, enum DEVCONF_*
IPV6_MIN_MTU = 1280


def get_link(conn: Conn, name: str | None = None, index: int = 0) -> LinkMsg:
    """The RTM_NEWLINK of one device, by name or by index (FileNotFoundError if absent)."""
    replies = conn.request(encode_getlink(index=index, name=name))
    for m in replies:
        if isinstance(m, LinkMsg):
            return m
    raise ProtocolError(f"no RTM_NEWLINK in the reply to RTM_GETLINK {name or index}")


def index_of(conn: Conn, name: str) -> int:
    """Interface index of ``name`` in the connection's namespace."""
    return get_link(conn, name=name).index


def links(conn: Conn) -> list[LinkMsg]:
    """Every link (an RTM_GETLINK dump)."""
    return [m for m in conn.request(encode_getlink(dump=True)) if isinstance(m, LinkMsg)]


def set_link(conn: Conn, index: int, up: bool | None = None, mtu: int | None = None) -> None:
    """Set a link up/down and/or its MTU."""
    conn.request(encode_setlink(index, up=up, mtu=mtu))


def add_veth(conn: Conn, name: str, peer: str) -> tuple[int, int]:
    """Create a veth pair with nlcore's own RTM_NEWLINK; returns both indexes."""
    conn.request(encode_veth(name, peer))
    return index_of(conn, name), index_of(conn, peer)


@dataclass(frozen=True)
class Ipv6State:
    """What the kernel will say to an IPv6 address on a device.

    ``disabled`` is the device's own ``disable_ipv6`` (the value the kernel checks; writing
    ``all`` propagates to devices, but ``default`` only to devices created later), or None
    when the device has no IPv6 configuration at all (``mtu < 1280`` or IPv6 unavailable).
    """

    index: int
    name: str
    disabled: bool | None
    mtu: int | None

    @property
    def blocked(self) -> bool:
        """True when an RTM_NEWADDR for AF_INET6 on this device cannot succeed."""
        return self.disabled is not False

    def reason(self) -> str:
        """A sentence naming the cause and the sysctl or MTU to change."""
        if self.disabled:
            return (f"IPv6 is disabled on {self.name} "
                    f"(net.ipv6.conf.{self.name}.disable_ipv6=1)")
        if self.mtu is not None and self.mtu < IPV6_MIN_MTU:
            return f"{self.name} has mtu {self.mtu} < {IPV6_MIN_MTU}: no IPv6 on it"
        return f"{self.name} has no IPv6 configuration"


def ipv6_state(conn: Conn, index: int) -> Ipv6State:
    """Read ``disable_ipv6`` of device ``index`` from IFLA_AF_SPEC/AF_INET6/IFLA_INET6_CONF."""
    m = get_link(conn, index=index)
    raw = m.raw
    for t, a, b in iter_attrs(raw, 32, len(raw)):
        if t & C.NLA_TYPE_MASK != IFLA_AF_SPEC:
            continue
        for t2, a2, b2 in iter_attrs(raw, a, b):
            if t2 & C.NLA_TYPE_MASK != C.AF_INET6:
                continue
            for t3, a3, b3 in iter_attrs(raw, a2, b2):
                if t3 & C.NLA_TYPE_MASK == IFLA_INET6_CONF and b3 - a3 > 4 * DEVCONF_DISABLE_IPV6:
                    (v,) = struct.unpack_from("=i", raw, a3 + 4 * DEVCONF_DISABLE_IPV6)
                    return Ipv6State(index, m.ifname or str(index), bool(v), m.mtu)
    return Ipv6State(index, m.ifname or str(index), None, m.mtu)
