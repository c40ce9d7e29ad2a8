"""Routes for :func:`nlcore.ops.sync.sync`: the engine's identity (family, table, prefix,
metric), ownership by family and protocol (never proto kernel unless asked), comparison of
what a desired route sets, and one ``replace`` per change (NLM_F_REPLACE rewrites every value
of a route with the same identity).

Present routes are read with one RTM_GETROUTE dump per device in scope, filtered in the
kernel by RTA_OIF (every table); a route is in scope when its device or one of its nexthops'
is. Compared: type, scope, protocol, gateway, device, preferred source, onlink, the nexthops
(device, gateway, weight) and the metrics the desired route gives.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Hashable, Mapping

from ..codec import consts as C
from ..codec.decode import LinkMsg, Message, RouteMsg, decode
from ..codec.route import RouteSpec, encode_getroute
from .kind_route import _key, route_key
from .sync_report import spec_text
from .sync_rules import Ownership

RTNH_F_ONLINK = 4


def _msg(spec: RouteSpec) -> RouteMsg:
    (m,) = decode(spec.message)
    assert isinstance(m, RouteMsg)
    return m


def key(spec: RouteSpec) -> Hashable:
    """The identity of a desired route (the engine's route key)."""
    return ("route", route_key(spec))


def _devs(m: RouteMsg) -> set[int]:
    return {i for i in [m.oif, *(nh.ifindex for nh in m.nexthops)] if i}


def present(msgs: list[Message], scope: set[int] | None,
            links: Mapping[int, LinkMsg]) -> dict[Hashable, Message]:
    """The routes of the dumps by identity, those on a device in scope (checked here too)."""
    out: dict[Hashable, Message] = {}
    for m in msgs:
        if isinstance(m, RouteMsg) and (scope is None or _devs(m) & scope):
            out[("route", _key(m))] = m
    return out


def dump_requests(scope: set[int] | None, own: Ownership) -> list[bytes]:
    """One RTM_GETROUTE per device (RTA_OIF, all tables) and owned family."""
    fams = [C.AF_UNSPEC] if {C.AF_INET, C.AF_INET6} <= own.families else sorted(own.families)
    return [encode_getroute(f, None, i) for i in ([0] if scope is None else sorted(scope))
            for f in fams]


def owned(m: Message, own: Ownership) -> bool:
    """True when sync may remove or change the present route ``m``."""
    assert isinstance(m, RouteMsg)
    if m.family not in own.families:
        return False
    if m.protocol == C.RTPROT_KERNEL and not own.kernel_routes:
        return False
    if m.table == 255 and not own.kernel_routes:  # the local table is the kernel's
        return False
    return own.route_protos is None or m.protocol in own.route_protos


def not_owned(spec: RouteSpec, ifname: str, own: Ownership) -> str | None:
    """Why a desired route could never be owned."""
    w = _msg(spec)
    if w.family not in own.families:
        return f"{spec_text(spec)}: family {C.FAMILY_NAMES[w.family]} is not owned by this sync"
    if own.route_protos is not None and w.protocol not in own.route_protos:
        return f"{spec_text(spec)}: proto {w.protocol} is not among the owned protocols " \
               f"{sorted(own.route_protos)}"
    if w.protocol == C.RTPROT_KERNEL and not own.kernel_routes:
        return f"{spec_text(spec)}: proto kernel routes are the kernel's"
    return None


def _hops(m: RouteMsg) -> list[tuple[int, str | None, int]]:
    out = []
    for nh in m.nexthops:
        gw = next((a.value for a in nh.attrs if a.name in ("RTA_GATEWAY",)), None)
        via = next((a.value for a in nh.attrs if a.name == "RTA_VIA"), None)
        if gw is None and isinstance(via, dict):
            gw = via.get("addr")
        out.append((nh.ifindex, gw if isinstance(gw, str) else None, nh.hops + 1))
    return sorted(out, key=repr)


def differences(m: Message, spec: RouteSpec, ifname: str) -> list[str]:
    """What differs between the present route ``m`` and the desired ``spec``."""
    assert isinstance(m, RouteMsg)
    w = _msg(spec)
    out = [name for name, a, b in (
        ("type", m.rtm_type, w.rtm_type), ("scope", m.scope, w.scope),
        ("proto", m.protocol, w.protocol), ("via", m.gateway, w.gateway),
        ("dev", m.oif, w.oif), ("src", m.prefsrc, w.prefsrc),
        ("onlink", m.rtm_flags & RTNH_F_ONLINK, w.rtm_flags & RTNH_F_ONLINK),
        ("nexthops", _hops(m), _hops(w))) if a != b]
    have = m.metrics
    if any(have.get(k) != v for k, v in w.metrics.items()):
        out.append("metrics")
    return out


def change_specs(m: Message, spec: RouteSpec, why: list[str]) -> list[RouteSpec]:
    """One replace: the kernel rewrites the route of the same identity."""
    return [replace(spec, op="replace")]


def removal(m: Message, dev: str | None = None) -> RouteSpec:
    """The RTM_DELROUTE of a present route (identity, device and type, as ``ip route del``)."""
    assert isinstance(m, RouteMsg)
    kinds = {C.RTN_UNICAST: None}
    rtype: Any = kinds.get(m.rtm_type, m.rtm_type)
    return RouteSpec(m.dst, op="del", family=m.family, table=m.table, metric=m.priority,
                     index=m.oif or 0, type=rtype)


def devices(spec: RouteSpec) -> tuple[int, ...]:
    """The interface indexes a desired route goes through."""
    return tuple(i for i in [spec.index, *(nh.index for nh in spec.nexthops or ())] if i)


def resolved(spec: RouteSpec, index: Mapping[str, int]) -> tuple[RouteSpec, str | None]:
    """The spec with its device names as indexes, or the first name that does not exist."""
    missing = next((n for n in spec.names() if n not in index), None)
    if missing is not None:
        return spec, missing
    return (spec.resolved(index) if spec.names() else spec), None


def as_add(spec: RouteSpec) -> RouteSpec:
    """A missing desired route is added."""
    return spec if spec.op == "add" else replace(spec, op="add")
