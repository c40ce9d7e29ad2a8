"""``--match`` rules of ``nlcore inject``: which requests fail, deterministically.

A rule is ``TYPE [family=F] [index=N] [addr=PFX] [when=N|N+|N..M] [errno=E]``: TYPE is a
message type name (``RTM_NEWADDR``) or number; ``family`` is ``inet``, ``inet6``, ``unspec``
or a number (the first byte of every rtnetlink body); ``index`` is the interface index of an
address or link message; ``addr`` an address or prefix that the address message's local
address must fall in; ``when`` picks occurrences of the pattern, counted per rule from 1
(``2`` only the second, ``2+`` the second and later, ``2..4``); ``errno`` overrides the
command's ``--errno`` for this rule. Only requests (NLM_F_REQUEST) match.
"""

from __future__ import annotations

import errno as _errno
import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Sequence, Union

from ...codec import consts as C
from ...codec.errors import ParseError
from ...codec.wire import AddrMsg, LinkMsg, Message, decode
from . import rules_route

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
_TYPES = {name: num for num, name in C.MSG_TYPE_NAMES.items()}
_TYPE_FLAGS = struct.Struct("=HH")
_U32 = struct.Struct("=I")
#: message types whose body starts with ifaddrmsg/ifinfomsg (index at offset 20), and the
#: length the decoder needs before it decodes them as AddrMsg/LinkMsg
_INDEXED = {**{t: 24 for t in (C.RTM_NEWADDR, C.RTM_DELADDR, C.RTM_GETADDR)},
            **{t: 32 for t in (C.RTM_NEWLINK, C.RTM_DELLINK, C.RTM_GETLINK, C.RTM_SETLINK)}}
_FAMILIES = {"unspec": C.AF_UNSPEC, "inet": C.AF_INET, "inet6": C.AF_INET6,
             "ipv4": C.AF_INET, "ipv6": C.AF_INET6}


def parse_errno(text: str | int) -> int:
    """``"EACCES"``, ``"eacces"``, ``"13"`` or 13 -> 13; ValueError otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str) and text.strip().lstrip("-").isdigit():
        value = abs(int(text))
    elif isinstance(text, str) and hasattr(_errno, text.strip().upper()):
        value = getattr(_errno, text.strip().upper())
    else:
        raise ValueError(f"unknown errno {text!r} (a name such as EACCES, or a number)")
    if not 1 <= value <= 4095:
        raise ValueError(f"errno {value} out of range 1..4095")
    return int(value)


def _int(key: str, value: str, low: int = 0) -> int:
    try:
        n = int(value, 0)
    except ValueError:
        raise ValueError(f"{key}={value!r}: not a number") from None
    if n < low or n > 0xFFFFFFFF:
        raise ValueError(f"{key}={value!r}: out of range")
    return n


def _when(value: str) -> tuple[int, int | None]:
    if value.endswith("+"):
        return _int("when", value[:-1], 1), None
    if ".." in value:
        lo, hi = value.split("..", 1)
        a, b = _int("when", lo, 1), _int("when", hi, 1)
        if b < a:
            raise ValueError(f"when={value!r}: empty range")
        return a, b
    n = _int("when", value, 1)
    return n, n


@dataclass(frozen=True)
class Rule:
    """One parsed ``--match`` rule (see the module docstring for the syntax)."""

    text: str
    type: int
    family: int | None = None
    index: int | None = None
    prefix: Network | None = None
    first: int = 1
    last: int | None = None  # None: no upper bound
    errno: int | None = None
    fields: tuple[rules_route.Field, ...] = ()  # route/neighbour fields (see rules_route)

    def __post_init__(self) -> None:
        keys = [k for k, _ in self.fields]
        if len(set(keys)) != len(keys):  # one value each: both supervisors hold one
            raise ValueError(f"{self.text!r}: a route field given twice ({', '.join(keys)})")

    def pattern_raw(self, raw: bytes) -> bool:
        """The header checks (type, NLM_F_REQUEST, family, index), straight from the bytes."""
        if len(raw) < 16:
            return False
        tp, fl = _TYPE_FLAGS.unpack_from(raw, 4)
        if tp != self.type or not fl & C.NLM_F_REQUEST:
            return False
        if self.family is not None and (len(raw) <= 16 or raw[16] != self.family):
            return False
        if self.index is not None:
            if tp not in _INDEXED or len(raw) < _INDEXED[tp] or _U32.unpack_from(raw, 20)[0] \
                    != self.index:
                return False
        return not self.fields or rules_route.fields_match(self.fields, raw)

    def pattern(self, msg: Message) -> bool:
        """Whether the decoded ``msg`` has the rule's shape (occurrence not considered)."""
        if not self.pattern_raw(msg.raw):
            return False
        if self.index is not None and not isinstance(msg, (AddrMsg, LinkMsg)):
            return False
        if self.prefix is not None:
            local = msg.local if isinstance(msg, AddrMsg) else None
            if local is None:
                return False
            ip = ipaddress.ip_address(local)
            if ip.version != self.prefix.version or ip not in self.prefix:
                return False
        return True

    def fires(self, count: int) -> bool:
        """Whether the ``count``-th occurrence (from 1) is selected by ``when``."""
        return count >= self.first and (self.last is None or count <= self.last)


def parse_rule(text: str) -> Rule:
    """Parse one rule; ValueError naming the bad word."""
    words = text.split()
    if not words:
        raise ValueError("empty --match rule")
    head = words[0].upper()
    if head in _TYPES:
        mtype = _TYPES[head]
    elif head.isdigit():
        mtype = _int("type", head)
    else:
        raise ValueError(f"unknown message type {words[0]!r} (e.g. RTM_NEWADDR)")
    kw: dict[str, object] = {}
    seen: set[str] = set()
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not value:
            raise ValueError(f"{word!r}: expected key=value")
        if key in seen:
            raise ValueError(f"{word!r}: {key}= given twice")
        seen.add(key)
        if key == "family":
            fam = _FAMILIES.get(value.lower())
            kw["family"] = fam if fam is not None else _int("family", value)
        elif key == "index":
            kw["index"] = _int("index", value)
        elif key == "addr":
            try:
                kw["prefix"] = ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"addr={value!r}: not an address or prefix") from None
        elif key == "when":
            kw["first"], kw["last"] = _when(value)
        elif key == "errno":
            kw["errno"] = parse_errno(value)
        elif key in rules_route.KEYS:
            kw["fields"] = (*kw.get("fields", ()), rules_route.parse_field(key, value))  # type: ignore[misc]
        else:
            raise ValueError(f"unknown rule key {key!r} (family, index, addr, when, errno, "
                             f"{', '.join(rules_route.KEYS)})")
    return Rule(text, mtype, **kw)  # type: ignore[arg-type]


@dataclass
class RuleSet:
    """Rules in order with one occurrence counter each; :meth:`decide` is deterministic."""

    rules: Sequence[Rule]
    counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.rules)
        self.types = frozenset(r.type for r in self.rules)

    def decide(self, raw: bytes) -> int | None:
        """Index of the first rule that fires for the message ``raw``, or None. Every rule
        whose pattern matches counts the message, whether or not an earlier rule fired.

        Type, family and index are read from the header bytes; a rule with ``addr=``
        decodes the message with :func:`nlcore.codec.wire.decode` (a message that does not decode
        never matches it: the kernel gets to reject it)."""
        chosen = None
        msg: Message | None = None
        decoded = False
        for i, rule in enumerate(self.rules):
            if not rule.pattern_raw(raw):
                continue
            if rule.prefix is not None:
                if not decoded:
                    decoded = True
                    try:
                        msg = decode(raw)[0]
                    except ParseError:
                        msg = None
                if msg is None or not rule.pattern(msg):
                    continue
            self.counts[i] += 1
            if chosen is None and rule.fires(self.counts[i]):
                chosen = i
        return chosen
