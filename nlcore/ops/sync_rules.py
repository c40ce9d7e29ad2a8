"""What a sync owns: the rules that decide which present items it may remove or change."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codec import consts as C

RTPROT_KERNEL = 2  # include/uapi/linux/rtnetlink.h: routes the kernel installs itself


@dataclass(frozen=True)
class Ownership:
    """Which present items :func:`~nlcore.ops.sync.sync` owns on the devices in its scope.

    By default it owns every address and every route there, except link-local addresses,
    addresses the kernel made (IFA_PROTO kernel_*) and the kernel's own routes (proto kernel).
    The rules only narrow that:

    ``families``: address and route families owned (AF_INET, AF_INET6).
    ``labels``: when not None, only IPv4 addresses whose label matches one of these shell
    patterns (``"v0:sync*"``) are owned, and no IPv6 address (they carry no label).
    ``route_protos``: when not None, only routes of these protocols (numbers) are owned.
    ``link_local``: also own link-local and kernel-made addresses. ``kernel_routes``: also own
    proto kernel routes. ``kinds``: the kinds whose present items may be removed; "neigh"
    (permanent and noarp entries only, never learned ones) is off by default.
    A desired item that these rules would not own is refused before anything is sent: a later
    sync could never remove it.
    """

    families: frozenset[int] = frozenset({C.AF_INET, C.AF_INET6})
    labels: frozenset[str] | None = None
    route_protos: frozenset[int] | None = None
    link_local: bool = False
    kernel_routes: bool = False
    kinds: frozenset[str] = field(default_factory=lambda: frozenset({"addr", "route"}))

    def __post_init__(self) -> None:
        for name in ("families", "kinds"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        for name in ("labels", "route_protos"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, frozenset(v))
        bad = set(self.families) - {C.AF_INET, C.AF_INET6}
        if bad:
            from ..codec.errors import SpecError

            raise SpecError(f"invalid families {sorted(bad)}: expected 2 (inet), 10 (inet6)")
