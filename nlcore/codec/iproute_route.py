"""``ip route`` words -> :class:`RouteCommand` (the RouteSpec keywords), as ``ip`` reads them.

:func:`parse_route_args` follows iproute2's ``iproute_modify`` word by word: the same keyword
order and abbreviations (``t`` is ``table``, ``p`` is ``priority``, ``pref`` is not the metric),
a type word before the prefix (``blackhole 203.0.113.0/24``), ``via [inet|inet6] ADDR``,
``mtu [lock] N`` and the other RTA_METRICS words, ``nexthop via A dev D weight W`` groups at
the end, the family taken from the first address that sets it, and iproute2's error sentences.
Words that ``ip`` knows and RouteSpec does not carry (``from``, ``tos``, ``encap``...) are
refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from .consts import AF_INET, AF_INET6
from .iproute_rtnames import (
    _METRIC_MSG,
    METRICS,
    PROTOS,
    RTAX_BIT,
    SCOPES,
    TABLES,
    keyword,
    rtntype,
)
from .iproute_words import (
    CommandError,
    Words,
    duparg2,
    get_addr,
    get_prefix,
    get_unsigned,
    invarg,
    matches,
    subcommand,
    unsupported,
)

if TYPE_CHECKING:
    from .route import RouteSpec

#: ``ip route`` sub-commands in iproute2's order (first prefix match wins); None: not run.
ROUTE_COMMANDS: tuple[tuple[str, str | None], ...] = (
    ("add", "add"), ("change", "change"), ("chg", "change"), ("replace", "replace"),
    ("prepend", None), ("append", "append"), ("test", None), ("delete", "del"),
    ("list", "show"), ("show", "show"), ("lst", "show"), ("get", "get"), ("flush", None),
    ("save", None), ("restore", None), ("showdump", None))
def route_command(word: str) -> str:
    """``"a"`` -> ``"add"``, ``"del"`` -> ``"del"``, ``"g"`` -> ``"get"``...; CommandError
    (iproute2's sentence) for an unknown word, or one nlcore does not run."""
    return subcommand("route", word, ROUTE_COMMANDS)


@dataclass
class RouteCommand:
    """One ``route add|del|replace|change|append``: RouteSpec's keywords (names unresolved)
    and the route's family as ``ip`` decides it (``kwargs["family"]`` only when ``ip`` knew
    the family as it read the destination: ``-4``/``-6``, or an earlier address)."""

    op: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    family: int = AF_INET
    kind = "route"

    def names(self) -> tuple[str, ...]:
        """The device names of the command (dev, nexthop devs)."""
        out = [self.kwargs["dev"]] if "dev" in self.kwargs else []
        out += [nh["dev"] for nh in self.kwargs.get("nexthops", ()) if "dev" in nh]
        return tuple(dict.fromkeys(out))

    def spec(self, idx: Mapping[str, int] | None = None) -> RouteSpec:
        """The RouteSpec (SpecError if the values are wrong); with ``idx`` (name -> index)
        its devices are given as indexes too, so it is encoded once, resolved."""
        from .route import NextHop, RouteSpec

        kw = dict(self.kwargs)
        if idx is not None and "dev" in kw:
            kw["index"] = idx[kw["dev"]]
        if "nexthops" in kw:
            kw["nexthops"] = tuple(
                NextHop(**nh, index=idx[nh["dev"]]) if idx is not None and "dev" in nh
                else NextHop(**nh) for nh in kw["nexthops"])
        return RouteSpec(op=self.op, **kw)


def _name(word: str, table: dict[str, int], what: str, top: int = 255) -> int:
    if word in table:
        return table[word]
    n = get_unsigned(word, top)
    if n is None:
        raise invarg('invalid "scope" value' if what == "scope" else
                     f'"{what}" value is invalid', word)
    return n


def _rtt(word: str) -> tuple[int, bool] | None:
    """get_time_rtt: (value in ms or raw units, raw?)."""
    num = word
    unit = ""
    while num and not (num[-1].isdigit() or num[-1] == "."):
        num, unit = num[:-1], num[-1] + unit
    try:
        t = float(num) if "." in num else float(get_unsigned(num) if num else "x")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if t < 0:
        return None
    if unit.lower() in ("s", "sec", "secs"):
        t *= 1000
    elif unit and unit.lower() not in ("ms", "msec", "msecs"):
        return None
    v = int(t)
    return (v + 1 if v < t else v), not unit


class _Route:
    """The state of one iproute_modify run."""

    def __init__(self, op: str, family: int) -> None:
        self.op = op
        self.family = family
        self.kw: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self.lock = 0
        self.gw = self.dst = False

    def addr(self, word: str) -> str:
        fam, a = get_addr(word, self.family)
        if not self.family:
            self.family = fam
        return a

    def metric(self, name: str, w: Words) -> None:
        kind = METRICS[name]
        v = w.next()
        if v == "lock" and kind not in ("bool", "ms"):
            self.lock |= 1 << RTAX_BIT[name]
            v = w.next()
        if name == "rto_min":
            self.lock |= 1 << RTAX_BIT[name]
        msg = _METRIC_MSG.get(name, f'"{name}" value is invalid')
        if kind == "str":
            self.metrics[name] = v
            return
        if kind in ("rtt", "rttvar", "ms"):
            got = _rtt(v)
            if got is None:
                raise invarg(msg, v)
            n, raw = got
            n = n if raw or kind == "ms" else n * (8 if kind == "rtt" else 4)
        else:
            top = 255 if kind == "hoplimit" else 0xFFFFFFFF
            num = get_unsigned(v, top)
            if num is None:
                raise invarg(msg, v)
            if kind == "bool" and num > 1:
                raise invarg(f'"{name}" value should be 0 or 1', v)
            n = num
        self.metrics[name] = n


def parse_route_args(op: str, args: list[str], family: int = 0) -> RouteCommand:
    """The words after ``ip route OP``; ``family`` is ``-4``/``-6`` (0: none given).

    Raises CommandError with iproute2's sentence for the first word that is wrong.
    """
    r = _Route(op, family)
    kw = r.kw
    w = Words(args)
    for word in w:
        key = keyword(word)
        if key == "src":
            kw["prefsrc"] = r.addr(w.next())
        elif key == "via":
            if r.gw:
                raise invarg("use nexthop syntax to specify multiple via", word)
            r.gw = True
            kw["via"] = _via(r, w)
        elif key == "metric":
            v = w.next()
            n = get_unsigned(v)
            if n is None:
                raise invarg('"metric" value is invalid', v)
            kw["metric"] = n
        elif key == "scope":
            kw["scope"] = _name(w.next(), SCOPES, "scope")
        elif key in METRICS:
            r.metric(key, w)
        elif key == "features":
            feats = 0
            while (nxt := w.peek()) == "ecn":
                w.next()
                feats |= 1
            if not feats:
                raise invarg('"features" value not valid', nxt or word)
            r.metrics["features"] = feats
        elif key == "onlink":
            kw["onlink"] = True
        elif key == "nexthop":
            w.back()
            kw["nexthops"] = _nexthops(r, w)
            break
        elif key == "protocol":
            kw["proto"] = _name(w.next(), PROTOS, "protocol")
        elif key == "table":
            kw["table"] = _name(w.next(), TABLES, "table", 0xFFFFFFFF)
        elif key == "dev":
            kw["dev"] = w.next()  # as ip: the last one wins
        elif key is not None:
            raise unsupported("route", word)
        else:
            _prefix(r, w, word)
    if not r.dst:
        raise CommandError('no destination given: expected [TYPE] PREFIX|default', bare=True)
    if r.metrics:
        if r.lock:
            r.metrics["lock"] = r.lock
        kw["metrics"] = r.metrics
    return RouteCommand(op, kw, r.family or AF_INET)


def _via(r: _Route, w: Words) -> str:
    """``via [inet|inet6] ADDR``: the family word picks how ADDR is read."""
    v = w.next()
    fam = {"inet": AF_INET, "inet6": AF_INET6}.get(v, 0)
    if fam:
        v = w.next()
    got, addr = get_addr(v, fam or r.family)
    if not r.family:
        r.family = got
    return addr


def _prefix(r: _Route, w: Words, word: str) -> None:
    if word == "to":
        word = w.next()
    if not word[:1].isdigit() and (t := rtntype(word)) is not None:
        nxt = w.next()
        if t in ("nat", "xresolve"):
            raise unsupported("route", word)
        r.kw["type"] = t
        word = nxt
    if matches(word, "help"):
        raise CommandError("ip route help: see `nlcore route help`")
    if r.dst:
        raise duparg2("to", word)
    fam, dst = get_prefix(word, r.family)
    if r.family:  # known before the prefix: ip sends "default" as a zero RTA_DST too
        r.kw["family"] = r.family
    else:
        r.family = fam
    r.kw["dst"] = dst
    r.dst = True


def _nexthops(r: _Route, w: Words) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while (word := w.peek()) is not None:
        w.next()
        if word != "nexthop":
            raise CommandError(f'"nexthop" or end of line is expected instead of "{word}"')
        if w.peek() is None:
            raise CommandError('unexpected end of line after "nexthop"')
        nh: dict[str, Any] = {}
        while (word := w.peek()) is not None:
            if word == "via":
                w.next()
                nh["via"] = _via(r, w)
            elif word == "dev":
                w.next()
                nh["dev"] = w.next()
            elif word == "weight":
                w.next()
                v = w.next()
                n = get_unsigned(v)
                if n is None or not 1 <= n <= 256:
                    raise invarg('"weight" is invalid', v)
                nh["weight"] = n
            elif word == "onlink":
                w.next()
                nh["onlink"] = True
            elif matches(word, "realms") or word in ("encap", "as"):
                raise unsupported("route", word)
            else:
                break
        out.append(nh)
    return out

