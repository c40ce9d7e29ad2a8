"""Markdown table of the route rows of ``nlcore bench -j`` runs (the first run's numbers,
then ``x_limit/x_limit_cpu`` of each later run), as docs/benchmarks.md shows them:

    python3 bench/md_table.py routes1.json routes2.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

Key = tuple[Any, ...]


def key(r: dict[str, Any]) -> Key:
    return (r["method"], r["backend"], r["op"], r["family"], r["n"], r["acks"], r["input"])


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def table(runs: list[list[dict[str, Any]]], obj: str = "route") -> list[str]:
    """The lines of the table of ``obj`` rows."""
    later = [{key(r): r for r in rows if r.get("object") == obj} for rows in runs[1:]]
    out = ["| method | backend | op | fam | N | acks | input | per s | CPU µs | x_limit | x_cpu |"
           + " run 2 |" * len(later),
           "|---|---|---|---|---:|---|---|---:|---:|---:|---:|" + "---|" * len(later)]
    for r in runs[0]:
        if r.get("object") != obj:
            continue
        extra = ""
        for d in later:
            o = d.get(key(r), {})
            extra += f" {fmt(o.get('x_limit'))}/{fmt(o.get('x_limit_cpu'))} |"
        out.append(f"| {r['method']} | {r['backend'] or '-'} | {r['op']} | {r['family']} | "
                   f"{r['n']:,} | {r['acks']} | {r['input']} | {r['per_s']:,.0f} | "
                   f"{r['cpu_us']:.2f} | {fmt(r.get('x_limit'))} | "
                   f"{fmt(r.get('x_limit_cpu'))} |{extra}")
    return out


if __name__ == "__main__":
    print("\n".join(table([json.load(open(p)) for p in sys.argv[1:]])))
