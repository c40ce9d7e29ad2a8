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
from typing import TextIO

from ..codec import _backend
from . import cpuclock
from . import e2e as X
from . import methods as M
from . import wire as W
from .groups import add_ratios, apply_rows
from .plan import BULK, E2E, LIMIT, ONE, PYROUTE2, Method, Plan, methods, runs_at
from .report import Progress, machine, render

Row = M.Row
__all__ = ["BULK", "E2E", "LIMIT", "ONE", "PYROUTE2", "Method", "Plan", "Row", "add_ratios",
           "apply_rows", "availability", "main", "methods", "run", "runs_at"]


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
    clock, why = cpuclock.source()
    if clock != "task-clock":
        notes.append(f"cpu_us from getrusage ({why}): on a VM it can miss most of the kernel's "
                     "netlink work (docs/benchmarks.md, CPU time)")
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
        per_round = {obj: sum(1 for m in meths if m.obj == obj) if obj in plan.objects else 0
                     for obj in ("addr", "route")}
        total = (len(plan.families) * sum(
            plan.rounds.get(n, 1) * (per_round["addr"] * len(plan.devices) * len(plan.ops)
                                     + per_round["route"] * len(plan.route_ops))
            for n in plan.sizes)
            + (len(plan.families) * (4 * nb + 5) + nb + 1 if plan.extras else 0))
        prog = Progress(total, prog_out)
        prog.note(f"nlcore bench: namespace net:[{bed.ns.inode}] "
                  f"({'userns' if bed.ns.userns else 'root'}), {len(bed.devs)} veth devices")
        for note in notes:
            prog.note(f"note: {note}")
        rows = list(apply_rows(bed, plan, meths, prog, notes))
        p2 = plan.pyroute2 and have["pyroute2"]
        if plan.extras:
            rows += W.wire_rows(bed, plan.families, plan.wire_n, plan.wire_rounds,
                                have["native"], p2, prog.step, notes)
            rows += W.import_rows(plan.import_runs, have["native"], p2, prog.step)
        if plan.dump_n and plan.extras:
            from .dump import dump_rows

            rows += dump_rows(plan.dump_n, plan.dump_rounds, p2, prog.step, notes)
        prog.end()
        head = machine(bed)
    add_ratios(rows)
    clock = cpuclock.source()[0]
    for r in rows:
        r.setdefault("cpu_clock", clock)
    return rows, notes, head


def _scale(text: str) -> float:
    """``--rounds``: a factor 0.1..20 (argparse words the error)."""
    try:
        x = float(text)
    except ValueError:
        x = -1.0
    if not 0.1 <= x <= 20:
        raise argparse.ArgumentTypeError(f"invalid factor {text!r}: expected a number "
                                         f"0.1..20")
    return x


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nlcore bench``; returns the exit status."""
    ap = argparse.ArgumentParser(prog="nlcore bench", description=(
        "Address apply and ack parse speed against the kernel's limit (a raw C loop), "
        "ip -batch and pyroute2, in one throwaway network namespace."))
    ap.add_argument("--quick", action="store_true", help="N=1000, one device, add/del "
                    "(under a minute)")
    ap.add_argument("--routes", action="store_true", help="only the route groups: route "
                    "add/del, IPv4 and IPv6, N=1000 and 10000 (N=1000 with --quick)")
    ap.add_argument("--rounds", type=_scale, default=1.0, metavar="X",
                    help="run X times the plan's rounds of each apply group (a number "
                    "0.1..20; it narrows a run's noise, not the spread between runs: "
                    "docs/benchmarks.md)")
    ap.add_argument("-j", "--json", action="store_true", help="print a JSON list of rows")
    ap.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    plan = Plan.make(args.quick, args.smoke, args.routes)
    plan.rounds = {n: max(1, round(k * args.rounds)) for n, k in plan.rounds.items()}

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
