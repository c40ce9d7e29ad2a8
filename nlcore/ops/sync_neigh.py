"""Neighbours for :func:`nlcore.ops.sync.sync`: (family, device, address) as the engine's
neigh kind names them. Only static entries (permanent, noarp) are ever removed, and only when
``"neigh"`` is in ``Ownership.kinds``: learned entries (reachable, stale...) are the kernel's
(one with the identity of a desired entry is changed into it).
A change (link-layer address, state, router flag) is one ``replace``. Proxy entries are not
read (their dump is a separate table)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Hashable, Mapping

from ..codec import consts as C
from ..codec.decode import LinkMsg, Message, NeighMsg, decode
from ..codec.neigh import NeighSpec, encode_getneigh
from .kind_neigh import neigh_key
from .sync_report import spec_text
from .sync_rules import Ownership

STATIC = C.NUD_PERMANENT | C.NUD_NOARP


def key(spec: NeighSpec) -> Hashable:
    """The identity of a desired neighbour."""
    return ("neigh", neigh_key(spec))


def dump_requests(scope: set[int] | None, own: Ownership) -> list[bytes]:
    """One RTM_GETNEIGH per device in scope (filtered in the kernel) and owned family."""
    fams = [C.AF_UNSPEC] if {C.AF_INET, C.AF_INET6} <= own.families else sorted(own.families)
    return [encode_getneigh(f, i) for i in ([0] if scope is None else sorted(scope))
            for f in fams]


def present(msgs: list[Message], scope: set[int] | None,
            links: Mapping[int, LinkMsg]) -> dict[Hashable, Message]:
    """The neighbours of the dumps by identity (devices in scope)."""
    return {("neigh", (m.family, m.index, m.dst)): m for m in msgs
            if isinstance(m, NeighMsg) and m.dst and (scope is None or m.index in scope)}


def owned(m: Message, own: Ownership) -> bool:
    """Static entries of owned families, when neighbours are owned at all; never the
    multicast entries the kernel makes itself (noarp, ff02::16...)."""
    assert isinstance(m, NeighMsg)
    return "neigh" in own.kinds and m.family in own.families and bool(m.state & STATIC) \
        and not ipaddress.ip_address(str(m.dst)).is_multicast


def changeable(m: Message, own: Ownership) -> bool:
    """A present entry with the identity of a desired one may be changed (made static) when
    its family is owned, learned or not: a learned entry is the kernel's cache, not someone's
    setting."""
    assert isinstance(m, NeighMsg)
    return m.family in own.families


def not_owned(spec: NeighSpec, ifname: str, own: Ownership) -> str | None:
    """Why a desired neighbour could never be owned."""
    if spec.family not in own.families:
        return f"{spec_text(spec)}: family {C.FAMILY_NAMES[spec.family]} is not owned"
    return None


def _wanted(spec: NeighSpec) -> NeighMsg:
    (m,) = decode(spec.message)
    assert isinstance(m, NeighMsg)
    return m


def differences(m: Message, spec: NeighSpec, ifname: str) -> list[str]:
    """What differs: the link-layer address, the state, the router flag."""
    assert isinstance(m, NeighMsg)
    w = _wanted(spec)
    out = []
    if w.lladdr is not None and (m.lladdr or "").lower() != w.lladdr.lower():
        out.append("lladdr")
    if m.state != w.state:
        out.append("state")
    if (m.ndm_flags ^ w.ndm_flags) & C.NTF_ROUTER:
        out.append("router")
    return out


def change_specs(m: Message, spec: NeighSpec, why: list[str]) -> list[NeighSpec]:
    """One replace."""
    return [replace(spec, op="replace")]


def removal(m: Message, dev: str | None = None) -> NeighSpec:
    """The RTM_DELNEIGH of a present entry."""
    assert isinstance(m, NeighMsg)
    return NeighSpec(str(m.dst), op="del", index=m.index, dev=dev)


def devices(spec: NeighSpec) -> tuple[int, ...]:
    """The device of the entry."""
    return (spec.index,)


def resolved(spec: NeighSpec, index: Mapping[str, int]) -> tuple[NeighSpec, str | None]:
    """The spec with its device as an index, or the name that does not exist."""
    if spec.index or spec.dev is None:
        return spec, None
    if spec.dev not in index:
        return spec, spec.dev
    return replace(spec, index=index[spec.dev]), None


def as_add(spec: NeighSpec) -> NeighSpec:
    """A missing desired neighbour is added."""
    return spec if spec.op == "add" else replace(spec, op="add")
