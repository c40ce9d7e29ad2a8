"""``nlcore bench [--quick] [-j]``: how fast nlcore applies addresses and parses acks,
against the kernel's limit (bench/c_limit.c), ``ip -batch`` and pyroute2, in one run.

Everything happens in one throwaway network namespace (root, or a user namespace) with veth
devices nlcore creates; it is gone when the job ends, however it ends. Each apply round starts
from clean devices and runs add, (replace,) del per method; methods take turns in a rotating
order and the median round is reported. ``x_limit`` is the ratio to the C loop at batch 256
(same op, family, N and devices, same run), ``x_pyroute2`` the ratio to pyroute2's per-call
``IPRoute.addr()`` loop (for parse/encode/import: to pyroute2's parser/encoder/import).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterator, TextIO

from ..codec import _backend
from . import methods as M
from . import wire as W

Row = M.Row
LIMIT, PYROUTE2 = "C limit b256", "pyroute2 addr()"
ONE = "nlcore apply_one"  # one request, then wait for its ack


@dataclass
class Plan:
    """What one run measures."""

    families: tuple[int, ...] = (4, 6)
    sizes: tuple[int, ...] = (1000, 10000)
    devices: tuple[int, ...] = (1, 16)
    ops: tuple[str, ...] = ("add", "replace", "del")
    rounds: dict[int, int] = field(default_factory=lambda: {1000: 5, 10000: 1})
    quick: bool = False
    wire_n: int = 100_000
    wire_rounds: int = 5
    import_runs: int = 7
    pyroute2: bool = True
    dump_n: int = 100_000  # the `dump` rows (bench/dump.py); 0: none
    dump_rounds: int = 3

    @classmethod
    def make(cls, quick: bool, smoke: bool) -> Plan:
        """The full plan, ``--quick`` (< 1 minute) or the tests' tiny ``--smoke`` one."""
        if smoke:
            return cls((4, 6), (50,), (1, 16), ("add", "del"), {50: 1}, True, 2000, 1, 1, False,
                       dump_n=0)
        if quick:
            return cls((4, 6), (1000,), (1,), ("add", "del"), {1000: 3}, True, 20_000, 3, 5,
                       dump_n=10_000)
        return cls()


@dataclass(frozen=True)
class Method:
    """A named way to apply addresses."""

    name: str
    backend: str | None
    fn: Callable[[M.Bed, M.Case], M.Outcome]
    needs: str | None = None  # the availability() key it depends on

    @property
    def label(self) -> str:
        """``name`` plus the backend, e.g. ``nlcore apply/native``."""
        return f"{self.name}/{self.backend}" if self.backend else self.name


class Progress:
    """One status line on stderr: rewritten in place on a terminal, else a line per group."""

    def __init__(self, total: int, out: TextIO | None = None) -> None:
        self.out = sys.stderr if out is None else out
        self.total, self.done, self.tty = total, 0, self.out.isatty()
        self.t0, self._group = time.monotonic(), ""

    def step(self, group: str, what: str) -> None:
        """Announce the next measurement."""
        self.done += 1
        pct = 100 * self.done // max(self.total, 1)
        head = f"[{self.done:>4}/{self.total}] {pct:3d}% {time.monotonic() - self.t0:6.1f}s"
        if self.tty:
            self.out.write(f"\r\033[K{head} {group} {what}"[:160])
        elif group != self._group:
            self.out.write(f"{head} {group}\n")
        self._group = group
        self.out.flush()

    def note(self, text: str) -> None:
        """A line of its own (above the status line)."""
        self.out.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.out.flush()

    def end(self) -> None:
        """Clear the status line."""
        if self.tty:
            self.out.write("\r\033[K")
            self.out.flush()


def methods(plan: Plan, have: dict[str, bool] | None = None) -> list[Method]:
    """The apply methods of ``plan`` available per ``have`` (None: all of them), in order."""
    main = "native" if have is None or have["native"] else "pure"
    out = [Method(LIMIT, None, partial(M.c_limit, batch=256), "climit"),
           Method("C limit b1", None, partial(M.c_limit, batch=1), "climit")]
    for b in [main] if plan.quick or main == "pure" else [main, "pure"]:
        need = "native" if b == "native" else None
        out += [Method("nlcore apply", b, partial(M.nlcore_apply, backend=b), need),
                Method(ONE, b, partial(M.nlcore_one, backend=b), need)]
    if not plan.quick:
        need = "native" if main == "native" else None
        out += [Method("nlcore apply([spec])", main, partial(M.nlcore_each, backend=main), need),
                Method("nlcore Conn.request", main, partial(M.nlcore_request, backend=main),
                       need)]
    out.append(Method("ip -batch", None, M.ip_batch, "ip"))
    if plan.pyroute2:
        out += [Method("pyroute2 nlm_request_batch", None, partial(M.pyroute2_apply, mode="batch"),
                       "pyroute2"),
                Method(PYROUTE2, None, partial(M.pyroute2_apply, mode="loop"), "pyroute2")]
    return [m for m in out if have is None or m.needs is None or have[m.needs]]


def runs_at(m: Method, n: int) -> bool:
    """Above N=1,000 the kernel dominates: only the native nlcore methods and the others run."""
    main = (LIMIT, "C limit b1", "nlcore apply", ONE, "ip -batch", PYROUTE2,
            "pyroute2 nlm_request_batch")
    return n <= 1000 or (m.backend != "pure" and m.name in main)


def apply_rows(bed: M.Bed, plan: Plan, meths: list[Method], prog: Progress,
               notes: list[str]) -> Iterator[Row]:
    """Every (family, N, devices) group: rounds of add/(replace/)del per method."""
    broken: set[str] = set()
    for family in plan.families:
        for n in plan.sizes:
            for devs in plan.devices:
                rounds = plan.rounds.get(n, 1)
                got: dict[tuple[int, str], list[M.Outcome]] = {}
                for r in range(rounds):
                    k = r % len(meths)
                    for mi, m in [*enumerate(meths)][k:] + [*enumerate(meths)][:k]:
                        if m.label in broken or not runs_at(m, n):
                            continue
                        bed.flush(family)
                        for op in plan.ops:
                            case = M.Case(op, family, n, devs)
                            prog.step(f"IPv{family} N={n} devices={devs} round {r + 1}/{rounds}",
                                      f"{m.name} {op}")
                            try:
                                out = m.fn(bed, case)
                            except Exception as exc:  # a tool broke: report, go on without it
                                broken.add(m.label)
                                notes.append(f"{m.name} failed, skipped from here: {exc}")
                                prog.note(notes[-1])
                                break
                            bad = bed.misplaced(case, there=op != "del")
                            got.setdefault((mi, op), []).append(
                                M.Outcome(out.seconds, max(out.errors, bad)))
                bed.flush(family)
                for (mi, op), samples in sorted(got.items(),
                                                key=lambda kv: (plan.ops.index(kv[0][1]), kv[0])):
                    m = meths[mi]
                    yield M.make_row(m.name, m.backend, op, family, n, devs, samples)


def add_ratios(rows: list[Row]) -> None:
    """Fill x_limit and x_pyroute2 from the reference rows of the same run."""
    def key(r: Row) -> tuple[Any, ...]:
        return (r["op"], r["family"], r["n"], r["devices"])

    refs = {"parse": W.PARSE_PY, "encode": W.ENCODE_PY, "import": W.IMPORT_PY}
    limit = {key(r): r["per_s"] for r in rows if r["method"] == LIMIT}
    py = {key(r): r["per_s"] for r in rows if r["method"] == refs.get(r["op"], PYROUTE2)}
    for r in rows:
        if key(r) in limit:
            r["x_limit"] = r["per_s"] / limit[key(r)]
        if key(r) in py:
            r["x_pyroute2"] = r["per_s"] / py[key(r)]


def availability(plan: Plan, notes: list[str]) -> dict[str, bool]:
    """What this machine offers, with a note for everything missing."""
    have = {"native": True, "climit": False, "ip": shutil.which("ip") is not None,
            "pyroute2": False}
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


def machine(bed: M.Bed | None = None) -> str:
    """One line about where this ran."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.machine())
    p2 = M.bench_module("pyroute2_methods")
    mode = "" if bed is None else f", netns {'userns' if bed.ns.userns else 'root'}"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"Linux {platform.release()}, {os.cpu_count()} x {cpu}, Python "
            f"{platform.python_version()}{mode}, pyroute2 {p2.version() if p2 else None}, "
            f"load average {load}")


def render(rows: list[Row], head: str, notes: list[str]) -> str:
    """The human table."""
    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    cols = ("method", "backend", "op", "fam", "N", "devs", "per s", "x_limit", "x_pyroute2",
            "err")
    lines = [head, ""]
    fmt = "{:<27} {:<7} {:<7} {:>3} {:>7} {:>4} {:>12} {:>8} {:>10} {:>5}"
    lines.append(fmt.format(*cols))
    last = None
    for r in rows:
        group = (r["op"] in ("parse", "encode", "import"), r["family"], r["n"], r["devices"])
        if last is not None and group != last:
            lines.append("")
        last = group
        extra = f"  {r['ms']:.1f} ms, +{r['rss_kib'] / 1024:.1f} MiB RSS" if "ms" in r else ""
        lines.append(fmt.format(r["method"], r["backend"] or "-", r["op"],
                                r["family"] or "-", r["n"], r["devices"],
                                f"{r['per_s']:,.0f}", num(r["x_limit"], ".2f"),
                                num(r["x_pyroute2"], ".1f"), r["errors"]) + extra)
    lines += ["", "per s: addresses (apply), messages (parse, encode) or imports per second, "
              "median round; x_limit: vs C limit b256; x_pyroute2: vs pyroute2 addr() "
              "(parse/encode/import: vs pyroute2's)"] + [f"note: {t}" for t in notes]
    return "\n".join(lines) + "\n"


def run(plan: Plan, prog_out: TextIO | None = None) -> tuple[list[Row], list[str], str]:
    """Measure ``plan`` in a fresh namespace; returns (rows, notes, machine line)."""
    notes: list[str] = []
    have = availability(plan, notes)
    with M.Bed(max(plan.devices)) as bed:
        meths = methods(plan, have)
        nb = 2 if have["native"] else 1
        total = (len(plan.families) * len(plan.devices) * len(plan.ops)
                 * sum(plan.rounds.get(n, 1) * sum(runs_at(m, n) for m in meths)
                       for n in plan.sizes)
                 + len(plan.families) * (4 * nb + 5) + nb + 1)
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
        if plan.dump_n:
            from .dump import dump_rows

            rows += dump_rows(plan.dump_n, plan.dump_rounds, p2, prog.step, notes)
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
