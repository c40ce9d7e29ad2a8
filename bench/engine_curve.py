"""The engine's batch/window curve against the C limit: CPU and wall per address.

    .venv/bin/python bench/engine_curve.py [--rounds 9] [--n 1000] [--family 4,6]
        [--batches 32,64,128,256,512] [--backend native|pure]

For each round, in a shuffled order, every method adds N addresses and deletes them again in
one throwaway namespace (veth v0): the C limit (bench/c_limit.c, batch 256, its own loop
timing and CPU), and ``apply()`` for each batch with window = batch and window = 2 x batch,
with ``acks="all"`` and ``acks="errors"``. CPU is on-CPU time from perf's task-clock
(nlcore.bench.cpuclock; c_limit reads its own) around the timed part. Prints the
median per method: wall and CPU in microseconds per address, and wall x the C limit.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import climit

from nlcore.bench.cpuclock import cpu_self
from nlcore.bench.methods import addresses, use_backend
from nlcore.codec.spec import AddrSpec
from nlcore.net.conn import Conn
from nlcore.net.netns import ThrowawayNetns
from nlcore.ops.engine import apply
from nlcore.ops.link import add_veth, set_link

Sample = tuple[float, float]  # (wall s, cpu s)


def c_limit(ns: ThrowawayNetns, op: str, family: int, index: int, n: int) -> Sample:
    argv = [str(climit.build()), "--op", op, "--family", str(family), "--ifindex", str(index),
            "--count", str(n), "--batch", "256"]
    done = ns.run(argv, check=True)
    import json

    res = json.loads(done.stdout)
    assert not res["errors"], res
    return float(res["seconds"]), float(res["cpu_seconds"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--family", default="4,6")
    ap.add_argument("--batches", default="32,64,128,256,512")
    ap.add_argument("--backend", default="native")
    ap.add_argument("--acks", default="all,errors")
    a = ap.parse_args()
    batches = [int(b) for b in a.batches.split(",")]
    ns = ThrowawayNetns()
    conn = Conn(ns=ns)
    v0, _v1 = add_veth(conn, "v0", "v1")
    set_link(conn, v0, up=True)
    with use_backend(a.backend):
        for family in (int(f) for f in a.family.split(",")):
            run_family(ns, conn, v0, family, a.n, batches, a.rounds, a.acks.split(","))
    conn.close()
    ns.close()
    return 0


def run_family(ns: ThrowawayNetns, conn: Conn, v0: int, family: int, n: int,
               batches: list[int], rounds: int, acks_modes: list[str]) -> None:
    text = addresses(family, n)
    flags = "nodad" if family == 6 else 0
    specs = {op: [AddrSpec(t, index=v0, op=op, flags=flags if op == "add" else 0)  # type: ignore[arg-type]
                  for t in text] for op in ("add", "del")}
    base = {op: c_limit(ns, op, family, v0, 1) for op in ("add", "del")}
    methods: dict[str, Callable[[str], Sample]] = {
        "c_limit b256": lambda op: c_limit(ns, op, family, v0, n)}
    for acks in acks_modes:
        for b in batches:
            for w in (b, 2 * b):
                methods[f"apply b{b} w{w} acks={acks}"] = \
                    (lambda b_, w_, k_: lambda op: timed(conn, specs[op], b_, w_, k_))(b, w, acks)
    samples: dict[tuple[str, str], list[Sample]] = {}
    order = list(methods)
    for r in range(rounds):
        random.Random(r).shuffle(order)
        for name in order:
            for op in ("add", "del"):
                wall, cpu = methods[name](op)
                if name.startswith("c_limit"):
                    cpu = max(0.0, cpu - base[op][1])
                samples.setdefault((name, op), []).append((wall, cpu))
    for op in ("add", "del"):
        lim = statistics.median(w for w, _ in samples[("c_limit b256", op)])
        lim_cpu = statistics.median(c for _, c in samples[("c_limit b256", op)])
        print(f"# IPv{family} {op} N={n}, {rounds} interleaved rounds, medians "
              f"(c_limit CPU includes exec)")
        print(f"{'method':34} {'wall us/addr':>12} {'cpu us/addr':>12} {'x limit':>8} "
              f"{'cpu x':>6}")
        for name in methods:
            ws = [w for w, _ in samples[(name, op)]]
            cs = [c for _, c in samples[(name, op)]]
            w, c = statistics.median(ws), statistics.median(cs)
            print(f"{name:34} {1e6 * w / n:12.2f} {1e6 * c / n:12.2f} {lim / w:8.2f} "
                  f"{(lim_cpu / c if c else 0):6.2f}")
        print()


def timed(conn: Conn, specs: list[AddrSpec], batch: int, window: int, acks: str) -> Sample:
    c0, t0 = cpu_self(), time.perf_counter()
    report = apply(specs, conn, batch=batch, window=window, acks=acks)  # type: ignore[arg-type]
    t1, c1 = time.perf_counter(), cpu_self()
    bad = report.failures()
    assert not bad, bad[:3]
    return t1 - t0, c1 - c0


if __name__ == "__main__":
    sys.exit(main())
