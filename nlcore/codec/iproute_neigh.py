"""``ip neigh`` words -> :class:`NeighCommand` (the NeighSpec keywords), as ``ip`` reads them.

:func:`parse_neigh_args` follows iproute2's ``ipneigh_modify``: ``lladdr`` (``null`` for none),
``nud STATE`` (``permanent``/``p``..., ``noarp``, ``reachable``, ``stale``, ``none``, ``delay``,
``probe``, ``failed``, ``incomplete`` or a single-bit number), ``proxy ADDR``, ``router``,
``dev NAME``, ``[to] ADDR``; its error sentences, and the words it knows that NeighSpec does
not carry (``use``, ``managed``, ``extern_learn``, ``protocol``) refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from .iproute_words import (
    CommandError,
    Words,
    check_lladdr,
    duparg,
    duparg2,
    get_addr,
    get_unsigned,
    invarg,
    lookup,
    matches,
    subcommand,
    unsupported,
)

if TYPE_CHECKING:
    from .neigh import NeighSpec

NEIGH_COMMANDS: tuple[tuple[str, str | None], ...] = (
    ("add", "add"), ("change", "change"), ("chg", "change"), ("replace", "replace"),
    ("delete", "del"), ("get", None), ("show", "show"), ("lst", "show"), ("list", "show"),
    ("flush", None))
#: nud_state_a2n: (word, abbreviable, state)
NUD_WORDS = (("permanent", True, "permanent"), ("reachable", True, "reachable"),
             ("noarp", False, "noarp"), ("none", False, "none"), ("stale", False, "stale"),
             ("incomplete", False, "incomplete"), ("delay", False, "delay"),
             ("probe", False, "probe"), ("failed", True, "failed"))


def neigh_command(word: str) -> str:
    """``"a"`` -> ``"add"``, ``"r"`` -> ``"replace"``...; CommandError otherwise."""
    return subcommand("neigh", word, NEIGH_COMMANDS)


def nud_state(word: str) -> str | int:
    """A NUD word -> its NeighSpec state (a name, or a single-bit number < 0x100)."""
    state = lookup(word, NUD_WORDS)
    if state is not None:
        return state
    n = get_unsigned(word)
    if n is None or n >= 0x100 or n & (n - 1):
        raise invarg("nud state is bad", word)
    return n


@dataclass
class NeighCommand:
    """One ``neigh add|del|replace|change``: NeighSpec's keywords (the device unresolved)."""

    op: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    family: int = 0
    kind = "neigh"

    def names(self) -> tuple[str, ...]:
        """The device name of the command."""
        return (self.kwargs["dev"],) if "dev" in self.kwargs else ()

    def spec(self, idx: Mapping[str, int] | None = None) -> NeighSpec:
        """The NeighSpec (SpecError if a value is wrong); ``idx`` (name -> index) gives
        the device as an index too."""
        from .neigh import NeighSpec

        kw = dict(self.kwargs)
        if idx is not None and "dev" in kw:
            kw["index"] = idx[kw["dev"]]
        return NeighSpec(kw.pop("address"), op=self.op, **kw)


def parse_neigh_args(op: str, args: list[str], family: int = 0) -> NeighCommand:
    """The words after ``ip neigh OP``; ``family`` is ``-4``/``-6`` (0: none given)."""
    kw: dict[str, Any] = {}
    dev_ok = False
    fam = family
    w = Words(args)
    for word in w:
        if matches(word, "lladdr"):
            v = w.next()
            if "lladdr" in kw:
                raise duparg("lladdr", v)
            kw["lladdr"] = None if v == "null" else check_lladdr(v)
        elif word == "nud":
            kw["state"] = nud_state(w.next())
        elif matches(word, "proxy"):
            v = w.next()
            if "address" in kw:
                raise duparg("address", v)
            fam, kw["address"] = get_addr(v, family)
            kw["proxy"] = dev_ok = True
        elif word == "router":
            kw["router"] = True
        elif word in ("use", "managed", "extern_valid") or matches(word, "extern_learn") \
                or matches(word, "protocol"):
            raise unsupported("neigh", word)
        elif word == "dev":
            kw["dev"] = w.next()
            dev_ok = True
        else:
            if word == "to":
                word = w.next()
            if "address" in kw:
                raise duparg2("to", word)
            fam, kw["address"] = get_addr(word, family)
    if not dev_ok or "address" not in kw or kw["address"] == "default":
        raise CommandError("Device and destination are required arguments.", bare=True)
    if kw.get("lladdr", 0) is None:
        del kw["lladdr"]
    return NeighCommand(op, kw, fam)
