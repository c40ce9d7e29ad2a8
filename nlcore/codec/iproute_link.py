"""``ip link set`` words -> :class:`LinkCommand` (the LinkSpec keywords), as ``ip`` reads them.

:func:`parse_link_args` follows iproute2's ``iplink_parse`` for the words LinkSpec carries:
``[dev] NAME``, ``up``, ``down``, ``mtu N``, ``address LLADDR`` (``a``...), ``name NEW``,
``master DEV`` (``m``...), ``nomaster`` (``n``...). The other words ``ip link set`` knows are
refused by name; the keyword order (and so which keyword an abbreviation means) is iproute2's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from .errors import SpecError
from .iproute_words import (
    CommandError,
    Words,
    check_lladdr,
    duparg,
    duparg2,
    invarg,
    lookup,
    matches,
    subcommand,
    unsupported,
)
from .spec import check_ifname

if TYPE_CHECKING:
    from .link import LinkSpec

LINK_COMMANDS: tuple[tuple[str, str | None], ...] = (
    ("add", None), ("set", "set"), ("change", "set"), ("replace", None), ("delete", None),
    ("show", "show"), ("lst", "show"), ("list", "show"), ("xstats", None), ("afstats", None),
    ("property", None), ("help", None))
#: iplink_parse's keywords in order: (word, abbreviable, meaning)
_KEYWORDS = (("up", False, "up"), ("down", False, "down"), ("name", False, "name"),
             ("index", False, "-"), ("link", True, "-"), ("address", True, "address"),
             ("broadcast", True, "-"), ("brd", False, "-"), ("txqueuelen", True, "-"),
             ("qlen", False, "-"), ("txqlen", True, "-"), ("mtu", False, "mtu"),
             ("inet", False, "-"), ("xdp", False, "-"), ("xdpgeneric", False, "-"),
             ("xdpdrv", False, "-"), ("xdpoffload", False, "-"), ("netns", False, "-"),
             ("multicast", False, "-"), ("allmulticast", False, "-"), ("promisc", False, "-"),
             ("trailers", False, "-"), ("arp", False, "-"), ("carrier", False, "-"),
             ("vf", False, "-"), ("master", True, "master"), ("vrf", False, "-"),
             ("nomaster", True, "nomaster"), ("dynamic", True, "-"), ("type", True, "-"),
             ("alias", True, "-"), ("group", False, "-"), ("mode", False, "-"),
             ("state", False, "-"), ("numtxqueues", True, "-"), ("numrxqueues", True, "-"),
             ("addrgenmode", True, "-"), ("link-netns", True, "-"),
             ("link-netnsid", True, "-"), ("protodown", False, "-"),
             ("protodown_reason", False, "-"), ("gso_max_size", False, "-"),
             ("gso_max_segs", False, "-"), ("gro_max_size", False, "-"),
             ("parentdev", False, "-"))


def link_command(word: str) -> str:
    """``"s"`` -> ``"set"``, ``"sh"`` -> ``"show"``...; CommandError otherwise."""
    return "set" if word in ("s", "se") else subcommand("link", word, LINK_COMMANDS)


def keyword(word: str) -> str | None:
    """The iplink_parse keyword ``word`` stands for ("-": one nlcore does not run)."""
    return lookup(word, _KEYWORDS)


@dataclass
class LinkCommand:
    """One ``link set``: LinkSpec's keywords (device and master names unresolved)."""

    op: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    kind = "link"
    family = 0

    def names(self) -> tuple[str, ...]:
        """The device names of the command (dev, master)."""
        return tuple(dict.fromkeys(self.kwargs[k] for k in ("dev", "master")
                                   if k in self.kwargs))

    def spec(self, idx: Mapping[str, int] | None = None) -> LinkSpec:
        """The LinkSpec (SpecError if a value is wrong); ``idx`` (name -> index) gives the
        device and master as indexes."""
        from .link import LinkSpec

        kw = dict(self.kwargs)
        if idx is not None:
            kw["index"] = idx[kw["dev"]]
            if "master" in kw:
                kw["master"] = idx[kw["master"]]
        return LinkSpec(op=self.op, **kw)


def parse_link_args(op: str, args: list[str]) -> LinkCommand:
    """The words after ``ip link set``."""
    kw: dict[str, Any] = {}
    w = Words(args)
    for word in w:
        key = keyword(word)
        if key in ("up", "down"):
            kw["up"] = key == "up"
        elif key == "name":
            v = w.next()
            if "name" in kw:
                raise duparg("name", v)
            _ifname(v, "name")
            kw["name"] = v
        elif key == "address":
            kw["address"] = check_lladdr(w.next())
        elif key == "mtu":
            v = w.next()
            if "mtu" in kw:
                raise duparg("mtu", v)
            try:
                mtu = int(v, 0)
            except ValueError:
                raise invarg('Invalid "mtu" value', v) from None
            if not -(1 << 31) <= mtu < 1 << 31:
                raise invarg('Invalid "mtu" value', v)
            kw["mtu"] = mtu
        elif key == "master":
            kw.pop("nomaster", None)
            kw["master"] = _ifname(w.next(), "master")
        elif key == "nomaster":
            kw.pop("master", None)
            kw["nomaster"] = True
        elif key == "-":
            raise unsupported("link set", word)
        else:
            if word == "dev":
                word = w.next()
            if matches(word, "help"):
                raise CommandError('ip link help: see `nlcore link help`')
            if "dev" in kw:
                raise duparg2("dev", word)
            kw["dev"] = _ifname(word, "dev")
    if "dev" not in kw:
        raise CommandError('Not enough information: "dev" argument is required.', bare=True)
    return LinkCommand(op, kw)


def _ifname(v: str, what: str) -> str:
    try:
        check_ifname(v)
    except SpecError:
        raise invarg(f'"{what}" not a valid ifname', v) from None
    return v
