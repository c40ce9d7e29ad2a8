"""The engine's "neigh" kind: a neighbour is (family, device, address); lost acks are decided
by RTM_GETNEIGH dumps filtered in the kernel by family and device (strict checking). An add
that meets an existing entry is EEXIST, a delete of a missing one ENOENT. The IPv6-disabled
policy applies to IPv6 neighbours (the kernel answers EINVAL "IPv6 is disabled on this
device" for them)."""

from __future__ import annotations

import errno as E
import socket
from typing import Hashable, Iterable

from ..codec import consts as C
from ..codec.decode import NeighMsg
from ..codec.neigh import NeighSpec, encode_getneigh
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


register(Kind("neigh", neigh_dump, neigh_key, E.EEXIST, (E.ENOENT,), ("add",), ("del",), True))
