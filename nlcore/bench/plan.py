"""What one ``nlcore bench`` run measures: the :class:`Plan` (full, ``--quick``,
``--routes``, the tests' ``--smoke``) and the apply :class:`Method` rows it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from . import e2e as X
from . import methods as M
from . import tools as T

LIMIT, PYROUTE2 = "C limit", "pyroute2 addr()"
ONE = "nlcore apply_one"  # one request, then wait for its ack
E2E, BULK = "nlcore end-to-end", "nlcore bulk end-to-end"


@dataclass
class Plan:
    """What one run measures."""

    families: tuple[int, ...] = (4, 6)
    sizes: tuple[int, ...] = (1000, 10000)
    devices: tuple[int, ...] = (1, 16)
    ops: tuple[str, ...] = ("add", "replace", "del")
    rounds: dict[int, int] = field(default_factory=lambda: {1000: 15, 10000: 5})
    quick: bool = False
    wire_n: int = 100_000
    wire_rounds: int = 5
    import_runs: int = 7
    pyroute2: bool = True
    route_ops: tuple[str, ...] = ("add", "del")
    dump_n: int = 100_000  # the `dump` rows (bench/dump.py); 0: none
    dump_rounds: int = 3
    objects: tuple[str, ...] = ("addr", "route")  # the apply groups: addresses, routes
    extras: bool = True  # the wire, import and dump rows

    @classmethod
    def make(cls, quick: bool, smoke: bool, routes: bool = False) -> Plan:
        """The full plan, ``--quick`` (< 90 s), ``--routes`` (only the route groups, N=1,000
        and 10,000; with ``quick``: N=1,000) or the tests' tiny ``--smoke`` one."""
        if smoke:
            return cls((4, 6), (50,), (1, 16), ("add", "del"), {50: 1}, True, 2000, 1, 1, False,
                       dump_n=0, objects=("route",) if routes else ("addr", "route"),
                       extras=not routes)
        if routes:
            # N=10,000 as many rounds as N=1,000: its rounds spread +-20% (the C loop's own)
            sizes, rounds = ((1000,), {1000: 9}) if quick else ((1000, 10000), {1000: 15,
                                                                              10000: 15})
            return cls((4, 6), sizes, (1,), ("add", "del"), rounds, quick, pyroute2=False,
                       objects=("route",), extras=False)
        if quick:
            return cls((4, 6), (1000,), (1,), ("add", "del"), {1000: 31}, True, 20_000, 3, 5,
                       dump_n=10_000)
        return cls()


@dataclass(frozen=True)
class Method:
    """A named way to apply addresses (or routes: ``obj``)."""

    name: str
    backend: str | None
    fn: Callable[[M.Bed, M.Case], M.Outcome]
    needs: str | None = None  # the availability() key it depends on
    acks: str = "all"
    input: str = "specs"
    obj: str = "addr"

    @property
    def label(self) -> str:
        """``name`` plus the backend and ack mode, e.g. ``nlcore apply/native/errors``."""
        out = f"{self.name}/{self.backend}" if self.backend else self.name
        return f"{out}/{self.acks}/{self.obj}"


def methods(plan: Plan, have: dict[str, bool] | None = None) -> list[Method]:
    """The apply methods of ``plan`` available per ``have`` (None: all of them), in order."""
    main = "native" if have is None or have["native"] else "pure"
    nat = "native" if main == "native" else None
    out = [Method(LIMIT, None, partial(T.c_limit, batch=256), "climit"),
           Method(LIMIT, None, partial(T.c_limit, batch=256, acks="errors"), "climit",
                  acks="errors")]
    if not plan.quick:
        out.append(Method("C limit b1", None, partial(T.c_limit, batch=1), "climit"))
    for b in [main] if main == "pure" else [main, "pure"]:
        need = "native" if b == "native" else None
        out.append(Method("nlcore apply", b, partial(M.nlcore_apply, backend=b), need))
        if not plan.quick or plan.wire_n < 10_000:  # the full plan and --smoke
            out.append(Method(ONE, b, partial(M.nlcore_one, backend=b), need))
        if have is None or have.get("acks"):
            out.append(Method("nlcore apply", b, partial(M.nlcore_apply, backend=b,
                                                         acks="errors"), need, "errors"))
    out += [Method(E2E, main, partial(X.nlcore_e2e, backend=main), nat, input="strings"),
            Method(BULK, main, partial(X.nlcore_e2e, backend=main, bulk=True), nat,
                   input="strings")]
    if not plan.quick:
        out += [Method("nlcore apply([spec])", main, partial(X.nlcore_each, backend=main), nat),
                Method("nlcore Conn.request", main, partial(X.nlcore_request, backend=main),
                       nat)]
    out.append(Method("ip -batch", None, T.ip_batch, "ip", input="strings"))
    if plan.pyroute2 and not plan.quick:
        out.append(Method("pyroute2 nlm_request_batch", None,
                          partial(T.pyroute2_apply, mode="batch"), "pyroute2"))
    if plan.pyroute2:
        out.append(Method(PYROUTE2, None, partial(T.pyroute2_apply, mode="loop"), "pyroute2"))
    # routes: the C loop in both ack modes, apply() of RouteSpecs and of one RouteBulk built
    # from the strings (both ack modes; the pure backend outside --quick), ip -batch
    out += [Method(LIMIT, None, partial(T.c_limit, batch=256), "climit", obj="route"),
            Method(LIMIT, None, partial(T.c_limit, batch=256, acks="errors"), "climit",
                   acks="errors", obj="route"),
            Method("nlcore apply", main, partial(X.nlcore_route, backend=main), "routes",
                   obj="route"),
            Method("nlcore apply", main, partial(X.nlcore_route, backend=main, acks="errors"),
                   "routes_acks", acks="errors", obj="route"),
            Method("nlcore apply bulk", main, partial(X.nlcore_route, backend=main, bulk=True),
                   "routes", obj="route"),
            Method("nlcore apply bulk", main, partial(X.nlcore_route, backend=main, bulk=True,
                                                      acks="errors"),
                   "routes_acks", acks="errors", obj="route"),
            Method(BULK, main, partial(X.nlcore_route_bulk, backend=main), "routes",
                   input="strings", obj="route"),
            Method(BULK, main, partial(X.nlcore_route_bulk, backend=main, acks="errors"),
                   "routes_acks", acks="errors", input="strings", obj="route")]
    if main == "native" and (not plan.quick or plan.objects == ("route",)):
        out.append(Method("nlcore apply", "pure", partial(X.nlcore_route, backend="pure"),
                          "routes", obj="route"))
    out += [
            Method("ip -batch", None, T.ip_batch, "ip", input="strings", obj="route")]
    return [m for m in out if have is None or m.needs is None or have.get(m.needs)]


def runs_at(m: Method, n: int) -> bool:
    """Above N=1,000 the kernel dominates: only the native nlcore methods and the others run."""
    main = (LIMIT, "C limit b1", "nlcore apply", "nlcore apply bulk", ONE, E2E, BULK,
            "ip -batch", PYROUTE2, "pyroute2 nlm_request_batch")
    return n <= 1000 or (m.backend != "pure" and m.name in main)


