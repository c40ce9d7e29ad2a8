"""The engine's "neigh" kind: a neighbour is (family, device, address); lost acks are decided
by RTM_GETNEIGH dumps filtered in the kernel by family and device (strict checking). An add
that meets an existing entry is EEXIST, a delete of a missing one ENOENT. The IPv6-disabled
policy applies to IPv6 neighbours (the kernel answers EINVAL "IPv6 is disabled on this
device" for them). With ``exist_ok`` an EEXIST add is "exists" only when the entry that
exists is the one asked for (lladdr, NUD state, router flag; read back by the same dump),
else "failed" naming what differs."""

from __future__ import annotations

import errno as E
import socket
from typing import Hashable, Iterable, Sequence

from ..codec import consts as C
from ..codec.decode import NeighMsg, decode
from ..codec.neigh import STATE_NAMES, NeighSpec, encode_getneigh
from ..net.conn import Conn
from .kinds import Kind, register


def _canon(family: int, addr: str) -> str:
    fam = socket.AF_INET6 if family == C.AF_INET6 else socket.AF_INET
    return socket.inet_ntop(fam, socket.inet_pton(fam, addr))


def neigh_key(spec: NeighSpec) -> Hashable:
    """(family, ifindex, canonical address)."""
    return (spec.family, spec.index, _canon(spec.family, spec.address))


def neigh_dump(conn: Conn, specs: Iterable[NeighSpec]) -> set[Hashable]:
    """Neighbours present: one kernel-filtered dump per (family, device, proxy)."""
    present: set[Hashable] = set()
    for fam, index, proxy in sorted({(s.family, s.index, s.proxy) for s in specs}):
        for m in conn.request(encode_getneigh(fam, index, proxy=proxy)):
            if isinstance(m, NeighMsg) and m.dst is not None:
                present.add((m.family, m.index, m.dst))
    return present


_STATIC = C.NUD_PERMANENT | C.NUD_NOARP


def _state(state: int) -> str:
    return STATE_NAMES.get(state, f"{state:#x}")


def _diff(spec: NeighSpec, want: NeighMsg, have: NeighMsg) -> list[str]:
    """What an existing entry differs in: lladdr (when the spec gives one), the NUD state
    (a static one, permanent or noarp, exactly; a dynamic one, which the kernel moves between
    by itself, matches any dynamic state) and the router flag; a proxy entry has none."""
    out: list[str] = []
    if spec.proxy:  # a proxy entry is its key (address, device): no lladdr, no NUD state
        return out
    if want.lladdr is not None and want.lladdr != have.lladdr:
        out.append(f"lladdr {have.lladdr or 'none'} (asked for {want.lladdr})")
    static = want.state & _STATIC
    if (have.state != want.state) if static else bool(have.state & _STATIC):
        out.append(f"nud {_state(have.state)} (asked for {_state(want.state)})")
    if not spec.proxy and (want.ndm_flags ^ have.ndm_flags) & C.NTF_ROUTER:
        out.append(f"router {'on' if have.ndm_flags & C.NTF_ROUTER else 'off'} (asked for "
                   f"{'on' if spec.router else 'off'})")
    return out


def neigh_same(conn: Conn, specs: Sequence[NeighSpec]) -> list[str | None]:
    """For adds that met EEXIST: None where the entry that exists is the one asked for,
    else what differs (one kernel-filtered dump per family, device and proxy)."""
    have: dict[Hashable, NeighMsg] = {}
    for fam, index, proxy in sorted({(s.family, s.index, s.proxy) for s in specs}):
        for m in conn.request(encode_getneigh(fam, index, proxy=proxy)):
            if isinstance(m, NeighMsg) and m.dst is not None:
                have[(m.family, m.index, m.dst, proxy)] = m
    out: list[str | None] = []
    for spec in specs:
        (want,) = decode(spec.message)
        assert isinstance(want, NeighMsg)
        there = have.get((*neigh_key(spec), spec.proxy))  # type: ignore[misc]
        if there is None:
            out.append("the existing neighbour was gone when read back (a kernel dump): "
                       "cannot tell whether it was the one asked for")
            continue
        diffs = _diff(spec, want, there)
        out.append(f"an existing neighbour entry differs: {', '.join(diffs)}" if diffs else None)
    return out


register(Kind("neigh", neigh_dump, neigh_key, E.EEXIST, (E.ENOENT,), ("add",), ("del",), True,
              same=neigh_same))
