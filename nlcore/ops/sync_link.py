"""Link settings for :func:`nlcore.ops.sync.sync`: up/down, MTU, MAC address and master of
devices that exist. Sync never creates, deletes or renames a link; a desired LinkSpec sets
only what it names, with one ``ip link set`` of the values that differ."""

from __future__ import annotations

from dataclasses import replace
from typing import Hashable, Mapping

from ..codec import consts as C
from ..codec.decode import LinkMsg, Message
from ..codec.errors import SpecError
from ..codec.link import LinkSpec
from ..codec.wire import encode_getlink
from .sync_rules import Ownership


def key(spec: LinkSpec) -> Hashable:
    """A link is its index."""
    return ("link", spec.index)


def dump_requests(scope: set[int] | None, own: Ownership) -> list[bytes]:
    """One RTM_GETLINK dump (the links are few; the kernel filters a link dump by kind and
    master only)."""
    return [encode_getlink(dump=True)]


def present(msgs: list[Message], scope: set[int] | None,
            links: Mapping[int, LinkMsg]) -> dict[Hashable, Message]:
    """The links in scope by index."""
    return {("link", m.index): m for m in msgs
            if isinstance(m, LinkMsg) and (scope is None or m.index in scope)}


def owned(m: Message, own: Ownership) -> bool:
    """Settings a desired item names are always sync's to set (a link is never removed)."""
    return True


def not_owned(spec: LinkSpec, ifname: str, own: Ownership) -> str | None:
    """A rename is refused: the other desired items name devices by their current names."""
    if spec.name is not None:
        raise SpecError(f"sync does not rename links ({spec.text()}): rename first, with "
                        f"nlcore link set")
    return None


def _want(m: LinkMsg, spec: LinkSpec) -> dict[str, object]:
    out: dict[str, object] = {}
    if spec.up is not None and bool(m.ifi_flags & C.IFF_UP) != spec.up:
        out["up"] = spec.up
    if spec.mtu is not None and m.mtu != spec.mtu:
        out["mtu"] = spec.mtu
    if spec.address is not None and (m.address or "").lower() != spec.address.lower():
        out["address"] = spec.address
    if spec.master is not None and (m.master or 0) != spec.master:
        out["master"] = spec.master
    if spec.nomaster and m.master:
        out["nomaster"] = True
    return out


def differences(m: Message, spec: LinkSpec, ifname: str) -> list[str]:
    """The settings of ``spec`` the link does not have."""
    assert isinstance(m, LinkMsg)
    return list(_want(m, spec))


def change_specs(m: Message, spec: LinkSpec, why: list[str]) -> list[LinkSpec]:
    """One ``ip link set`` of the differing settings only."""
    assert isinstance(m, LinkMsg)
    return [LinkSpec(dev=spec.dev, index=spec.index, **_want(m, spec))]  # type: ignore[arg-type]


def devices(spec: LinkSpec) -> tuple[int, ...]:
    """The link itself."""
    return (spec.index,)


def resolved(spec: LinkSpec, index: Mapping[str, int]) -> tuple[LinkSpec, str | None]:
    """The spec with dev and master as indexes, or the first name that does not exist."""
    missing = next((n for n in spec.names() if n not in index), None)
    if missing is not None:
        return spec, missing
    return (spec.resolved(index) if spec.names() else spec), None


def as_add(spec: LinkSpec) -> LinkSpec:
    """(A link in the desired state always exists: resolving it found it.)"""
    return replace(spec)
