"""Declarative sync: make the namespace's addresses (routes, neighbours, link settings) so.

:func:`sync` dumps what is there (filtered in the kernel: one dump per device in scope),
compares it with the desired items, and applies the difference through the engine in a safe
order: link settings, then route deletions, then address deletions, then (after a fresh
address dump if anything was deleted, since the kernel removes IPv4 secondaries with their
primary) address adds and changes, then routes, then neighbours. When anything was sent it
dumps once more and reports what still differs as ``drift`` (a race with another program,
or a change the kernel undid); it never loops. A second sync of the same input sends only
the dumps.

The plan is a generator of I/O steps (:class:`Dump`, :class:`Apply`), driven here by a Conn
and by :func:`nlcore.aio.sync` by an async connection: one planner, two drivers.
"""

from __future__ import annotations

from typing import Any, Generator, Hashable, Iterable, NamedTuple, Sequence, Union

from ..codec.decode import LinkMsg, Message
from ..codec.errors import SpecError
from ..codec.wire import encode_getlink
from ..net import exchange
from ..net.conn import Conn
from . import sync_kinds as K
from .engine import Report, apply
from .sync_report import Change, SyncReport
from .sync_rules import Ownership

__all__ = ["Apply", "Change", "Dump", "Ownership", "SyncReport", "drive", "plan", "record",
           "sync"]


class Dump(NamedTuple):
    """An I/O step: send these dump requests; the answer is every message of their replies."""

    requests: list[bytes]


class Apply(NamedTuple):
    """An I/O step: apply these specs through the engine (exist_ok, missing_ok); the answer
    is the engine's Report. ``changes[i]`` is the Change that ``specs[i]`` belongs to (a
    driver that stops mid-step records the results it has there: :func:`record`)."""

    specs: list[Any]
    changes: Sequence[Change] = ()


def record(step: Apply, report: Report, rep: SyncReport) -> None:
    """Give each change of ``step`` the result of its spec in the partial ``report`` (of an
    apply cut short), for the specs that were sent; the others stay planned."""
    for change, result in zip(step.changes, report):
        if result.status != "not-sent":
            change.results.append(result)
            rep.sends += 1


Step = Union[Dump, Apply]
Plan = Generator[Step, Any, SyncReport]
Devices = Union[None, str, Iterable[Union[str, int]]]


def sync(desired: Iterable[Any], conn: Conn | None = None, *, ns: object = None,
         devices: Devices = None, ownership: Ownership | None = None,
         dry_run: bool = False) -> SyncReport:
    """Make the namespace hold exactly ``desired`` on the devices in scope.

    ``desired``: specs (AddrSpec...) with ``op`` add or replace, naming devices by ``dev``
    or ``index``. ``devices``: more devices in scope (names or indexes) beyond those the
    specs name, or ``"all"`` for every device of the namespace. ``ownership`` narrows what
    present items may be removed or changed (see :class:`Ownership`). ``dry_run`` returns
    the plan without sending anything but the dumps.
    """
    own = conn is None
    c = Conn(ns=ns) if conn is None else conn
    try:
        with c.lock:
            return drive(plan(desired, devices=devices, ownership=ownership,
                              dry_run=dry_run), c)
    finally:
        if own:
            c.close()


def drive(gen: Plan, conn: Conn) -> SyncReport:
    """Run a sync plan's steps on ``conn`` (blocking)."""
    try:
        step = next(gen)
        while True:
            if isinstance(step, Dump):
                answer: Any = [m for r in step.requests for m in exchange.request(conn, r)]
            else:
                answer = apply(step.specs, conn, exist_ok=True, missing_ok=True)
            step = gen.send(answer)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- the planner
class _State:
    """What the planner knows: names, scope, desired items by kind."""

    def __init__(self, links: Sequence[Message]) -> None:
        lks = [m for m in links if isinstance(m, LinkMsg)]
        self.index = {m.ifname: m.index for m in lks if m.ifname}
        self.name = {m.index: m.ifname or str(m.index) for m in lks}
        self.links = {m.index: m for m in lks}
        self.scope: set[int] | None = set()
        self.desired: dict[str, list[Any]] = {k: [] for k in K.ORDER}


def plan(desired: Iterable[Any], *, devices: Devices = None, ownership: Ownership | None = None,
         dry_run: bool = False, report: SyncReport | None = None) -> Plan:
    """The sync as a generator of :class:`Dump`/:class:`Apply` steps; returns the report.

    SpecError (before anything but the link dump is sent) for a desired item of an unknown
    kind or op, or one the ownership rules would not own. ``report``: the SyncReport to
    fill (so that a driver stopped midway still holds what was done), else a new one.
    """
    own = ownership or Ownership()
    rep = report if report is not None else SyncReport(dry_run=dry_run)
    wanted = list(desired)
    _check(wanted)  # before anything is sent
    st = _State((yield Dump([encode_getlink(dump=True)])))
    rep.dumps += 1
    _resolve(st, wanted, devices, rep, own)
    present: dict[str, dict[Hashable, Message]] = {}
    todo: dict[str, list[Change]] = {}
    for kind in K.ORDER:
        if not K.wanted(kind, st.desired[kind], own):
            continue
        present[kind] = yield from _dump(kind, st, own, rep)
        todo[kind], unchanged = K.diff(kind, st.desired[kind], present[kind], own, st.name)
        rep.unchanged += unchanged
    for kind in K.ORDER:
        rep.changes += todo.get(kind, [])
    if dry_run:
        return rep
    # 1. link settings, 2. route deletions, 3. address deletions (and the delete of a change)
    yield from _run(rep, [(c, r) for c in todo.get("link", []) for r in c.requests])
    yield from _run(rep, _removals(todo.get("route", [])))
    if (yield from _run(rep, _removals(todo.get("addr", [])))):
        yield from _casualties("addr", st, own, rep, present, todo)
    # 4. address adds and changes, 5. routes (re-read if addresses went), 6. neighbours
    yield from _run(rep, _additions(todo.get("addr", [])))
    if "route" in todo and any(c.action != "add" for c in todo.get("addr", [])):
        yield from _casualties("route", st, own, rep, present, todo)
    yield from _run(rep, _additions(todo.get("route", [])))
    neigh = todo.get("neigh", [])
    yield from _run(rep, _removals(neigh) + _additions(neigh))
    if rep.sends:
        for kind in todo:
            now = yield from _dump(kind, st, own, rep)
            drift, _ = K.diff(kind, st.desired[kind], now, own, st.name)
            rep.drift += [c for c in drift if c.reason is None]
        rep.verified = True
    return rep


def _check(desired: list[Any]) -> None:
    """SpecError for an item of a kind sync cannot take, or one that is not a desired item."""
    for spec in desired:
        kind = getattr(spec, "kind", "addr")
        if kind not in K.HANDLERS:
            raise SpecError(f"sync cannot take {kind} items yet: {K.text(spec)}")
        if getattr(spec, "op", "add") not in ("add", "replace", "set"):
            raise SpecError(f"sync takes desired items (op add or replace), not "
                            f"{spec.op} {K.text(spec)}")


def _resolve(st: _State, desired: list[Any], devices: Devices, rep: SyncReport,
             own: Ownership) -> None:
    """Names -> indexes, the scope, and the desired items checked against the rules."""
    for spec in desired:
        kind = getattr(spec, "kind", "addr")
        resolved, missing = K.resolved(spec, st.index)
        if missing:
            rep.changes.append(Change(kind, "add", K.text(spec), spec, reason=f'Cannot find '
                                      f'device "{missing}"'))
            continue
        why = K.not_owned(kind, resolved, st.name, own)
        if why is not None:
            raise SpecError(f"sync would not own {why}: a later sync could never remove it")
        st.desired[kind].append(resolved)
        if st.scope is not None:
            st.scope.update(K.devices(resolved))
    if devices == "all":
        st.scope = None
    elif devices is not None and st.scope is not None:
        for d in devices:
            if isinstance(d, int) and not isinstance(d, bool):
                st.scope.add(d)
            elif d in st.index:
                st.scope.add(st.index[str(d)])
            else:
                raise SpecError(f'Cannot find device "{d}"')


def _dump(kind: str, st: _State, own: Ownership,
          rep: SyncReport) -> Generator[Step, Any, dict[Hashable, Message]]:
    reqs = K.dump_requests(kind, st.scope, own)
    msgs = (yield Dump(reqs)) if reqs else []
    rep.dumps += len(reqs)
    return K.present(kind, msgs, st.scope, st.links)


def _removals(changes: list[Change]) -> list[tuple[Change, Any]]:
    """The delete of every removal, and the first request of a delete-then-add change."""
    return [(c, c.requests[0]) for c in changes if c.reason is None and (
        c.action == "remove" or (c.action == "change" and len(c.requests) == 2))]


def _additions(changes: list[Change]) -> list[tuple[Change, Any]]:
    """The add or replace of every addition and change whose delete (if any) succeeded."""
    return [(c, c.requests[-1]) for c in changes if c.reason is None and c.action != "remove"
            and all(r.ok for r in c.results)]


def _run(rep: SyncReport, work: list[tuple[Change, Any]]) -> Generator[Step, Any, int]:
    """Apply the requests of ``work``; each result goes to its change. Returns how many."""
    if not work:
        return 0
    report: Report = yield Apply([spec for _, spec in work], [c for c, _ in work])
    for (change, _), result in zip(work, report):
        change.results.append(result)
    rep.sends += len(work)
    return len(work)


def _casualties(kind: str, st: _State, own: Ownership, rep: SyncReport,
                present: dict[str, dict[Hashable, Message]],
                todo: dict[str, list[Change]]) -> Generator[Step, Any, None]:
    """After deletions: re-read ``kind`` and add back what the kernel removed with them."""
    now = yield from _dump(kind, st, own, rep)
    planned = {c.key for c in todo[kind]}
    for spec in st.desired[kind]:
        key = K.key(kind, spec)
        if key not in planned and key in present[kind] and key not in now:
            c = Change(kind, "add", key, spec, requests=[K.as_add(spec)],
                       note="removed by the kernel with an item this sync deleted")
            todo[kind].append(c)
            rep.changes.append(c)
            rep.unchanged -= 1
