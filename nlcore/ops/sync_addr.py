"""Addresses for :func:`nlcore.ops.sync.sync`: identity, ownership, comparison and the requests
that turn what is there into what is wanted.

An address is identified as the kernel identifies it: (ifindex, family, local, prefix length,
peer). Two addresses of the same identity *differ* when a value the desired spec sets (or
implies) is not what the kernel holds: label (IPv4; the kernel's default is the device name),
broadcast (when given), scope, the settable flags, metric, proto (when given) and whether the
lifetimes are forever. A difference that ``ip addr replace`` can fix (the metric and the
lifetimes; for IPv6 also the flags) is one RTM_NEWADDR with NLM_F_REPLACE; any other (IPv4
label, broadcast, scope or flags; a proto) is a delete and an add, since the kernel keeps
those values on replace (measured on Linux 6.x, see tests/test_sync.py).
"""

from __future__ import annotations

import fnmatch
import socket
from dataclasses import replace
from typing import Any, Hashable, Mapping

from ..codec import _pure as P
from ..codec import consts as C
from ..codec.decode import AddrMsg, Message
from ..codec.spec import AddrSpec
from .sync_rules import Ownership

#: Flags compared between desired and present (IFA_F_OPTIMISTIC is transient: DAD clears it).
COMPARED_FLAGS = (C.IFA_F_NODAD | C.IFA_F_HOMEADDRESS | C.IFA_F_MANAGETEMPADDR
                  | C.IFA_F_NOPREFIXROUTE | C.IFA_F_MCAUTOJOIN)
#: Flags an IPv6 replace rewrites (inet6_addr_modify); IPv4 replace keeps the old ones.
V6_REPLACEABLE_FLAGS = (C.IFA_F_NODAD | C.IFA_F_HOMEADDRESS | C.IFA_F_MANAGETEMPADDR
                        | C.IFA_F_NOPREFIXROUTE)
#: IFA_PROTO values the kernel itself gives (include/uapi/linux/if_addr.h IFAPROT_KERNEL_*).
KERNEL_PROTOS = frozenset({1, 2, 3})
_FAM = {C.AF_INET: socket.AF_INET, C.AF_INET6: socket.AF_INET6}


def canon(family: int, text: str) -> str:
    """The kernel's spelling of an address (``2001:DB8:0::1`` -> ``2001:db8::1``)."""
    fam = _FAM[family]
    return socket.inet_ntop(fam, socket.inet_pton(fam, text.partition("/")[0]))


def spec_key(s: AddrSpec) -> Hashable:
    """The identity of a desired address."""
    peer = canon(s.family, s.peer) if s.peer is not None else None
    return ("addr", s.index, s.family, canon(s.family, s.address), s.prefixlen, peer)


def _peer(m: AddrMsg) -> str | None:
    local, address = m.get(C.IFA_LOCAL), m.get(C.IFA_ADDRESS)
    return address if isinstance(address, str) and local is not None and address != local \
        else None


def msg_key(m: AddrMsg) -> Hashable:
    """The identity of a present address."""
    return ("addr", m.index, m.family, m.local, m.prefixlen, _peer(m))


def is_kernels(m: AddrMsg) -> bool:
    """Link-local, or made by the kernel itself (IFA_PROTO kernel_*)."""
    local = m.local or ""
    if m.family == C.AF_INET6 and local.lower().startswith(("fe8", "fe9", "fea", "feb")):
        return True
    if m.family == C.AF_INET and local.startswith("169.254."):
        return True
    return m.get(C.IFA_PROTO) in KERNEL_PROTOS


def owned(m: AddrMsg, rules: Ownership) -> bool:
    """True when sync may remove or change ``m``."""
    if m.family not in rules.families or (is_kernels(m) and not rules.link_local):
        return False
    if rules.labels is not None:
        label = m.get(C.IFA_LABEL)
        return isinstance(label, str) and any(fnmatch.fnmatchcase(label, p) for p in rules.labels)
    return True


def spec_owned(s: AddrSpec, ifname: str, rules: Ownership) -> str | None:
    """Why a desired address could never be owned (so a later sync could not remove it)."""
    if s.family not in rules.families:
        return f"{s.text()}: family {C.FAMILY_NAMES[s.family]} is not owned by this sync"
    if rules.labels is not None:
        label = s.label or ifname
        if s.family != C.AF_INET or not any(fnmatch.fnmatchcase(label, p) for p in rules.labels):
            return f"{s.text()}: label {label!r} matches none of the owned labels " \
                   f"{sorted(rules.labels)}"
    return None


def _fields(s: AddrSpec) -> tuple[int, int, int, int, int, int, int, bytes, str | None]:
    """(scope, proto, flags, present bits, metric, valid, preferred, broadcast, label) of the
    spec's record: the values exactly as they would be sent."""
    (_t, _f, _fam, _plen, scope, proto, _idx, flags, present, prio, valid, pref, _l, _p, brd,
     label) = P.ADDR_REC.unpack(s.record)
    text = label.split(b"\0", 1)[0].decode() if present & P.A_LABEL else None
    return scope, proto, flags, present, prio, valid, pref, brd[:4], text


def differences(m: AddrMsg, s: AddrSpec, ifname: str) -> list[str]:
    """What differs between the present ``m`` and the desired ``s`` (same identity)."""
    scope, proto, flags, present, prio, valid, pref, brd, label = _fields(s)
    out = []
    if m.family == C.AF_INET:
        want = label or ifname
        if m.get(C.IFA_LABEL) != want:
            out.append("label")
        if present & P.A_BROADCAST and m.get(C.IFA_BROADCAST) != socket.inet_ntop(
                socket.AF_INET, brd):
            out.append("broadcast")
    if m.scope != scope:
        out.append("scope")
    if (m.flags & COMPARED_FLAGS) != (flags & COMPARED_FLAGS):
        out.append("flags")
    if (m.get(C.IFA_RT_PRIORITY) or 0) != (prio if present & P.A_PRIORITY else 0):
        out.append("metric")
    if present & P.A_PROTO and (m.get(C.IFA_PROTO) or 0) != proto:
        out.append("proto")
    ci = m.get(C.IFA_CACHEINFO)
    have = (ci["valid"], ci["preferred"]) if isinstance(ci, dict) else (C.INFINITY_LIFE_TIME,) * 2
    want_lft = (valid, pref) if present & P.A_CACHEINFO else (C.INFINITY_LIFE_TIME,) * 2
    forever = C.INFINITY_LIFE_TIME
    if (have[0] == forever) != (want_lft[0] == forever) or \
            (have[1] == forever) != (want_lft[1] == forever):
        out.append("lifetimes")
    return out


def replaceable(family: int, diffs: list[str], m: AddrMsg, s: AddrSpec) -> bool:
    """True when one ``replace`` fixes every difference (else: delete, then add)."""
    allowed = {"metric", "lifetimes"} | ({"flags"} if family == C.AF_INET6 else set())
    if not set(diffs) <= allowed:
        return False
    if "flags" in diffs:
        changed = (m.flags ^ _fields(s)[2]) & COMPARED_FLAGS
        return not changed & ~V6_REPLACEABLE_FLAGS
    return True


def change_specs(m: AddrMsg, s: AddrSpec, diffs: list[str]) -> list[AddrSpec]:
    """The requests that make ``m`` into ``s``: one replace, or a delete and an add."""
    if replaceable(m.family, diffs, m, s):
        metric = s.metric if s.metric is not None else 0  # the kernel keeps an unsent metric
        return [replace(s, op="replace", metric=metric)]
    return [removal(m, s.dev), as_add(s)]


def removal(m: AddrMsg, dev: str | None = None) -> AddrSpec:
    """The RTM_DELADDR for a present address (identity only, as ``ip addr del`` sends it)."""
    peer = _peer(m)
    addr = f"{m.local}/{m.prefixlen}" if peer is None else str(m.local)
    return AddrSpec(addr, index=m.index, op="del", dev=dev,
                    peer=f"{peer}/{m.prefixlen}" if peer is not None else None)


def dump_requests(indexes: Mapping[int, str] | None, families: frozenset[int]) -> list[bytes]:
    """RTM_GETADDR dumps filtered in the kernel: one per device (ifa_index, strict checking)
    and family (one AF_UNSPEC dump when both are owned); ``None``: the whole namespace."""
    from ..codec.wire import encode_getaddr

    fams = [C.AF_UNSPEC] if {C.AF_INET, C.AF_INET6} <= families else sorted(families)
    idx = [0] if indexes is None else sorted(indexes)
    return [encode_getaddr(f, i) for i in idx for f in fams]


def present(msgs: list[Message], scope: set[int] | None) -> dict[Hashable, Message]:
    """The addresses of a dump by identity (only devices in scope: the filter is checked here
    too, in case a kernel ignored it)."""
    return {msg_key(m): m for m in msgs
            if isinstance(m, AddrMsg) and m.local and (scope is None or m.index in scope)}


def resolved(s: AddrSpec, index: Mapping[str, int]) -> tuple[AddrSpec, str | None]:
    """The spec with its device name as an index, or the name that does not exist."""
    if s.index or s.dev is None:
        return s, None
    if s.dev not in index:
        return s, s.dev
    return s.with_index(index[s.dev]), None


def as_add(s: AddrSpec) -> AddrSpec:
    """The spec as an add (a desired ``replace`` line is an add when the address is missing)."""
    return s if s.op == "add" else replace(s, op="add")


def _subnet(m: AddrMsg) -> tuple[int, int]:
    raw = socket.inet_pton(socket.AF_INET, str(m.local))
    mask = ((1 << 32) - 1) ^ ((1 << (32 - m.prefixlen)) - 1) if m.prefixlen else 0
    return m.index, int.from_bytes(raw, "big") & mask


def guard_removals(changes: list[Any], present: dict[Hashable, Message],
                   own: Ownership) -> None:
    """Refuse to delete an IPv4 primary whose subnet holds a secondary this sync does not own:
    the kernel deletes secondaries with their primary (unless promote_secondaries is set),
    so the delete would remove what sync must not touch. Desired secondaries are re-added
    after the deletions instead (see sync.plan)."""
    going = {c.key for c in changes if c.action == "remove" or len(c.requests) == 2}
    for c in changes:
        m = c.present
        if c.key not in going or not isinstance(m, AddrMsg) or m.family != C.AF_INET \
                or m.flags & C.IFA_F_SECONDARY or not m.prefixlen:
            continue
        net = _subnet(m)
        hit = [o for k, o in present.items() if k not in going and isinstance(o, AddrMsg)
               and o.family == C.AF_INET and o.flags & C.IFA_F_SECONDARY
               and _subnet(o) == net and not owned(o, own)]
        if hit:
            c.reason = (f"deleting the primary {m.local}/{m.prefixlen} would make the kernel "
                        f"delete {hit[0].local}/{hit[0].prefixlen} with it, which this sync does "
                        f"not own (set net.ipv4.conf.DEV.promote_secondaries=1 to keep it)")
