"""The engine's "route" kind: how a route is named, read back and refused.

A route's identity is what the kernel keys it on: (family, table, destination prefix,
metric), the metric as the kernel stores it (IPv6 turns 0 into 1024). A lost ack is
decided by RTM_GETROUTE dumps filtered in the kernel (strict checking: one dump per family
and table asked about). An add that meets an existing route is EEXIST ("exists" with
``exist_ok``); a delete of a missing route is ESRCH, or ENOENT when its table does not exist
("absent" with ``missing_ok``). The kernel's EEXIST compares only that key, so with
``exist_ok`` the route that exists is read back (a filtered dump) and compared: "exists" only
when it is the one asked for (type, gateway, nexthops and, where the spec gives them,
device, source, protocol, scope, onlink, metrics), else "failed" naming what differs.

The IPv6-disabled policy checks every device the route goes through: the route's own and
its nexthops' for an IPv6 route, and those with an IPv6 gateway (RTA_VIA) for an IPv4 one
(the kernel refuses both with EACCES).
"""

from __future__ import annotations

import errno as E
from typing import Any, Hashable, Iterable, Sequence

from ..codec import consts as C
from ..codec.decode import RouteMsg, decode
from ..codec.route import PROTOS, TYPE_NAMES, RouteSpec, encode_getroute
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


_PROTO_NAMES = {v: k for k, v in PROTOS.items()}


def _hops(m: RouteMsg) -> set[tuple[str | None, int, int]]:
    return {(nh.gateway, nh.ifindex, nh.weight) for nh in m.nexthops}


def _diff(spec: RouteSpec, want: RouteMsg, have: RouteMsg) -> list[str]:
    """What ``have`` (a route the kernel holds under the same key) differs in from the
    route ``spec`` asks for: type, gateway, nexthops and (when the spec gives them) device,
    preferred source, protocol, scope, onlink and each metric it sets."""
    out: list[str] = []

    def differ(what: str, asked: object, there: object) -> None:
        if asked != there:
            out.append(f"{what} {there if there is not None else 'none'} (asked for "
                       f"{asked if asked is not None else 'none'})")

    differ("type", TYPE_NAMES.get(want.rtm_type or C.RTN_UNICAST, want.rtm_type),
           TYPE_NAMES.get(have.rtm_type, have.rtm_type))
    differ("gateway", want.gateway, have.gateway)
    if want.oif:
        differ("dev index", want.oif, have.oif)
    if want.nexthops or have.nexthops:
        differ("nexthops", sorted(_hops(want), key=str) or None,
               sorted(_hops(have), key=str) or None)
    if spec.prefsrc is not None:
        differ("src", want.prefsrc, have.prefsrc)
    if spec.proto is not None:
        differ("proto", _PROTO_NAMES.get(want.protocol, want.protocol),
               _PROTO_NAMES.get(have.protocol, have.protocol))
    if spec.scope is not None:
        differ("scope", C.SCOPE_NAMES.get(want.scope, want.scope),
               C.SCOPE_NAMES.get(have.scope, have.scope))
    if spec.onlink:
        differ("onlink", True, bool(have.rtm_flags & C.RTNH_F_ONLINK))
    metrics = have.metrics
    for k, v in want.metrics.items():
        differ(k, v, metrics.get(k))
    return out


def route_same(conn: Conn, specs: Sequence[RouteSpec]) -> list[str | None]:
    """For adds that met EEXIST: None where a route the kernel holds under the same key
    (family, table, prefix, metric, tos 0) is the one asked for, else what differs (one
    kernel-filtered dump per family and table)."""
    wants = [decode(s.message)[0] for s in specs]
    have: dict[Hashable, list[RouteMsg]] = {}
    for fam, table in sorted({_key(m)[:2] for m in wants if isinstance(m, RouteMsg)}):  # type: ignore[index]
        for m in conn.request(encode_getroute(fam, table or None)):
            if isinstance(m, RouteMsg) and m.tos == 0 and m.src_len == 0:
                have.setdefault(_key(m), []).append(m)
    out: list[str | None] = []
    for spec, want in zip(specs, wants):
        assert isinstance(want, RouteMsg)
        there = have.get(_key(want), [])
        diffs = [_diff(spec, want, m) for m in there]
        if not there:
            out.append("the existing route was gone when read back (a kernel dump): "
                       "cannot tell whether it was the one asked for")
        elif any(not d for d in diffs):
            out.append(None)
        else:
            out.append("an existing route has the same destination, table and metric but "
                       f"differs: {', '.join(diffs[0])}")
    return out


register(Kind("route", route_dump, route_key, E.EEXIST, (E.ESRCH, E.ENOENT),
              ("add", "append"), ("del",), True, ipv6_devices=route_ipv6_devices,
              same=route_same))
