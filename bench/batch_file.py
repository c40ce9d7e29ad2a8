"""Whole-process ``nlcore -batch`` against ``ip -batch`` on issue 13's file: 16 veth devices,
1,000 addresses each, half IPv4 /32, half IPv6 /128 nodad in distinct /64s (16,000 lines).
A fresh namespace for every run, the tools alternating; median of ``--runs`` (3), wall and
CPU (on-CPU time of the whole process: nlcore.bench.cpuclock's perf task-clock, inherited
by the child; getrusage where perf is refused).

    sudo .venv/bin/python bench/batch_file.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from nlcore.bench.cpuclock import cpu_children
from nlcore.net.netns import ThrowawayNetns


def lines() -> list[str]:
    out = []
    for d in range(16):
        for i in range(1000):
            if i % 2 == 0:
                out.append(f"addr add 198.18.{d * 4 + (i >> 8)}.{i & 255}/32 dev v{d}\n")
            else:
                out.append(f"addr add 2001:db8:{d:x}{i:03x}::1/128 dev v{d} nodad\n")
    return out


def one(tool: list[str], path: str) -> tuple[float, float]:
    with ThrowawayNetns() as ns:
        for k in range(0, 16, 2):
            ns.run(["ip", "link", "add", f"v{k}", "type", "veth", "peer", "name", f"v{k + 1}"],
                   check=True)
        c0 = cpu_children()
        t0 = time.perf_counter()
        done = ns.run([*tool, path])
        dt = time.perf_counter() - t0
        cpu = cpu_children() - c0
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr[-500:]}")
        return dt, cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    tools = {"ip -batch": ["ip", "-force", "-batch"],
             "nlcore -batch": [sys.executable, "-m", "nlcore", "-batch"]}
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in tools}
    with tempfile.NamedTemporaryFile("w", suffix=".batch") as f:
        f.writelines(lines())
        f.flush()
        for r in range(runs):
            for name in (list(tools) if r % 2 == 0 else list(tools)[::-1]):
                got[name].append(one(tools[name], f.name))
    ref = got["ip -batch"]
    for name, xs in got.items():
        wall = statistics.median(x[0] for x in xs)
        cpu = statistics.median(x[1] for x in xs)
        print(f"{name:<14} wall {wall:.3f} s  cpu {cpu:.3f} s  "
              f"x_ip wall {statistics.median(x[0] for x in ref) / wall:.2f}  "
              f"x_ip cpu {statistics.median(x[1] for x in ref) / cpu:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
