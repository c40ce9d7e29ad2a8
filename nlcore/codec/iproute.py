"""The ``ip`` objects beyond ``addr``: ``route``, ``neigh`` and ``link`` command lines -> their
commands (RouteCommand, NeighCommand, LinkCommand), for the CLI and ``-batch`` files.

The object word is matched as ``ip`` matches it (the first object in iproute2's table that the
word abbreviates: ``r`` is route, ``n`` neighbour, ``l`` link).
"""

from __future__ import annotations

from typing import Union

from .iproute_link import LinkCommand, link_command, parse_link_args
from .iproute_neigh import NeighCommand, neigh_command, parse_neigh_args
from .iproute_route import RouteCommand, parse_route_args, route_command
from .iproute_words import CommandError, matches

Command = Union[RouteCommand, NeighCommand, LinkCommand]
#: ip's object table, in its order, up to the objects nlcore runs
OBJECTS = ("address", "addrlabel", "maddress", "route", "rule", "neighbor", "neighbour",
           "ntable", "link")


def object_of(word: str) -> str | None:
    """``"r"`` -> ``"route"``, ``"neighbour"`` -> ``"neigh"``, ``"a"`` -> ``"address"``;
    None when the word is no object nlcore knows."""
    for name in OBJECTS:
        if matches(word, name):
            return "neigh" if name.startswith("neigh") else name
    return None


def parse_object_command(obj: str, words: list[str], family: int = 0) -> Command:
    """``route|neigh|link`` and the words after it (``["add", "198.51.100.0/24", ...]``),
    for a modifying command; CommandError for anything else (``show`` included)."""
    if not words:
        raise CommandError(f'missing command after "{obj}"', bare=True)
    if obj == "route":
        op = route_command(words[0])
        if op not in ("show", "get"):
            return parse_route_args(op, words[1:], family)
    elif obj == "neigh":
        op = neigh_command(words[0])
        if op != "show":
            return parse_neigh_args(op, words[1:], family)
    elif obj == "link":
        op = link_command(words[0])
        if op != "show":
            return parse_link_args(op, words[1:])
    else:
        raise CommandError(f'unknown object "{obj}"', bare=True)
    raise CommandError(f'"{obj} {op}" cannot be batched: it changes nothing', bare=True)
