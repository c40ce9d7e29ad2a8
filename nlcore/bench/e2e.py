"""The bench methods that start from text (end to end) and the route methods.

``nlcore end-to-end`` times what a user pays from a list of address strings: building and
validating the specs (one AddrSpec per string, or one AddrBulk for all) and ``apply()``.
Route rows send ``PREFIX dev NAME`` routes on the bed's own up devices (``r0``...).
"""

from __future__ import annotations

import importlib
import inspect
import json
import time
from typing import Any

from ..codec.bulk import AddrBulk
from ..codec.spec import AddrSpec
from ..codec.wire import encode_addr
from ..ops import engine
from ..ops.engine import apply
from .cpuclock import cpu_self
from .methods import Bed, Case, Outcome, addresses, use_backend


def engine_has_acks() -> bool:
    """Does this engine's ``apply()`` take ``acks=`` (the elided-ack mode)?"""
    return "acks" in inspect.signature(engine.apply).parameters


def route_spec_class() -> Any:
    """``nlcore.codec.route.RouteSpec`` if this tree has it, else None."""
    try:
        mod = importlib.import_module(f"{__name__.rsplit('.', 2)[0]}.codec.route")
    except ImportError:
        return None
    return getattr(mod, "RouteSpec", None)


def _kw(acks: str) -> dict[str, Any]:
    return {} if acks == "all" else {"acks": acks}


def nlcore_e2e(bed: Bed, case: Case, backend: str = "native", bulk: bool = False,
               acks: str = "all") -> Outcome:
    """From strings: ``AddrSpec(text, index=..., op=..., flags=...)`` per address (or one
    ``AddrBulk``), then ``apply()``; building is timed."""
    texts = addresses(case.family, case.n)
    devs = bed.devs[:case.devices]
    flags = "nodad" if case.family == 6 else 0
    c = bed.conn_for(backend)
    with use_backend(backend):
        c0, t0 = cpu_self(), time.perf_counter()
        if bulk:
            specs: Any = AddrBulk(texts, index=devs, op=case.op,  # type: ignore[arg-type]
                                  flags=flags, backend=backend)
        else:
            nd = len(devs)
            specs = [AddrSpec(t, devs[i % nd], case.op, flags=flags)  # type: ignore[arg-type]
                     for i, t in enumerate(texts)]
        rep = apply(specs, c, **_kw(acks))
        dt, cpu = time.perf_counter() - t0, cpu_self() - c0
    return Outcome(dt, len(rep.failures()), cpu)


def route_specs(bed: Bed, case: Case) -> list[Any]:
    """The case's RouteSpecs (``PREFIX dev rK``, request i on device i % devices)."""
    cls = route_spec_class()
    if cls is None:
        raise RuntimeError("nlcore.codec.route.RouteSpec is not in this tree")
    devs = bed.route_devs[:case.devices]
    return [cls(a.partition("/")[0], op=case.op, index=devs[i % len(devs)])
            for i, a in enumerate(addresses(case.family, case.n))]


def nlcore_route(bed: Bed, case: Case, backend: str = "native", acks: str = "all",
                 bulk: bool = False) -> Outcome:
    """``apply(route_specs, conn)``, or with ``bulk`` ``apply(RouteBulk)`` of the same routes
    (the input built before the clock starts)."""
    c = bed.conn_for(backend)
    if bulk:
        from ..codec.route_bulk import RouteBulk

        specs: Any = RouteBulk([a.partition("/")[0] for a in addresses(case.family, case.n)],
                               index=bed.route_devs[:case.devices], op=case.op,
                               backend=backend)
    else:
        specs = route_specs(bed, case)
    with use_backend(backend):
        c0, t0 = cpu_self(), time.perf_counter()
        rep = apply(specs, c, **_kw(acks))
        dt, cpu = time.perf_counter() - t0, cpu_self() - c0
    return Outcome(dt, len(rep.failures()), cpu)


def nlcore_route_bulk(bed: Bed, case: Case, backend: str = "native",
                      acks: str = "all") -> Outcome:
    """From strings: one ``RouteBulk`` of the case's destinations (``PREFIX dev rK``), then
    ``apply()``; building is timed."""
    from ..codec.route_bulk import RouteBulk

    texts = [a.partition("/")[0] for a in addresses(case.family, case.n)]
    devs, c = bed.route_devs[:case.devices], bed.conn_for(backend)
    with use_backend(backend):
        c0, t0 = cpu_self(), time.perf_counter()
        bulk = RouteBulk(texts, index=devs, op=case.op, backend=backend)
        rep = apply(bulk, c, **_kw(acks))
        dt, cpu = time.perf_counter() - t0, cpu_self() - c0
    return Outcome(dt, len(rep.failures()), cpu)


def _root(family: int) -> str:
    return "198.18.0.0/15" if family == 4 else "2001:db8::/32"


def flush_routes(bed: Bed, family: int) -> None:
    """Delete the bench's routes of ``family`` (untimed cleanup)."""
    bed.run(["ip", f"-{family}", "route", "flush", "root", _root(family)])


def routes_misplaced(bed: Bed, case: Case, there: bool) -> int:
    """How many of the case's routes are not in the state wanted (``there`` or not)."""
    out = bed.run(["ip", "-j", f"-{case.family}", "route", "show", "root", _root(case.family)])
    have = {r.get("dst") for r in json.loads(out.stdout or "[]")}
    want = {a.partition("/")[0] for a in addresses(case.family, case.n)}
    return len(want - have) if there else len(want & have)


def nlcore_each(bed: Bed, case: Case, backend: str = "native") -> Outcome:
    """One ``apply([spec], conn)`` per spec (a one-spec Report each)."""
    specs, c = bed.specs(case), bed.conn_for(backend)
    with use_backend(backend):
        c0, t0 = cpu_self(), time.perf_counter()
        reps = [apply([s], c) for s in specs]
        dt, cpu = time.perf_counter() - t0, cpu_self() - c0
    return Outcome(dt, sum(not r.ok for r in reps), cpu)


def nlcore_request(bed: Bed, case: Case, backend: str = "native") -> Outcome:
    """One ``Conn.request(msg)`` per address (the lowest public one-at-a-time layer)."""
    msgs, c, errors = [encode_addr(s) for s in bed.specs(case)], bed.conn_for(backend), 0
    with use_backend(backend):
        c0, t0 = cpu_self(), time.perf_counter()
        for m in msgs:
            try:
                c.request(m)
            except OSError:
                errors += 1
        dt, cpu = time.perf_counter() - t0, cpu_self() - c0
    return Outcome(dt, errors, cpu)


def flush(bed: Bed, obj: str, family: int) -> None:
    """Remove the bench's addresses or routes of ``family`` (untimed)."""
    if obj == "route":
        flush_routes(bed, family)
    else:
        bed.flush(family)


def misplaced(bed: Bed, case: Case, there: bool) -> int:
    """How many of the case's items are not where they should be."""
    return routes_misplaced(bed, case, there) if case.obj == "route" else \
        bed.misplaced(case, there)
