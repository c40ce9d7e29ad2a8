"""How ``nlcore bench`` shows its progress and its table."""

from __future__ import annotations

import os
import platform
import sys
import time
from typing import Any, TextIO

from . import cpuclock
from .methods import Bed, bench_module

Row = dict[str, Any]


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


def render(rows: list[Row], head: str, notes: list[str]) -> str:
    """The human table."""
    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    cols = ("method", "backend", "obj", "op", "fam", "N", "devs", "acks", "input", "per s",
            "cpu us", "x_limit", "x_cpu", "x_pyroute2", "err")
    lines = [head, ""]
    fmt = ("{:<27} {:<7} {:<5} {:<7} {:>3} {:>6} {:>4} {:<6} {:<7} {:>11} {:>7} {:>7} {:>6} "
           "{:>10} {:>4}")
    lines.append(fmt.format(*cols))
    last = None
    for r in rows:
        group = (r.get("object"), r["op"] in ("parse", "encode", "import"), r["family"], r["n"],
                 r["devices"])
        if last is not None and group != last:
            lines.append("")
        last = group
        extra = f"  {r['ms']:.1f} ms, +{r['rss_kib'] / 1024:.1f} MiB RSS" if "ms" in r else ""
        lines.append(fmt.format(r["method"], r["backend"] or "-", r.get("object") or "-",
                                r["op"], r["family"] or "-", r["n"], r["devices"],
                                r.get("acks") or "-", r.get("input") or "-",
                                f"{r['per_s']:,.0f}", num(r.get("cpu_us"), ".2f"),
                                num(r["x_limit"], ".2f"), num(r.get("x_limit_cpu"), ".2f"),
                                num(r["x_pyroute2"], ".1f"), r["errors"]) + extra)
    lines += ["", "per s: addresses or routes (apply), messages (parse, encode) or imports per "
              "second, median round; cpu us: on-CPU microseconds per item of the process that "
              "did the work (perf task-clock), median round; x_limit: wall time of the C "
              "limit (batch 256) of the same object, op, family, N and acks over ours, median "
              "of the rounds' ratios; x_cpu: the same with CPU time; x_pyroute2: vs pyroute2 "
              "addr() (parse/encode/import: vs pyroute2's)"] + \
        [f"note: {t}" for t in notes]
    return "\n".join(lines) + "\n"


def machine(bed: Bed | None = None) -> str:
    """One line about where this ran."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.machine())
    p2 = bench_module("pyroute2_methods")
    mode = "" if bed is None else f", netns {'userns' if bed.ns.userns else 'root'}"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"Linux {platform.release()}, {os.cpu_count()} x {cpu}, Python "
            f"{platform.python_version()}{mode}, pyroute2 {p2.version() if p2 else None}, "
            f"load average {load}, CPU time from {cpuclock.source()[0]}")
