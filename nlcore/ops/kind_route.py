"""The engine's "route" kind: how a route is named, read back and refused.

A route's identity is what the kernel keys it on: (family, table, destination prefix,
metric), the metric as the kernel stores it (IPv6 turns 0 into 1024). A lost ack is
decided by RTM_GETROUTE dumps filtered in the kernel (strict checking: one dump per family
and table asked about). An add that meets an existing route is EEXIST ("exists" with
``exist_ok``); a delete of a missing route is ESRCH, or ENOENT when its table does not exist
("absent" with ``missing_ok``). The IPv6-disabled policy checks every device the route goes
through: the route's own and its nexthops' for an IPv6 route, and those with an IPv6
gateway (RTA_VIA) for an IPv4 one (the kernel refuses both with EACCES).
"""

from __future__ import annotations

import errno as E
from typing import Any, Hashable, Iterable

from ..codec import consts as C
from ..codec.decode import RouteMsg, decode
from ..codec.route import RouteSpec, encode_getroute
from ..net.conn import Conn
from .kinds import Kind, register

_DEFAULT_METRIC = {C.AF_INET: 0, C.AF_INET6: 1024}


def _key(m: RouteMsg) -> Hashable:
    metric = m.priority or _DEFAULT_METRIC.get(m.family, 0)
    return (m.family, m.table, m.dst, metric)


def route_key(spec: RouteSpec) -> Hashable:
    """(family, table, prefix, metric) of the route the spec names, read from its request."""
    (m,) = decode(spec.message)
    assert isinstance(m, RouteMsg)
    return _key(m)


def route_dump(conn: Conn, specs: Iterable[RouteSpec]) -> set[Hashable]:
    """Routes present: one kernel-filtered RTM_GETROUTE dump per (family, table)."""
    groups = set()
    for s in specs:
        fam, table = route_key(s)[:2]  # type: ignore[index]
        groups.add((fam, table))
    present: set[Hashable] = set()
    for fam, table in sorted(groups):
        for m in conn.request(encode_getroute(fam, table or None)):
            if isinstance(m, RouteMsg):
                present.add(_key(m))
    return present


def _v6(addr: str | None) -> bool:
    return addr is not None and ":" in addr


def route_ipv6_devices(spec: Any) -> tuple[int, ...]:
    """Devices whose ``disable_ipv6`` makes the kernel refuse this route (not for deletes)."""
    if spec.op == "del":
        return ()
    v6 = spec.family == C.AF_INET6
    out = [spec.index] if spec.index and (v6 or _v6(spec.via)) else []
    out += [nh.index for nh in spec.nexthops or () if nh.index and (v6 or _v6(nh.via))]
    return tuple(dict.fromkeys(out))


register(Kind("route", route_dump, route_key, E.EEXIST, (E.ESRCH, E.ENOENT),
              ("add", "append"), ("del",), True, ipv6_devices=route_ipv6_devices))
