"""The IPv6 gap traced: where the kernel's per-address work runs, and what it costs the sender.

Each IPv6 address add queues one ``addrconf_dad_work`` item on an unbound workqueue (even
with IFA_F_NODAD), and that work takes the RTNL lock (net/ipv6/addrconf.c). In one
throwaway namespace, interleaved rounds of ``c_limit`` (1,000 IPv6 /64 nodad adds, batch
256) and a child process running nlcore's ``apply()`` of the same addresses, both pinned
to CPU 0 with ``taskset``. Around each run the workqueue trace events
are on (tracefs), and the run's line shows its wall and CPU (user+sys of the sending loop)
beside the time ``addrconf_dad_work`` ran on the sender's CPU and on the other CPUs.

    sudo .venv/bin/python bench/ipv6_work.py [--rounds 6] [--family 6]

Only the tracing state is touched (workqueue events on for the run, then off; tracing_on
restored); the network work happens in the throwaway namespace.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import climit
import ipv6_gap

TRACE = Path("/sys/kernel/tracing")
EVENTS = ("workqueue/workqueue_execute_start", "workqueue/workqueue_execute_end")
LINE = re.compile(r"-(\d+)\s+\[(\d+)\].*? ([\d.]+): workqueue_execute_(start|end): "
                  r"work struct [0-9a-f]+(?:: function (\S+))?")
PIN = ["taskset", "-c", "0"]


def _write(name: str, value: str) -> None:
    (TRACE / name).write_text(value)


def traced(fn: Callable[[], tuple[float, float]]) -> tuple[float, float, Counter[tuple[str, str]]]:
    """``fn()``'s (wall, cpu) and the seconds each (work function, CPU) ran meanwhile."""
    was = (TRACE / "tracing_on").read_text().strip()
    _write("trace", "")
    for e in EVENTS:
        _write(f"events/{e}/enable", "1")
    _write("tracing_on", "1")
    try:
        wall, cpu = fn()
    finally:
        _write("tracing_on", was)
        for e in EVENTS:
            _write(f"events/{e}/enable", "0")
    starts: dict[str, tuple[float, str, str]] = {}
    ran: Counter[tuple[str, str]] = Counter()
    for line in (TRACE / "trace").read_text().splitlines():
        m = LINE.search(line)
        if m is None:
            continue
        pid, cpu_no, ts, kind, func = m.groups()
        if kind == "start":
            starts[pid] = (float(ts), func or "?", cpu_no)
        elif pid in starts:
            t0, f, c = starts.pop(pid)
            ran[(f, c)] += float(ts) - t0
    return wall, cpu, ran


def child(family: int, index: int) -> tuple[float, float]:
    """nlcore's sender (run inside the namespace): ``apply()`` of c_limit's 1,000 adds (the
    engine's batch 256, every ack read); (wall, user+sys) of the call."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from nlcore import AddrSpec, Conn, apply

    if family == 6:
        texts = [f"2001:db8:{1 + i:x}::1/64" for i in range(ipv6_gap.N)]
    else:
        texts = [f"198.18.{i >> 8}.{i & 255 or 1}/32" for i in range(ipv6_gap.N)]
    specs = [AddrSpec(t, index=index, flags="nodad" if family == 6 else 0) for t in texts]
    with Conn() as conn:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        c0, t0 = ru.ru_utime + ru.ru_stime, time.perf_counter()
        rep = apply(specs, conn)
        dt = time.perf_counter() - t0
        ru = resource.getrusage(resource.RUSAGE_SELF)
    if rep.failures():
        raise SystemExit(f"{len(rep.failures())} adds failed")
    return dt, ru.ru_utime + ru.ru_stime - c0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--family", type=int, default=6, choices=(4, 6))
    ap.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(*a.child)))
        return 0
    if not (TRACE / "trace").exists():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACE)], check=False)
    fam, rows = a.family, {"C limit": [], "nlcore": []}  # type: dict[str, list[tuple[float, ...]]]
    with climit.throwaway_netns() as prefix:
        idx = climit.ifindex(prefix, "v0")

        def c_run() -> tuple[float, float]:
            res = climit.run([*prefix, *PIN], op="add", family=fam, ifindex=[idx],
                             count=ipv6_gap.N, batch=ipv6_gap.BATCH)
            return float(res["seconds"]), float(res["cpu_seconds"])

        def py_run() -> tuple[float, float]:
            out = subprocess.run([*prefix, *PIN, sys.executable, __file__, "--child", str(fam),
                                  str(idx)], capture_output=True, text=True, check=True)
            wall, cpu = json.loads(out.stdout)
            return float(wall), float(cpu)

        print(f"IPv{fam}, {ipv6_gap.N} adds, batch {ipv6_gap.BATCH}, senders on CPU 0; ms:")
        for _ in range(a.rounds):
            for name, fn in (("C limit", c_run), ("nlcore", py_run)):
                wall, cpu, ran = traced(fn)
                same = sum(v for (_, c), v in ran.items() if int(c) == 0)
                other = sum(v for (_, c), v in ran.items() if int(c) != 0)
                top = max(ran, key=ran.__getitem__)[0] if ran else "-"
                rows[name].append((wall, cpu, same, other))
                print(f"  {name:8} wall {wall * 1e3:6.2f} cpu {cpu * 1e3:6.2f}   work on CPU 0 "
                      f"{same * 1e3:5.2f}, elsewhere {other * 1e3:5.2f}  ({top})", flush=True)
                subprocess.run([*prefix, "ip", f"-{fam}", "addr", "flush", "dev", "v0"],
                               check=True)
                time.sleep(0.1)
    for name, rs in rows.items():
        med = [statistics.median(r[k] for r in rs) * 1e3 for k in range(4)]
        print(f"median {name:8} wall {med[0]:6.2f} cpu {med[1]:6.2f}   work on CPU 0 "
              f"{med[2]:5.2f}, elsewhere {med[3]:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
