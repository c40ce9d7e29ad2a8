"""Link request specs: ``ip link set DEV [up|down] [mtu N] [address MAC] [name NEW]
[master M | nomaster]`` as data, encoded once.

``message`` is the RTM_NEWLINK with ifi_index set that iproute2 sends for that command line
(attributes in that order; tests/golden/iproute2_link.json), NLM_F_REQUEST|NLM_F_ACK.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Mapping

from . import consts as C
from .attrs import encode, nlmsg
from .errors import SpecError
from .spec import check_ifname
from .specbase import check_dev, check_index, check_u32, lookup, parse_mac
from .tables import IFINFOMSG, IFLA


@dataclass(frozen=True)
class LinkSpec:
    """One ``ip link set``: state, MTU, MAC address, new name, master.

    >>> LinkSpec("v0", index=3, up=True, mtu=1400).text()
    'dev v0 up mtu 1400'
    """

    kind: ClassVar[str] = "link"
    dev: str | None = None
    index: int = 0
    op: str = "set"
    up: bool | None = None
    mtu: int | None = None
    address: str | None = None
    name: str | None = None
    master: str | int | None = None
    nomaster: bool = False
    family: int = field(init=False, repr=False, compare=False, default=C.AF_UNSPEC)
    message: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op != "set":
            raise SpecError(f"invalid op {self.op!r}: expected set")
        check_dev(self.dev)
        index = check_index(self.index)
        if self.dev is None and not index:
            raise SpecError("a link spec needs dev or index")
        if self.master is not None and self.nomaster:
            raise SpecError("master and nomaster exclude each other")
        items: list[tuple[str, Any]] = []
        if self.mtu is not None:
            items.append(("IFLA_MTU", check_u32(self.mtu, "mtu", 1)))
        if self.address is not None:
            items.append(("IFLA_ADDRESS", parse_mac(self.address, "address")))
        if self.name is not None:
            items.append(("IFLA_IFNAME", check_ifname(self.name, "new name").decode()))
        if self.master is not None:
            master = self.master
            if isinstance(master, str):
                check_ifname(master, "master name")
                master = 0
            items.append(("IFLA_MASTER", check_index(master, "master index")))
        elif self.nomaster:
            items.append(("IFLA_MASTER", 0))
        flags = C.IFF_UP if self.up else 0
        change = C.IFF_UP if self.up is not None else 0
        body = IFINFOMSG.layout.pack(C.AF_UNSPEC, 0, index, flags, change) + encode(IFLA, items)
        object.__setattr__(self, "message", nlmsg(C.RTM_NEWLINK, C.NLM_F_REQUEST | C.NLM_F_ACK,
                                                  body))

    def names(self) -> tuple[str, ...]:
        """Interface names still to resolve (dev, master)."""
        out = [self.dev] if self.dev and not self.index else []
        if isinstance(self.master, str):
            out.append(self.master)
        return tuple(dict.fromkeys(out))

    def resolved(self, idx: Mapping[str, int]) -> LinkSpec:
        """The same spec with dev and master resolved to their indexes in ``idx``."""
        index = lookup(idx, self.dev) if self.dev and not self.index else self.index
        master = lookup(idx, self.master) if isinstance(self.master, str) else self.master
        return replace(self, index=index, master=master)

    def text(self) -> str:
        """``dev v0 up mtu 1400``, as errors print it."""
        out = [f"dev {self.dev}" if self.dev else f"dev index {self.index}"]
        if self.up is not None:
            out.append("up" if self.up else "down")
        for key in ("mtu", "address", "name", "master"):
            if getattr(self, key) is not None:
                out.append(f"{key} {getattr(self, key)}")
        return " ".join(out + (["nomaster"] if self.nomaster else []))
