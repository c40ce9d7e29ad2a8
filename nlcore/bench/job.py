"""``nlcore bench [--quick] [-j]``: how fast nlcore applies addresses and routes, and parses
acks, against the kernel's limit (bench/c_limit.c), ``ip -batch`` and pyroute2, in one run.

All in one throwaway network namespace with veth devices nlcore creates, gone when the job
ends, however it ends. Each round starts from clean devices and runs add, (replace,) del per
method; methods take turns in a rotating order; the median round is reported, wall and CPU.
``x_limit``: vs the C loop at batch 256 (same object, op, family, N, devices, ack mode);
``x_pyroute2``: vs pyroute2's ``IPRoute.addr()`` (or its parser...). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterator, TextIO

from ..codec import _backend
from . import e2e as X
from . import methods as M
from . import tools as T
from . import wire as W
from .report import Progress, machine, render

Row = M.Row
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

    @classmethod
    def make(cls, quick: bool, smoke: bool) -> Plan:
        """The full plan, ``--quick`` (< 90 s) or the tests' tiny ``--smoke`` one."""
        if smoke:
            return cls((4, 6), (50,), (1, 16), ("add", "del"), {50: 1}, True, 2000, 1, 1, False)
        if quick:
            return cls((4, 6), (1000,), (1,), ("add", "del"), {1000: 9}, True, 20_000, 3, 5)
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
    # routes: the C loop in both ack modes, ip -batch, and apply() once RouteSpec exists
    out += [Method(LIMIT, None, partial(T.c_limit, batch=256), "climit", obj="route"),
            Method(LIMIT, None, partial(T.c_limit, batch=256, acks="errors"), "climit",
                   acks="errors", obj="route"),
            Method("nlcore apply", main, partial(X.nlcore_route, backend=main), "routes",
                   obj="route"),
            Method("nlcore apply", main, partial(X.nlcore_route, backend=main, acks="errors"),
                   "routes_acks", acks="errors", obj="route"),
            Method("ip -batch", None, T.ip_batch, "ip", input="strings", obj="route")]
    return [m for m in out if have is None or m.needs is None or have.get(m.needs)]


def runs_at(m: Method, n: int) -> bool:
    """Above N=1,000 the kernel dominates: only the native nlcore methods and the others run."""
    main = (LIMIT, "C limit b1", "nlcore apply", ONE, E2E, BULK, "ip -batch", PYROUTE2,
            "pyroute2 nlm_request_batch")
    return n <= 1000 or (m.backend != "pure" and m.name in main)


def apply_rows(bed: M.Bed, plan: Plan, meths: list[Method], prog: Progress,
               notes: list[str]) -> Iterator[Row]:
    """Every (object, family, N, devices) group: rounds of add/(replace/)del per method,
    the methods in a rotating order, round by round."""
    broken: set[str] = set()
    for obj in ("addr", "route"):
        ops = plan.ops if obj == "addr" else plan.route_ops
        group = [m for m in meths if m.obj == obj]
        for family in plan.families:
            for n in plan.sizes:
                for devs in plan.devices if obj == "addr" else plan.devices[:1]:
                    yield from _group(bed, plan, group, ops, M.Case("add", family, n, devs, obj),
                                      prog, notes, broken)


def _group(bed: M.Bed, plan: Plan, meths: list[Method], ops: tuple[str, ...], base: M.Case,
           prog: Progress, notes: list[str], broken: set[str]) -> Iterator[Row]:
    rounds = plan.rounds.get(base.n, 1)
    got: dict[tuple[int, str], list[M.Outcome]] = {}
    for r in range(rounds):
        k = r % max(len(meths), 1)
        for mi, m in [*enumerate(meths)][k:] + [*enumerate(meths)][:k]:
            if m.label in broken or not runs_at(m, base.n):
                continue
            X.flush(bed, base.obj, base.family)
            for op in ops:
                case = M.Case(op, base.family, base.n, base.devices, base.obj)
                prog.step(f"{base.obj} IPv{base.family} N={base.n} devices={base.devices} "
                          f"round {r + 1}/{rounds}", f"{m.name} {op}")
                try:
                    out = m.fn(bed, case)
                except Exception as exc:  # a tool broke: report, go on without it
                    broken.add(m.label)
                    notes.append(f"{m.name} ({m.obj}, acks {m.acks}) failed, skipped from "
                                 f"here: {exc}")
                    prog.note(notes[-1])
                    break
                bad = X.misplaced(bed, case, there=op != "del")
                got.setdefault((mi, op), []).append(
                    M.Outcome(out.seconds, max(out.errors, bad), out.cpu))
    X.flush(bed, base.obj, base.family)
    for (mi, op), samples in sorted(got.items(), key=lambda kv: (ops.index(kv[0][1]), kv[0])):
        m = meths[mi]
        yield M.make_row(m.name, m.backend, op, base.family, base.n, base.devices, samples,
                         acks=m.acks, input=m.input, object=m.obj)


def add_ratios(rows: list[Row]) -> None:
    """Fill x_limit (wall), x_limit_cpu and x_pyroute2 from the reference rows of the same
    run: the C limit of the same object, op, family, N, devices and ack mode."""
    def key(r: Row) -> tuple[Any, ...]:
        return (r.get("object", "addr"), r["op"], r["family"], r["n"], r["devices"],
                r.get("acks", "all"))

    refs = {"parse": W.PARSE_PY, "encode": W.ENCODE_PY, "import": W.IMPORT_PY}
    limit = {key(r): r for r in rows if r["method"] == LIMIT}
    py = {key(r): r["per_s"] for r in rows if r["method"] == refs.get(r["op"], PYROUTE2)}
    for r in rows:
        ref = limit.get(key(r))
        if ref is not None:
            r["x_limit"] = r["per_s"] / ref["per_s"]
            if r.get("cpu_us") and ref.get("cpu_us"):
                r["x_limit_cpu"] = ref["cpu_us"] / r["cpu_us"]
        if key(r) in py:
            r["x_pyroute2"] = r["per_s"] / py[key(r)]


def availability(plan: Plan, notes: list[str]) -> dict[str, bool]:
    """What this machine offers, with a note for everything missing."""
    have = {"native": True, "climit": False, "ip": shutil.which("ip") is not None,
            "pyroute2": False, "acks": X.engine_has_acks(),
            "routes": X.route_spec_class() is not None}
    have["routes_acks"] = have["routes"] and have["acks"]
    if not have["acks"]:
        notes.append('nlcore apply acks="errors" absent: this engine\'s apply() has no acks= '
                     "yet (it comes with the engine branch)")
    if not have["routes"]:
        notes.append("nlcore apply route absent: nlcore.codec.route.RouteSpec is not in this "
                     "tree yet (it comes with the families branch)")
    try:
        _backend.load("native")
    except Exception:  # not built, or not loadable here
        have["native"] = False
        notes.append("native backend unavailable (no compiled nlcore._native): pure only")
    if os.environ.get("NLCORE_PURE", "") not in ("", "0"):
        notes.append("NLCORE_PURE is set: the default backend is pure, both are measured")
    cl = M.bench_module("climit")
    if cl is None:
        notes.append("C limit skipped: bench/ (climit.py) not found; x_limit is null")
    else:
        try:
            cl.build()
            have["climit"] = True
        except Exception as exc:
            notes.append(f"C limit skipped (x_limit is null): {exc}")
    if not have["ip"]:
        notes.append("ip -batch skipped: iproute2's ip not found")
    p2 = M.bench_module("pyroute2_methods")
    ver = p2.version() if p2 is not None else None
    have["pyroute2"] = ver is not None
    if plan.pyroute2 and not ver:
        notes.append("pyroute2 skipped: not installed (pip install '.[bench]'); x_pyroute2 is null")
    return have


def run(plan: Plan, prog_out: TextIO | None = None) -> tuple[list[Row], list[str], str]:
    """Measure ``plan`` in a fresh namespace; returns (rows, notes, machine line)."""
    notes: list[str] = []
    have = availability(plan, notes)
    with M.Bed(max(plan.devices)) as bed:
        meths = methods(plan, have)
        nb = 2 if have["native"] else 1
        per_round = {obj: sum(1 for m in meths if m.obj == obj) for obj in ("addr", "route")}
        total = (len(plan.families) * sum(
            plan.rounds.get(n, 1) * (per_round["addr"] * len(plan.devices) * len(plan.ops)
                                     + per_round["route"] * len(plan.route_ops))
            for n in plan.sizes) + len(plan.families) * (4 * nb + 5) + nb + 1)
        prog = Progress(total, prog_out)
        prog.note(f"nlcore bench: namespace net:[{bed.ns.inode}] "
                  f"({'userns' if bed.ns.userns else 'root'}), {len(bed.devs)} veth devices")
        for note in notes:
            prog.note(f"note: {note}")
        rows = list(apply_rows(bed, plan, meths, prog, notes))
        p2 = plan.pyroute2 and have["pyroute2"]
        rows += W.wire_rows(bed, plan.families, plan.wire_n, plan.wire_rounds, have["native"],
                            p2, prog.step, notes)
        rows += W.import_rows(plan.import_runs, have["native"], p2, prog.step)
        prog.end()
        head = machine(bed)
    add_ratios(rows)
    return rows, notes, head


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nlcore bench``; returns the exit status."""
    ap = argparse.ArgumentParser(prog="nlcore bench", description=(
        "Address apply and ack parse speed against the kernel's limit (a raw C loop), "
        "ip -batch and pyroute2, in one throwaway network namespace."))
    ap.add_argument("--quick", action="store_true", help="N=1000, one device, add/del "
                    "(under a minute)")
    ap.add_argument("-j", "--json", action="store_true", help="print a JSON list of rows")
    ap.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    plan = Plan.make(args.quick, args.smoke)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        rows, notes, head = run(plan)
    except KeyboardInterrupt:
        print("\nnlcore bench: interrupted; the namespace is gone", file=sys.stderr)
        return 130
    except (OSError, RuntimeError) as exc:
        print(f"nlcore bench: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, old)
    if args.json:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(rows, head, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
