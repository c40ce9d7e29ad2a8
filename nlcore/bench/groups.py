"""The measuring loop of ``nlcore bench``: groups of interleaved rounds (the methods in a
rotating order), every result checked against the kernel's state, and the ratios to the C
limit of the same run."""

from __future__ import annotations

import statistics
from typing import Any, Iterator

from . import e2e as X
from . import methods as M
from . import wire as W
from .plan import LIMIT, PYROUTE2, Method, Plan, runs_at
from .report import Progress

Row = M.Row


def apply_rows(bed: M.Bed, plan: Plan, meths: list[Method], prog: Progress,
               notes: list[str]) -> Iterator[Row]:
    """Every (object, family, N, devices) group: rounds of add/(replace/)del per method,
    the methods in a rotating order, round by round."""
    broken: set[str] = set()
    for obj in plan.objects:
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


def paired(ref: list[float] | None, mine: list[float] | None) -> float | None:
    """The median over rounds of ``ref[r] / mine[r]`` (rounds the two rows share, in order;
    round r of every method ran side by side), or None with fewer than 3 such rounds."""
    if not ref or not mine:
        return None
    pairs = [a / b for a, b in zip(ref, mine) if a is not None and b is not None and b > 0]
    return statistics.median(pairs) if len(pairs) >= 3 else None


def add_ratios(rows: list[Row]) -> None:
    """Fill x_limit (wall), x_limit_cpu and x_pyroute2 from the reference rows of the same
    run: the C limit of the same object, op, family, N, devices and ack mode. Where both
    rows carry their rounds, a ratio is the median of the per-round ratios (the C loop's
    round r against this method's round r, run side by side, so a slow phase of the machine
    falls on both); otherwise the ratio of the medians."""
    def key(r: Row) -> tuple[Any, ...]:
        return (r.get("object", "addr"), r["op"], r["family"], r["n"], r["devices"],
                r.get("acks", "all"))

    refs = {"parse": W.PARSE_PY, "encode": W.ENCODE_PY, "import": W.IMPORT_PY}
    limit = {key(r): r for r in rows if r["method"] == LIMIT}
    py = {key(r): r["per_s"] for r in rows if r["method"] == refs.get(r["op"], PYROUTE2)}
    for r in rows:
        ref = limit.get(key(r))
        if ref is not None:
            x = paired(ref.get("round_seconds"), r.get("round_seconds"))
            r["x_limit"] = r["per_s"] / ref["per_s"] if x is None else x
            xc = paired(ref.get("round_cpu"), r.get("round_cpu"))
            if xc is not None:
                r["x_limit_cpu"] = xc
            elif r.get("cpu_us") and ref.get("cpu_us"):
                r["x_limit_cpu"] = ref["cpu_us"] / r["cpu_us"]
        if key(r) in py:
            r["x_pyroute2"] = r["per_s"] / py[key(r)]
