"""Route and neighbour fields of ``--match`` rules: ``dst=``, ``table=``, ``oif=``, ``via=``.

``RTM_NEWROUTE family=inet6 dst=2001:db8::/64`` fires on a route request for exactly that
prefix (``dst=default`` is prefix length 0); ``table=N|main|local|default`` is the route's
table (rtm_table, or RTA_TABLE when it is > 255); ``oif=N`` the route's RTA_OIF or the
neighbour's ifindex; ``via=ADDR`` the route's gateway (RTA_GATEWAY, or RTA_VIA). For a
neighbour message ``dst=`` matches NDA_DST inside the prefix. Everything is read from the
request bytes, bounds-checked; a message too short or malformed never matches.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Field = tuple[str, object]
KEYS = ("dst", "table", "oif", "via")
_ROUTE = (24, 25, 26)  # RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE
_NEIGH = (28, 29, 30)  # RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH
_TABLES = {"default": 253, "main": 254, "local": 255}
_HDR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE, RTA_VIA = 1, 4, 5, 15, 18
NDA_DST = 1


def parse_field(key: str, value: str) -> Field:
    """One ``key=value`` of :data:`KEYS` -> a field; ValueError naming the bad value."""
    if key == "dst":
        if value == "default":
            return key, None
        try:
            return key, ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"dst={value!r}: not a prefix or 'default'") from None
    if key == "via":
        try:
            return key, ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"via={value!r}: not an address") from None
    n = _TABLES.get(value) if key == "table" else None
    if n is None:
        try:
            n = int(value, 0)
        except ValueError:
            raise ValueError(f"{key}={value!r}: not a number") from None
    if not 0 <= n <= 0xFFFFFFFF:
        raise ValueError(f"{key}={value!r}: out of range")
    return key, n


def _attrs(raw: bytes, start: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = start
    while end - pos >= 4:
        alen, atype = _HDR.unpack_from(raw, pos)
        if alen < 4 or alen > end - pos:
            break
        out.setdefault(atype & 0x3FFF, raw[pos + 4:pos + alen])
        pos += (alen + 3) & ~3
    return out


def _ip(payload: bytes | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if payload is None or len(payload) not in (4, 16):
        return None
    return ipaddress.ip_address(socket.inet_ntop(
        socket.AF_INET if len(payload) == 4 else socket.AF_INET6, payload))


def fields_match(fields: tuple[Field, ...], raw: bytes) -> bool:
    """Whether the route or neighbour request ``raw`` has every field (others: never)."""
    if len(raw) < 28:
        return False
    tp = _HDR.unpack_from(raw, 4)[0]
    end = min(len(raw), _U32.unpack_from(raw, 0)[0])
    if tp not in _ROUTE + _NEIGH or end < 28:
        return False
    attrs = _attrs(raw, 28, end)
    for key, want in fields:
        if not _one(tp in _ROUTE, key, want, raw, attrs):
            return False
    return True


def _one(route: bool, key: str, want: object, raw: bytes, attrs: dict[int, bytes]) -> bool:
    if key == "oif":
        if not route:
            return bool(_U32.unpack_from(raw, 20)[0] == want)
        oif = attrs.get(RTA_OIF)
        return oif is not None and len(oif) == 4 and _U32.unpack_from(oif)[0] == want
    if not route:  # a neighbour: dst is its NDA_DST, inside the prefix
        ip = _ip(attrs.get(NDA_DST))
        return key == "dst" and isinstance(want, (ipaddress.IPv4Network, ipaddress.IPv6Network)) \
            and ip is not None and ip.version == want.version and ip in want
    if key == "table":
        tab = attrs.get(RTA_TABLE)
        table = _U32.unpack_from(tab)[0] if tab is not None and len(tab) == 4 else raw[20]
        return bool(table == want)
    if key == "via":
        gw = attrs.get(RTA_GATEWAY)
        via = attrs.get(RTA_VIA)
        return _ip(gw) == want or (via is not None and _ip(via[2:]) == want)
    plen = raw[17]  # dst: exactly this prefix
    if want is None:
        return plen == 0
    assert isinstance(want, (ipaddress.IPv4Network, ipaddress.IPv6Network))
    dst = attrs.get(RTA_DST, bytes(4 if want.version == 4 else 16) if plen == 0 else b"")
    ip = _ip(dst)
    return ip is not None and ip.version == want.version and plen == want.prefixlen \
        and ipaddress.ip_network(f"{ip}/{plen}", strict=False) == want
