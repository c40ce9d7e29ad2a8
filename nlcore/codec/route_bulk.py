"""Bulk route input: many routes sharing op, gateway and metric, packed in one backend call.

:class:`RouteBulk` takes a column of destination prefixes (texts or ``ipaddress`` objects),
or a range (:meth:`RouteBulk.range`), plus the fields every route shares (op, via, metric)
and an interface index (one, or one per item, cycled). The prefixes are parsed and
validated as :class:`~nlcore.codec.bulk.AddrBulk` parses addresses (the same errors, naming
the item's index and text); the requests are then stamped, in one native call, from a
sample that :class:`~nlcore.codec.route.RouteSpec` itself encodes for the shared fields, so
item ``i``'s bytes are exactly ``RouteSpec(dst_i, op, via=via, index=index_i,
metric=metric).message`` (``tests/test_route_bulk.py`` checks it for both backends).

``apply()`` sends :attr:`RouteBulk.messages` as it is, with no Python per route; item ``i``
becomes a RouteSpec only where a result needs one (failures, lost acks). A gateway of the
other family than a destination (an IPv6 route via an IPv4 gateway, sent as RTA_VIA) is not
bulk input: such an item is refused, naming it; build those as RouteSpecs.
"""

from __future__ import annotations

from typing import Iterable

from . import _bulk_pure as BP
from . import consts as C
from .bulk import AddrBulk, IndexArg, IPItem, load
from .errors import SpecError
from .records import LazySpecs
from .route import RouteSpec

_SAMPLE_DST = {C.AF_INET: "192.0.2.0/24", C.AF_INET6: "2001:db8::/64"}
_NAMES = {C.AF_INET: "IPv4", C.AF_INET6: "IPv6"}
_MAX_INDEX = 0x7FFFFFFF


class RouteBulk(LazySpecs[RouteSpec]):
    """Many routes ``PREFIX [via GW] [dev index N] [metric M]`` sharing op, via and metric.

    >>> b = RouteBulk(["198.51.100.0/24", "203.0.113.0/24"], index=2, via="192.0.2.1")
    >>> len(b), b[1].text()
    (2, '203.0.113.0/24 via 192.0.2.1 dev index 2')
    >>> b.messages[:b.offsets[1]] == b[0].message
    True

    ``dsts``: prefixes ``ADDR[/PLEN]`` (a bare address is a host route) or ``ipaddress``
    objects. ``index``: one interface index (0: none, the kernel picks by the gateway), or a
    sequence of them used in turn. ``op``, ``via``, ``metric``: RouteSpec's, shared by every
    route. ``messages`` holds the requests back to back, ``offsets`` where each starts (and
    the end), ``biggest`` the largest one's size. ``backend``: "native" or "pure" (default:
    the codec's).
    """

    kind = "route"

    def __init__(self, dsts: Iterable[IPItem], *, index: IndexArg = 0, op: str = "add",
                 via: str | None = None, metric: int | None = None,
                 backend: str | None = None) -> None:
        self._setup(AddrBulk(dsts, index=index, backend=backend), op, via, metric, backend)

    @classmethod
    def range(cls, start: str, count: int, *, prefixlen: int | None = None,
              index: IndexArg = 0, op: str = "add", via: str | None = None,
              metric: int | None = None, backend: str | None = None) -> RouteBulk:
        """``count`` consecutive destinations from ``start`` (``"198.18.0.0"``), each
        /``prefixlen`` (default: host routes), as :meth:`AddrBulk.range` counts them."""
        self = cls.__new__(cls)
        self._setup(AddrBulk.range(start, count, prefixlen=prefixlen, index=index,
                                   backend=backend), op, via, metric, backend)
        return self

    def _setup(self, dsts: AddrBulk, op: str, via: str | None, metric: int | None,
               backend: str | None) -> None:
        self._dsts, self.op, self.via, self.metric = dsts, op, via, metric
        used = dsts.indexes[:len(dsts)]  # item i takes indexes[i % len(indexes)]
        if used and max(used) > _MAX_INDEX:  # RouteSpec's bound (the kernel's int)
            i = next(i for i, v in enumerate(used) if v > _MAX_INDEX)
            try:
                self.spec(i)
            except SpecError as e:
                raise SpecError(f"item {i} {dsts._text(i)!r}: {e}") from None
        samples = {fam: self._sample(fam) for fam in (C.AF_INET, C.AF_INET6)}
        try:
            self.messages, self.offsets = load(backend).route_bulk(
                dsts.records, samples[C.AF_INET], samples[C.AF_INET6])
        except BP.BadItem as bad:
            raise self._refused(bad.index) from None
        sizes = {len(s) for s in samples.values() if s}
        self.biggest = max(sizes, default=0)

    def _sample(self, family: int) -> bytes:
        """RouteSpec's request for the shared fields and a destination of ``family`` (index
        1, so that it ends with RTA_OIF); b"" when a gateway of the other family makes it
        another layout (RTA_VIA). RouteSpec's own errors for a bad op, via or metric."""
        if isinstance(self.via, str) and (":" in self.via) != (family == C.AF_INET6):
            RouteSpec(_SAMPLE_DST[C.AF_INET6 if ":" in self.via else C.AF_INET], op=self.op,
                      via=self.via, index=1, metric=self.metric)  # its errors, if any
            return b""
        spec = RouteSpec(_SAMPLE_DST[family], op=self.op, via=self.via, index=1,
                         metric=self.metric)
        return spec.message

    def _refused(self, i: int) -> SpecError:
        text = self._dsts._text(i)
        spec = self._dsts.spec(i)
        fam = _NAMES.get(spec.family, str(spec.family))
        return SpecError(f"item {i} {text!r}: an {fam} destination via {self.via!r} (a gateway "
                         f"of the other family) is not bulk input: build it as a RouteSpec")

    def spec(self, i: int) -> RouteSpec:
        """Item ``i`` (``0 <= i < len(self)``) as a RouteSpec: the same request bytes."""
        d = self._dsts
        text = d._text(i)
        idx = d.indexes[i % len(d.indexes)]
        return RouteSpec(text, op=self.op, via=self.via, index=idx, metric=self.metric)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __repr__(self) -> str:
        return f"RouteBulk({len(self)} routes, op={self.op!r}, via={self.via!r})"


__all__ = ["RouteBulk"]
