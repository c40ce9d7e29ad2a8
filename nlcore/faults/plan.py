"""Fault plans: which requests to fault (:class:`Rule`) and how (the actions).

A rule matches request messages by type, family, interface index, address and occurrence
(``when``, as strace's ``when=``: ``3``, ``3+``, ``3+2``, ``2..4``, ``every 5``). Its action is
one of :class:`Error`, :class:`Drop`, :class:`Delay`, :class:`Truncate`, :class:`Garble`,
:class:`Enobufs`, :class:`Foreign` (declared in :mod:`nlcore.faults.actions`, importable from
here), or a tuple of them. A :class:`FaultPlan` holds the rules,
their occurrence counters and the only source of randomness, ``random.Random(seed)``.
:class:`~nlcore.faults.synthetic.FaultyTransport` carries a plan out.
"""

from __future__ import annotations

import errno as E
import ipaddress
import random
import re
import socket
import struct
from dataclasses import dataclass, field
from typing import Iterable

from ..codec import consts as C
from ._repr import short_repr
from .actions import Action, Delay, Drop, Enobufs, Error, Foreign, Garble, Truncate

_WHEN = re.compile(r"^\s*(\d+)\s*(?:\.\.\s*(\d+))?\s*(\+\s*(\d*))?\s*$")
_FAMILIES = {"inet": C.AF_INET, "ipv4": C.AF_INET, "4": C.AF_INET, "af_inet": C.AF_INET,
             "inet6": C.AF_INET6, "ipv6": C.AF_INET6, "6": C.AF_INET6, "af_inet6": C.AF_INET6,
             "unspec": C.AF_UNSPEC}
_MSG_TYPES = {v: k for k, v in C.MSG_TYPE_NAMES.items()}
_EACCES = Error(E.EACCES)  # a rule's default action (frozen: safe to share)


@dataclass(frozen=True)
class When:
    """Occurrences ``first .. last`` (None: no end), every ``step``-th, counted from 1."""

    first: int = 1
    last: int | None = None
    step: int = 1

    @classmethod
    def parse(cls, spec: int | str | When) -> When:
        """``N``, ``N+`` (N and after), ``N+S`` (N, N+S, ...), ``N..M``, ``N..M+S``, ``every K``."""
        if isinstance(spec, When):
            return spec
        if isinstance(spec, int) and not isinstance(spec, bool):
            return cls(spec, spec) if spec >= 1 else cls._bad(spec)
        text = str(spec).strip().lower()
        if text in ("always", "*"):
            return cls()
        if text.startswith("every"):
            k = text[5:].strip()
            return cls(int(k), None, int(k)) if k.isdigit() and int(k) >= 1 else cls._bad(spec)
        m = _WHEN.match(text)
        if m is None or int(m[1]) < 1 or (m[2] and int(m[2]) < int(m[1])) or m[4] == "0":
            return cls._bad(spec)
        last = int(m[2]) if m[2] else (None if m[3] else int(m[1]))
        return cls(int(m[1]), last, int(m[4]) if m[4] else 1)

    @staticmethod
    def _bad(spec: object) -> When:
        raise ValueError(f"invalid when={spec!r}: expected N, N+, N+STEP, N..M, N..M+STEP "
                         f"or 'every K' (N >= 1)")

    def __contains__(self, n: int) -> bool:
        return n >= self.first and (self.last is None or n <= self.last) \
            and (n - self.first) % self.step == 0


# ---------------------------------------------------------------------------- matching
@dataclass(frozen=True)
class Request:
    """What a rule can match in one request message."""

    type: int
    flags: int
    seq: int
    family: int | None
    ifindex: int | None
    prefixlen: int | None
    addresses: tuple[str, ...]

    @classmethod
    def parse(cls, raw: bytes) -> Request:
        """Read the fields of an address, link or route request (others: type and seq)."""
        n, tp, flags, seq, _ = C.NLMSGHDR.unpack_from(raw, 0)
        fam = idx = plen = None
        addrs: list[str] = []
        attr_types: tuple[int, ...] = ()
        start = 0
        if tp in (C.RTM_NEWADDR, C.RTM_DELADDR, C.RTM_GETADDR) and n >= 24:
            fam, plen, _f, _s, idx = C.IFADDRMSG.unpack_from(raw, 16)
            start, attr_types = 24, (C.IFA_ADDRESS, C.IFA_LOCAL)
        elif tp in (C.RTM_NEWLINK, C.RTM_DELLINK, C.RTM_GETLINK, C.RTM_SETLINK) and n >= 32:
            fam, _t, idx, _f, _c = C.IFINFOMSG.unpack_from(raw, 16)
        elif tp in (C.RTM_NEWROUTE, C.RTM_DELROUTE, C.RTM_GETROUTE) and n >= 28:
            fam, plen = raw[16], raw[17]
            start, attr_types = 28, (1, 5)  # RTA_DST, RTA_GATEWAY
        elif n > 16:
            fam = raw[16]
        pos, end = start, n if start else 0
        while start and pos + 4 <= end:
            alen, atype = C.NLATTR.unpack_from(raw, pos)
            if alen < 4 or pos + alen > end:
                break
            payload = raw[pos + 4:pos + alen]
            if atype & C.NLA_TYPE_MASK in attr_types and len(payload) in (4, 16):
                addrs.append(socket.inet_ntop(C.AF_INET if len(payload) == 4
                                              else C.AF_INET6, payload))
            elif tp >= C.RTM_NEWROUTE and atype == 4 and alen == 8:  # RTA_OIF
                idx = struct.unpack_from("=I", raw, pos + 4)[0]
            pos += C.align4(alen)
        return cls(tp, flags, seq, fam, idx, plen, tuple(addrs))


def _types(spec: int | str | Iterable[int | str] | None) -> frozenset[int] | None:
    if spec is None:
        return None
    items = [spec] if isinstance(spec, (int, str)) else list(spec)
    out = set()
    for t in items:
        num = _MSG_TYPES.get(t.upper()) if isinstance(t, str) else t
        if num is None:
            raise ValueError(f"unknown message type {t!r}")
        out.add(num)
    return frozenset(out)


@dataclass(frozen=True)
class Rule:
    """Match requests (every given field must match) and act on the ``when``-th ones.

    ``type``: number or name ("RTM_NEWADDR"), or several. ``family``: 2/10 or "inet"/"inet6".
    ``ifindex``: the interface (RTA_OIF for routes). ``address``: "fe80::1" matches IFA_LOCAL
    or IFA_ADDRESS (RTA_DST/RTA_GATEWAY); "fe80::1/64" also needs that prefix length.
    ``net``: any address inside "2001:db8::/32". ``action``: one action or a tuple; at most
    one :class:`Error`, the others modify the (synthetic or kernel) reply, in order.
    """

    type: int | str | Iterable[int | str] | None = None
    family: int | str | None = None
    ifindex: int | None = None
    address: str | None = None
    net: str | None = None
    when: int | str | When = "1+"
    action: Action | tuple[Action, ...] = _EACCES
    _types: frozenset[int] | None = field(init=False, repr=False, compare=False)
    _when: When = field(init=False, repr=False, compare=False)
    _family: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fam = self.family
        if isinstance(fam, str):
            if fam.lower() not in _FAMILIES:
                raise ValueError(f"unknown family {fam!r}: expected inet or inet6")
            fam = _FAMILIES[fam.lower()]
        object.__setattr__(self, "_family", fam)
        object.__setattr__(self, "_types", _types(self.type))
        object.__setattr__(self, "_when", When.parse(self.when))
        if len([a for a in self.actions if isinstance(a, Error)]) > 1:
            raise ValueError("a rule may have at most one Error action")
        if self.net is not None:
            ipaddress.ip_network(self.net, strict=False)

    @property
    def actions(self) -> tuple[Action, ...]:
        """The actions as a tuple."""
        return self.action if isinstance(self.action, tuple) else (self.action,)

    def matches(self, req: Request) -> bool:
        """True when ``req`` passes every filter (occurrence aside)."""
        if self._types is not None and req.type not in self._types:
            return False
        if self._family is not None and req.family != self._family:
            return False
        if self.ifindex is not None and req.ifindex != self.ifindex:
            return False
        if self.address is not None:
            addr, _, plen = self.address.partition("/")
            want = ipaddress.ip_address(addr)
            if not any(ipaddress.ip_address(a) == want for a in req.addresses):
                return False
            if plen and req.prefixlen != int(plen):
                return False
        if self.net is not None:
            net = ipaddress.ip_network(self.net, strict=False)
            if not any(ipaddress.ip_address(a) in net for a in req.addresses):
                return False
        return True


@dataclass(frozen=True)
class Fired:
    """One rule acting: which rule, its occurrence number, and the request's type and seq."""

    rule: int
    occurrence: int
    type: int
    seq: int


Rule.__repr__ = short_repr  # type: ignore[method-assign]


class FaultPlan:
    """Rules plus their state: per-rule occurrence counters, the rng, and the log of firings.

    Every rule counts the requests that pass its filters; the first rule (in order) whose
    ``when`` includes its count acts. :meth:`reset` starts over (same seed, same run).
    """

    def __init__(self, rules: Iterable[Rule], seed: int = 0) -> None:
        self.rules = list(rules)
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Zero the counters, clear the log, reseed the rng."""
        self.counts = [0] * len(self.rules)
        self.log: list[Fired] = []
        self.rng = random.Random(self.seed)

    def __repr__(self) -> str:
        return (f"FaultPlan({self.rules!r}, seed={self.seed}, counts={self.counts}, "
                f"fired={len(self.log)})")

    def decide(self, raw: bytes) -> tuple[Action, ...] | None:
        """The actions for request ``raw`` (None: pass it through untouched)."""
        req = Request.parse(raw)
        chosen: tuple[Action, ...] | None = None
        for i, rule in enumerate(self.rules):
            if rule.matches(req):
                self.counts[i] += 1
                if chosen is None and self.counts[i] in rule._when:
                    chosen = rule.actions
                    self.log.append(Fired(i, self.counts[i], req.type, req.seq))
        return chosen


__all__ = ["Action", "Delay", "Drop", "Enobufs", "Error", "FaultPlan", "Fired", "Foreign",
           "Garble", "Request", "Rule", "Truncate", "When"]
