"""Route request specs: ``ip route add|replace|change|append|del`` as data, encoded once.

A :class:`RouteSpec` is validated at construction and its ``message`` holds the whole
RTM_NEWROUTE / RTM_DELROUTE (nlmsg_seq 0, nlmsg_pid 0), byte for byte what iproute2 sends for
the canonical command line ``ip [-4|-6] route OP [TYPE] DST [via [inet6] GW] [src PREFSRC]
[table T] [proto P] [scope S] [metric M] [onlink] [METRIC VALUE...] [dev DEV] [nexthop ...]``
(tests/golden/iproute2_route.json proves it). Header defaults follow iproute2: table main
(local for type local), protocol boot, scope link for a unicast route with neither gateway nor
nexthops (universe otherwise, host for local, always universe for IPv6); a delete sends
protocol 0, type 0 unless given, scope nowhere (IPv4).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Mapping, Sequence

from . import consts as C
from .attrs import encode, nlmsg
from .errors import SpecError
from .route_fast import fast as _fast
from .route_words import METRICS, OPS, PROTOS, TABLES, TYPE_NAMES, TYPES
from .spec import SCOPE_WORDS, parse_ip, parse_prefix
from .specbase import check_dev, check_index, check_u32, lookup, word
from .tables import RTA, RTMSG

__all__ = ["METRICS", "OPS", "PROTOS", "TABLES", "TYPES", "TYPE_NAMES", "NextHop", "RouteSpec",
           "encode_getroute"]
_TYPE = type  # the constructor's parameter ``type`` shadows the builtin
_ALEN = {C.AF_INET: 4, C.AF_INET6: 16}


def _gateway(via: str, family: int) -> tuple[str, Any]:
    """RTA_GATEWAY when ``via`` is of the route's family, else RTA_VIA (struct rtvia)."""
    vfam, raw = parse_ip(via, "via")
    return ("RTA_GATEWAY", raw) if vfam == family else ("RTA_VIA", (vfam, raw))


@dataclass(frozen=True)
class NextHop:
    """One nexthop of a multipath route (``nexthop via GW dev DEV weight W onlink``)."""

    via: str | None = None
    dev: str | None = None
    index: int = 0
    weight: int = 1
    onlink: bool = False

    def __post_init__(self) -> None:
        if self.via is not None:
            parse_ip(self.via, "nexthop via")
        check_dev(self.dev, "nexthop dev")
        check_index(self.index, "nexthop interface index")
        check_u32(self.weight, "nexthop weight", 1, 256)
        if self.via is None and self.dev is None and not self.index:
            raise SpecError("a nexthop needs via or dev")

    def item(self, family: int) -> tuple[int, int, int, list[tuple[str, Any]]]:
        """(rtnh_flags, rtnh_hops, rtnh_ifindex, attributes) for RTA_MULTIPATH."""
        attrs = [_gateway(self.via, family)] if self.via is not None else []
        return (C.RTNH_F_ONLINK if self.onlink else 0, self.weight - 1, self.index, attrs)

    def text(self) -> str:
        """``nexthop via 192.0.2.2 dev v0 weight 2``."""
        out = ["nexthop"]
        if self.via is not None:
            out.append(f"via {self.via}")
        if self.dev or self.index:
            out.append(f"dev {self.dev}" if self.dev else f"dev index {self.index}")
        if self.weight != 1:
            out.append(f"weight {self.weight}")
        return " ".join(out + (["onlink"] if self.onlink else []))


@dataclass(frozen=True, init=False)
class RouteSpec:
    """One route to add, replace, change, append or delete, in iproute2's terms.

    >>> RouteSpec("198.51.100.0/24", via="192.0.2.1", index=3).text()
    '198.51.100.0/24 via 192.0.2.1 dev index 3'

    ``family`` (0 or None: infer) comes from dst, via, prefsrc or the nexthops (AF_INET when
    nothing says);
    given explicitly, a ``default`` dst is also sent as an all-zero RTA_DST, as ``ip -4``/
    ``ip -6`` send it. ``type`` None means unicast (unspecified for a delete). ``metrics``
    maps iproute2's words (``mtu``, ``advmss``, ``congctl``...) to values, sent in order.
    """

    kind: ClassVar[str] = "route"
    dst: str = "default"
    op: str = "add"
    family: int = C.AF_UNSPEC
    via: str | None = None
    dev: str | None = None
    index: int = 0
    table: int | str | None = None
    metric: int | None = None
    scope: int | str | None = None
    proto: int | str | None = None
    type: str | int | None = None
    prefsrc: str | None = None
    onlink: bool = False
    metrics: Mapping[str, int | str] | None = None
    nexthops: Sequence[NextHop] | None = None
    message: bytes = field(init=False, repr=False, compare=False)
    family_given: int | None = field(init=False, repr=False, compare=False)
    #: True when names() is not empty (the engine reads it with no Python per spec)
    needs_names: bool = field(init=False, repr=False, compare=False, default=False)

    def __init__(self, dst: str = "default", op: str = "add", family: int = C.AF_UNSPEC,
                 via: str | None = None, dev: str | None = None, index: int = 0,
                 table: int | str | None = None, metric: int | None = None,
                 scope: int | str | None = None, proto: int | str | None = None,
                 type: str | int | None = None, prefsrc: str | None = None,
                 onlink: bool = False, metrics: Mapping[str, int | str] | None = None,
                 nexthops: Sequence[NextHop] | None = None) -> None:
        d = self.__dict__
        # the common route is packed in one step (_fast); anything else, and every error,
        # goes through the full validator and encoder (_full), which words the errors
        if (table is None and scope is None and proto is None and type is None
                and prefsrc is None and metrics is None and nexthops is None
                and onlink is False and _TYPE(dst) is str and _TYPE(index) is int):
            msg = _fast(dst, op, family, via, dev, index, metric)
            if msg is not None:
                # the other fields keep their class defaults (None, False)
                d.update(dst=dst, op=op, family=msg[1], via=via, dev=dev, index=index,
                         metric=metric, message=msg[0], family_given=family or None)
                if dev is not None and not index:
                    d["needs_names"] = True
                return
        d.update(dst=dst, op=op, family=family, via=via, dev=dev, index=index, table=table,
                 metric=metric, scope=scope, proto=proto, type=type, prefsrc=prefsrc,
                 onlink=onlink, metrics=metrics, nexthops=nexthops)
        self._full()

    def _full(self) -> None:
        """Validate every field and encode the request (the constructor's slow path)."""
        if self.op not in OPS:
            raise SpecError(f"invalid op {self.op!r}: expected {', '.join(OPS)}")
        object.__setattr__(self, "family_given", self.family or None)
        family = self._family()
        object.__setattr__(self, "family", family)
        if self.nexthops is not None:
            object.__setattr__(self, "nexthops", tuple(self.nexthops))
        if self.metrics is not None:
            object.__setattr__(self, "metrics", dict(self.metrics))
        object.__setattr__(self, "message", self._encode(family))
        if self.names():
            object.__setattr__(self, "needs_names", True)

    # ---------------------------------------------------------------- validation
    def _family(self) -> int:
        fams: list[tuple[str, int]] = []
        if self.dst != "default":
            fams.append(("dst", parse_prefix(self.dst, "dst")[0]))
        if self.prefsrc is not None:
            fams.append(("prefsrc", parse_ip(self.prefsrc, "prefsrc")[0]))
        given = self.family_given
        if given is not None and given not in _ALEN:
            raise SpecError(f"invalid family {given!r}: expected 2 (AF_INET) or 10 (AF_INET6)")
        for what, fam in fams:
            if given is not None and fam != given:
                raise SpecError(f"{what} {getattr(self, what)!r} is not of family {given}")
            given = fam
        if given is None:
            vias = [self.via] + [nh.via for nh in self.nexthops or ()]
            given = next((parse_ip(v, "via")[0] for v in vias if v is not None), C.AF_INET)
        return given

    def _header(self, family: int, table: int) -> bytes:
        delete = self.op == "del"
        rtype = word(self.type, TYPES, "type", 0 if delete else C.RTN_UNICAST)
        proto = word(self.proto, PROTOS, "proto", 0 if delete else C.RTPROT_BOOT)
        scope = C.RT_SCOPE_NOWHERE if delete else C.RT_SCOPE_UNIVERSE
        if self.scope is not None:
            scope = word(self.scope, SCOPE_WORDS, "scope", 0)
        elif family == C.AF_INET6:
            scope = C.RT_SCOPE_UNIVERSE
        elif rtype in (C.RTN_LOCAL, C.RTN_NAT):
            scope = C.RT_SCOPE_HOST
        elif rtype in (C.RTN_BROADCAST, C.RTN_MULTICAST, C.RTN_ANYCAST):
            scope = C.RT_SCOPE_LINK
        elif rtype in (C.RTN_UNICAST, C.RTN_UNSPEC) and not delete and self.via is None \
                and not self.nexthops:
            scope = C.RT_SCOPE_LINK
        if self.table is None and rtype in (C.RTN_LOCAL, C.RTN_BROADCAST, C.RTN_NAT,
                                            C.RTN_ANYCAST):
            table = C.RT_TABLE_LOCAL
        plen = self._dst()[1]
        flags = C.RTNH_F_ONLINK if self.onlink else 0
        return RTMSG.layout.pack(family, plen, 0, 0, table if table <= 255 else 0, proto, scope,
                                 rtype, flags)

    def _dst(self) -> tuple[bytes | None, int]:
        if self.dst == "default":
            given = self.family_given
            return (bytes(_ALEN[given]) if given is not None else None), 0
        _f, raw, plen = parse_prefix(self.dst, "dst")
        return raw, len(raw) * 8 if plen is None else plen

    def _encode(self, family: int) -> bytes:
        check_dev(self.dev)
        index = check_index(self.index)
        table = word(self.table, TABLES, "table", C.RT_TABLE_MAIN, 0xFFFFFFFF)
        header = self._header(family, table)
        items: list[tuple[str, Any]] = []
        raw, _plen = self._dst()
        if raw is not None:
            items.append(("RTA_DST", raw))
        if self.via is not None:
            items.append(_gateway(self.via, family))
        if self.prefsrc is not None:
            items.append(("RTA_PREFSRC", parse_ip(self.prefsrc, "prefsrc")[1]))
        if table > 255:
            items.append(("RTA_TABLE", table))
        if self.metric is not None:
            items.append(("RTA_PRIORITY", check_u32(self.metric, "metric")))
        if self.dev is not None or index:
            items.append(("RTA_OIF", index))
        if self.metrics:
            items.append(("RTA_METRICS", [self._metric(k, v) for k, v in self.metrics.items()]))
        if self.nexthops:
            items.append(("RTA_MULTIPATH", [nh.item(family) for nh in self.nexthops]))
        mtype, flags = OPS[self.op]
        return nlmsg(mtype, flags, header + encode(RTA, items))

    @staticmethod
    def _metric(key: str, value: int | str) -> tuple[str, int | bytes]:
        name = METRICS.get(key)
        if name is None:
            raise SpecError(f"unknown route metric {key!r}: expected one of "
                            f"{', '.join(METRICS)}")
        if key == "congctl":
            if not isinstance(value, str) or not value or "\0" in value or len(value) > 15:
                raise SpecError(f"invalid congctl {value!r}: a congestion control name")
            return name, value.encode()  # iproute2 sends the name without its NUL
        return name, check_u32(value, key)

    # ---------------------------------------------------------------- the engine's view
    def names(self) -> tuple[str, ...]:
        """Interface names still to resolve (dev, nexthop devs)."""
        out = [self.dev] if self.dev and not self.index else []
        out += [nh.dev for nh in self.nexthops or () if nh.dev and not nh.index]
        return tuple(dict.fromkeys(out))

    def resolved(self, idx: Mapping[str, int]) -> RouteSpec:
        """The same spec with its device names replaced by their indexes in ``idx``."""
        nhs = self.nexthops
        if nhs:
            nhs = tuple(replace(nh, index=lookup(idx, nh.dev)) if nh.dev and not nh.index
                        else nh for nh in nhs)
        index = lookup(idx, self.dev) if self.dev and not self.index else self.index
        return replace(self, family=self.family_given or 0, index=index, nexthops=nhs)

    def text(self) -> str:
        """``198.51.100.0/24 via 192.0.2.1 dev v0 table 100``, as errors print it."""
        out = [] if self.type in (None, "unicast", C.RTN_UNICAST) else [str(self.type)]
        out.append(self.dst)
        if self.via is not None:
            out.append(f"via {self.via}")
        if self.dev or self.index:
            out.append(f"dev {self.dev}" if self.dev else f"dev index {self.index}")
        for key in ("table", "proto", "scope"):
            if getattr(self, key) is not None:
                out.append(f"{key} {getattr(self, key)}")
        if self.prefsrc is not None:
            out.append(f"src {self.prefsrc}")
        if self.metric is not None:
            out.append(f"metric {self.metric}")
        if self.onlink:
            out.append("onlink")
        out += [f"{k} {v}" for k, v in (self.metrics or {}).items()]
        out += [nh.text() for nh in self.nexthops or ()]
        return " ".join(out)


def encode_getroute(family: int = C.AF_UNSPEC, table: int | str | None = None, oif: int = 0,
                    *, seq: int = 0, pid: int = 0) -> bytes:
    """RTM_GETROUTE dump filtered in the kernel (strict checking) as ``ip route show [table
    T] [dev X]`` sends it: a zero rtmsg (family aside), RTA_TABLE and RTA_OIF attributes.

    ``table`` None or 0 dumps every table (``table all``); iproute2's plain ``ip route show``
    is ``table="main"``.
    """
    if family not in (C.AF_UNSPEC, C.AF_INET, C.AF_INET6):
        raise SpecError(f"invalid address family {family!r}: expected 0, 2 or 10")
    items: list[tuple[str, Any]] = []
    tid = word(table, TABLES, "table", 0, 0xFFFFFFFF)
    if tid:
        items.append(("RTA_TABLE", tid))
    if check_index(oif, "oif"):
        items.append(("RTA_OIF", oif))
    body = RTMSG.layout.pack(family, 0, 0, 0, 0, 0, 0, 0, 0) + encode(RTA, items)
    return nlmsg(C.RTM_GETROUTE, C.NLM_F_REQUEST | C.NLM_F_DUMP, body, seq, pid)
