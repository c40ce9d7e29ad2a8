"""Neighbour request specs: ``ip neigh add|replace|change|del`` as data, encoded once.

``message`` is byte for byte what iproute2 sends for ``ip neigh OP [proxy] ADDR [lladdr LL]
dev DEV [nud STATE] [router]`` (tests/golden/iproute2_neigh.json): struct ndmsg with the state
(NUD_PERMANENT unless given, also for a delete, as iproute2 does), NTF_PROXY / NTF_ROUTER in
ndm_flags, then NDA_DST and NDA_LLADDR.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Mapping

from . import consts as C
from .attrs import encode, nlmsg
from .errors import SpecError
from .spec import parse_ip
from .specbase import check_dev, check_index, lookup, parse_mac, word
from .tables import NDA, NDMSG

_NEW = C.NLM_F_REQUEST | C.NLM_F_ACK
OPS: dict[str, tuple[int, int]] = {
    "add": (C.RTM_NEWNEIGH, _NEW | C.NLM_F_CREATE | C.NLM_F_EXCL),
    "replace": (C.RTM_NEWNEIGH, _NEW | C.NLM_F_CREATE | C.NLM_F_REPLACE),
    "change": (C.RTM_NEWNEIGH, _NEW | C.NLM_F_REPLACE),
    "del": (C.RTM_DELNEIGH, _NEW),
}
STATES: dict[str, int] = {"permanent": C.NUD_PERMANENT, "noarp": C.NUD_NOARP,
                          "reachable": C.NUD_REACHABLE, "stale": C.NUD_STALE,
                          "none": C.NUD_NONE, "delay": C.NUD_DELAY, "probe": C.NUD_PROBE,
                          "failed": C.NUD_FAILED, "incomplete": C.NUD_INCOMPLETE}
STATE_NAMES = {v: k for k, v in STATES.items()}


@dataclass(frozen=True)
class NeighSpec:
    """One neighbour entry to add, replace, change or delete.

    >>> NeighSpec("192.0.2.5", lladdr="02:00:00:00:00:05", index=3).text()
    '192.0.2.5 lladdr 02:00:00:00:00:05 dev index 3 nud permanent'
    """

    kind: ClassVar[str] = "neigh"
    address: str
    op: str = "add"
    lladdr: str | None = None
    dev: str | None = None
    index: int = 0
    state: str | int = "permanent"
    proxy: bool = False
    router: bool = False
    family: int = field(init=False, repr=False, compare=False)
    message: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise SpecError(f"invalid op {self.op!r}: expected {', '.join(OPS)}")
        family, dst = parse_ip(self.address, "neighbour address")
        check_dev(self.dev)
        index = check_index(self.index)
        state = word(self.state, STATES, "nud state", C.NUD_PERMANENT, 0xFFFF)
        flags = (C.NTF_PROXY if self.proxy else 0) | (C.NTF_ROUTER if self.router else 0)
        items: list[tuple[str, bytes]] = [("NDA_DST", dst)]
        if self.lladdr is not None:
            items.append(("NDA_LLADDR", parse_mac(self.lladdr)))
        mtype, nlflags = OPS[self.op]
        body = NDMSG.layout.pack(family, index, state, flags, 0) + encode(NDA, items)
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "message", nlmsg(mtype, nlflags, body))

    def names(self) -> tuple[str, ...]:
        """Interface names still to resolve (dev)."""
        return (self.dev,) if self.dev and not self.index else ()

    def resolved(self, idx: Mapping[str, int]) -> NeighSpec:
        """The same spec with ``dev`` resolved to its index in ``idx``."""
        if not self.names():
            return self
        return replace(self, index=lookup(idx, self.dev or ""))

    def text(self) -> str:
        """``192.0.2.5 lladdr 02:00:00:00:00:05 dev v0 nud permanent``."""
        out = ["proxy"] if self.proxy else []
        out.append(self.address)
        if self.lladdr is not None:
            out.append(f"lladdr {self.lladdr}")
        out.append(f"dev {self.dev}" if self.dev else f"dev index {self.index}")
        out.append(f"nud {self.state}")
        return " ".join(out + (["router"] if self.router else []))


def encode_getneigh(family: int = C.AF_UNSPEC, ifindex: int = 0, *, proxy: bool = False,
                    seq: int = 0, pid: int = 0) -> bytes:
    """RTM_GETNEIGH dump (``ip neigh show [dev X]``): the device filter goes in NDA_IFINDEX,
    the header stays zero, as strict checking requires and iproute2 sends it."""
    if family not in (C.AF_UNSPEC, C.AF_INET, C.AF_INET6):
        raise SpecError(f"invalid address family {family!r}: expected 0, 2 or 10")
    body = NDMSG.layout.pack(family, 0, 0, C.NTF_PROXY if proxy else 0, 0)
    if check_index(ifindex):
        body += encode(NDA, [("NDA_IFINDEX", ifindex)])
    return nlmsg(C.RTM_GETNEIGH, C.NLM_F_REQUEST | C.NLM_F_DUMP, body, seq, pid)
