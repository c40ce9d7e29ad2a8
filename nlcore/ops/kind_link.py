"""The engine's "link" kind: ``ip link set``. A set has no "already there" or "not there"
outcome and its effect cannot be told from a later dump (was the link up before?), so a lost
ack of a link set is "unknown"; the IPv6-disabled policy does not apply."""

from __future__ import annotations

from typing import Any, Hashable

from .kinds import Kind, register


def link_key(spec: Any) -> Hashable:
    """The link's index."""
    return ("link", spec.index)


register(Kind("link", None, link_key, 0, (), (), (), False))
