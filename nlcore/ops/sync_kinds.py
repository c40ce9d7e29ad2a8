"""The per-kind side of sync as data: each kind (link, addr, route, neigh) is a
:class:`Handler` of small functions, and the generic diff lives here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Mapping

from ..codec.decode import LinkMsg, Message
from . import sync_addr as A
from . import sync_link as L
from . import sync_neigh as N
from . import sync_route as R
from .sync_report import Change, spec_text
from .sync_rules import Ownership

#: The order kinds are listed (and dumped) in; the order of changes is sync.plan's.
ORDER = ("link", "addr", "route", "neigh")


@dataclass(frozen=True)
class Handler:
    """What sync needs to know about one kind of item."""

    dump_requests: Callable[[set[int] | None, Ownership], list[bytes]]
    present: Callable[[list[Message], set[int] | None, Mapping[int, LinkMsg]],
                      dict[Hashable, Message]]
    key: Callable[[Any], Hashable]
    owned: Callable[[Message, Ownership], bool]
    not_owned: Callable[[Any, str, Ownership], str | None]
    differences: Callable[[Message, Any, str], list[str]]
    change_specs: Callable[[Message, Any, list[str]], list[Any]]
    removal: Callable[[Message, str | None], Any] | None  # None: never removed (links)
    devices: Callable[[Any], Iterable[int]]
    resolved: Callable[[Any, Mapping[str, int]], tuple[Any, str | None]]
    as_add: Callable[[Any], Any]
    guard: Callable[[list[Change], dict[Hashable, Message], Ownership], None] | None = None
    changeable: Callable[[Message, Ownership], bool] | None = None  # None: as ``owned``


HANDLERS: dict[str, Handler] = {
    "addr": Handler(
        dump_requests=lambda scope, own: A.dump_requests(
            None if scope is None else dict.fromkeys(scope, ""), own.families),
        present=lambda msgs, scope, links: A.present(msgs, scope),
        key=A.spec_key, owned=A.owned,  # type: ignore[arg-type]
        not_owned=A.spec_owned,
        differences=A.differences, change_specs=A.change_specs,  # type: ignore[arg-type]
        removal=A.removal,  # type: ignore[arg-type]
        devices=lambda s: (s.index,), resolved=A.resolved, as_add=A.as_add,
        guard=A.guard_removals),
    "route": Handler(
        dump_requests=R.dump_requests, present=R.present, key=R.key,
        owned=R.owned, not_owned=R.not_owned, differences=R.differences,
        change_specs=R.change_specs, removal=R.removal, devices=R.devices,
        resolved=R.resolved, as_add=R.as_add),
    "link": Handler(
        dump_requests=L.dump_requests, present=L.present, key=L.key,
        owned=L.owned, not_owned=L.not_owned, differences=L.differences,
        change_specs=L.change_specs, removal=None, devices=L.devices,
        resolved=L.resolved, as_add=L.as_add),
    "neigh": Handler(
        dump_requests=N.dump_requests, present=N.present, key=N.key,
        owned=N.owned, not_owned=N.not_owned, differences=N.differences,
        change_specs=N.change_specs, removal=N.removal, devices=N.devices,
        resolved=N.resolved, as_add=N.as_add, changeable=N.changeable),
}


def register(kind: str, handler: Handler) -> None:
    """Add (or replace) the handler of a kind."""
    HANDLERS[kind] = handler


def wanted(kind: str, desired: list[Any], own: Ownership) -> bool:
    """Whether sync looks at ``kind`` at all: it has desired items, or present ones it owns."""
    return kind in HANDLERS and (bool(desired) or kind in own.kinds)


def text(spec: Any) -> str:
    """The spec as errors print it."""
    return spec_text(spec)


def key(kind: str, spec: Any) -> Hashable:
    """The identity of a desired item."""
    return HANDLERS[kind].key(spec)


def as_add(spec: Any) -> Any:
    """The request that creates a missing desired item."""
    return HANDLERS[getattr(spec, "kind", "addr")].as_add(spec)


def resolved(spec: Any, index: Mapping[str, int]) -> tuple[Any, str | None]:
    """The spec with device names as indexes, or the first name that does not exist."""
    kind = getattr(spec, "kind", "addr")
    h = HANDLERS.get(kind)
    if h is None:
        from ..codec.errors import SpecError

        raise SpecError(f"sync cannot take {kind} items yet: {spec_text(spec)}")
    return h.resolved(spec, index)


def not_owned(kind: str, spec: Any, names: Mapping[int, str], own: Ownership) -> str | None:
    """Why ``own`` would not own the desired ``spec`` (None when it would)."""
    idx = next(iter(HANDLERS[kind].devices(spec)), 0)
    return HANDLERS[kind].not_owned(spec, names.get(idx, str(idx)), own)


def devices(spec: Any) -> Iterable[int]:
    """The interface indexes a desired item is on (its scope)."""
    return HANDLERS[getattr(spec, "kind", "addr")].devices(spec)


def dump_requests(kind: str, scope: set[int] | None, own: Ownership) -> list[bytes]:
    """The kernel-filtered dumps that read ``kind`` on the devices in scope."""
    if scope is not None and not scope:
        return []
    return HANDLERS[kind].dump_requests(scope, own)


def present(kind: str, msgs: list[Message], scope: set[int] | None,
            links: Mapping[int, LinkMsg]) -> dict[Hashable, Message]:
    """The present items of ``kind`` in a dump's replies, by identity."""
    return HANDLERS[kind].present(msgs, scope, links)


def diff(kind: str, desired: list[Any], present: dict[Hashable, Message], own: Ownership,
         names: Mapping[int, str]) -> tuple[list[Change], int]:
    """(changes, unchanged count) that turn ``present`` into ``desired``."""
    h = HANDLERS[kind]
    changes: list[Change] = []
    unchanged = 0
    seen: set[Hashable] = set()
    for spec in desired:
        k = h.key(spec)
        if k in seen:
            continue  # a duplicate line of the input: the first one stands
        seen.add(k)
        m = present.get(k)
        if m is None:
            changes.append(Change(kind, "add", k, spec, requests=[h.as_add(spec)]))
            continue
        dev = names.get(next(iter(h.devices(spec)), 0), "")
        why = h.differences(m, spec, dev)
        if not why:
            unchanged += 1
        elif not (h.changeable or h.owned)(m, own):
            changes.append(Change(kind, "change", k, spec, m, why=why, reason=(
                f"the present {spec_text(h.removal(m, dev)) if h.removal else k} is not owned "
                f"by this sync (see Ownership); left as it is")))
        else:
            changes.append(Change(kind, "change", k, spec, m, why=why,
                                  requests=h.change_specs(m, spec, why)))
    if h.removal is not None and kind in own.kinds:
        for k, m in present.items():
            if k not in seen and h.owned(m, own):
                name = names.get(getattr(m, "index", 0))
                changes.append(Change(kind, "remove", k, None, m, requests=[h.removal(m, name)]))
    if h.guard is not None:
        h.guard(changes, present, own)
    return changes, unchanged
