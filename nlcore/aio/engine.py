"""``await`` forms of apply and sync, on the engine's and the sync planner's own code.

:func:`apply` hands the specs to :func:`nlcore.ops.engine.apply` one batch at a time and
yields to the loop between batches, so that many namespaces progress together from one
loop; the results are the engine's, merged into one Report. Cancellation lands only between
batches (a batch is one engine call that has its acks, or its dump-resolved outcomes, when
it returns): what was sent has its result, what was not is "not-sent: cancelled". The
partial Report is ``conn.last_report`` and the CancelledError's ``report``.
"""

from __future__ import annotations

import asyncio
from array import array
from typing import Any, Iterable

from ..ops import engine
from ..ops.results import NOT_SENT
from ..ops.sync import Dump, Ownership, SyncReport, plan, record
from .conn import AsyncConn


def merge(specs: list[Any], parts: list[engine.Report], exist_ok: bool,
          missing_ok: bool, reason: str = "not sent: cancelled") -> engine.Report:
    """One Report for ``specs`` from the Reports of its consecutive batches ``parts``; the
    specs no part covers are "not-sent" with ``reason``."""
    status: list[int] = []
    errors: dict[int, Any] = {}
    reasons: dict[int, str] = {}
    resolved: set[int] = set()
    for part in parts:
        base = len(status)
        status += list(part.status)
        errors.update({base + i: e for i, e in part.errors.items()})
        reasons.update({base + i: r for i, r in part.reasons.items()})
        resolved.update(base + i for i in part.resolved)
    for i in range(len(status), len(specs)):
        status.append(NOT_SENT)
        reasons[i] = reason
    return engine.Report(specs, array("i", status), errors, reasons, resolved, exist_ok,
                         missing_ok)


async def apply(specs: Iterable[Any], conn: AsyncConn | None = None, *, ns: object = None,
                exist_ok: bool = False, missing_ok: bool = False, batch: int = 512,
                **options: Any) -> engine.Report:
    """``await`` form of :func:`nlcore.apply`: same arguments, same Report."""
    specs = specs if isinstance(specs, list) else list(specs)
    own = conn is None
    ac = AsyncConn(ns=ns) if conn is None else conn
    parts: list[engine.Report] = []
    try:
        async with ac.lock:
            for start in range(0, len(specs), batch):
                if start:
                    await asyncio.sleep(0)  # let the loop's other tasks run
                parts.append(engine.apply(specs[start:start + batch], ac.conn,
                                          exist_ok=exist_ok, missing_ok=missing_ok,
                                          batch=batch, **options))
    except asyncio.CancelledError as exc:
        ac.last_report = merge(specs, parts, exist_ok, missing_ok)
        exc.report = ac.last_report  # type: ignore[attr-defined]
        raise
    finally:
        if own:
            ac.close()
    ac.last_report = merge(specs, parts, exist_ok, missing_ok) if len(parts) != 1 else parts[0]
    return ac.last_report  # type: ignore[no-any-return]


async def request(msg: bytes, conn: AsyncConn | None = None, *, ns: object = None) -> list[Any]:
    """``await`` form of ``Conn.request`` (a new connection in ``ns`` unless given one)."""
    ac = AsyncConn(ns=ns) if conn is None else conn
    try:
        return await ac.request(msg)
    finally:
        if conn is None:
            ac.close()


dump = request


async def sync(desired: Iterable[Any], conn: AsyncConn | None = None, *, ns: object = None,
               devices: Any = None, ownership: Ownership | None = None,
               dry_run: bool = False, report: SyncReport | None = None) -> SyncReport:
    """``await`` form of :func:`nlcore.ops.sync.sync`: the same planner, driven here.

    It yields to the loop before each step (a dump, or the engine's batches of an apply).
    Cancelled, it leaves the partial SyncReport in ``report`` (when given: an empty
    ``SyncReport()`` filled in place), in ``conn.last_report`` and, as ``report``, on the
    CancelledError it raises (which ``await task`` passes on from Python 3.11): ``cancelled``
    set, every change it reached with the results of what was sent (ok, failed, or resolved
    by the engine's dump), the others "planned", ``verified`` False.
    """
    ac = AsyncConn(ns=ns) if conn is None else conn
    rep = report if report is not None else SyncReport()
    rep.dry_run = dry_run
    gen = plan(desired, devices=devices, ownership=ownership, dry_run=dry_run, report=rep)
    try:
        step = next(gen)
        while True:
            await asyncio.sleep(0)  # a cancellation point between steps
            if isinstance(step, Dump):
                answer: Any = [m for r in step.requests for m in await ac.request(r)]
            else:
                try:
                    answer = await apply(step.specs, ac, exist_ok=True, missing_ok=True)
                except asyncio.CancelledError as exc:
                    part = getattr(exc, "report", None)
                    if part is not None:
                        record(step, part, rep)
                    raise
            step = gen.send(answer)
    except StopIteration as stop:
        ac.last_report = stop.value
        return stop.value  # type: ignore[no-any-return]
    except asyncio.CancelledError as exc:
        rep.cancelled = True
        ac.last_report = exc.report = rep  # type: ignore[attr-defined]
        raise
    finally:
        gen.close()
        if conn is None:
            ac.close()
