"""The bench methods that run another tool inside the bed: the C limit, ``ip -batch`` and
pyroute2."""

from __future__ import annotations

import json
import sys
import tempfile
import time

from .cpuclock import cpu_children
from .methods import Bed, Case, Outcome, addresses, bench_dir, bench_module


def ip_batch(bed: Bed, case: Case) -> Outcome:
    """``ip -force -batch FILE`` (one ``address OP ... dev NAME`` line per address, or
    ``route OP PREFIX dev NAME``); wall and CPU less those of an empty batch."""
    if case.obj == "route":
        names = bed.route_names[:case.devices]
        lines = [f"route {case.op} {a.partition('/')[0]} dev {names[i % len(names)]}\n"
                 for i, a in enumerate(addresses(case.family, case.n))]
    else:
        names = bed.names[:case.devices]
        extra = " nodad" if case.family == 6 and case.op != "del" else ""
        lines = [f"address {case.op} {a} dev {names[i % len(names)]}{extra}\n"
                 for i, a in enumerate(addresses(case.family, case.n))]
    with tempfile.NamedTemporaryFile("w", prefix="nlcore-bench-", suffix=".ip") as f:
        f.writelines(lines)
        f.flush()
        base, base_cpu = bed.ip_startup()
        c0, t0 = cpu_children(), time.perf_counter()
        done = bed.run(["ip", "-force", "-batch", f.name])
        dt, cpu = time.perf_counter() - t0, cpu_children() - c0
    return Outcome(max(dt - base, 1e-9), done.stderr.count("Command failed"),
                   max(cpu - base_cpu, 0.0))


def pyroute2_apply(bed: Bed, case: Case, mode: str = "loop", batch: int = 256) -> Outcome:
    """bench/pyroute2_methods.py inside the namespace: ``IPRoute.addr()`` per address
    (``loop``) or ``nlm_request_batch`` of ``batch`` messages (``batch``)."""
    where = bench_dir()
    if where is None:
        raise RuntimeError("bench/pyroute2_methods.py not found")
    job = {"op": case.op, "family": case.family, "addresses": addresses(case.family, case.n),
           "index": bed.devs[:case.devices], "mode": mode, "batch": batch}
    done = bed.run([sys.executable, str(where / "pyroute2_methods.py")], input=json.dumps(job))
    if done.returncode != 0:
        raise RuntimeError(f"pyroute2_methods.py exited {done.returncode}: "
                           f"{done.stderr.strip()[-500:]}")
    res = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = res.get("cpu_seconds")
    return Outcome(float(res["seconds"]), int(res["errors"]), None if cpu is None else float(cpu))


def c_limit(bed: Bed, case: Case, batch: int = 256, acks: str = "all") -> Outcome:
    """bench/c_limit.c: prebuilt requests, ``batch`` per sendmsg, every ack read (``acks=
    "errors"``: NLM_F_ACK on the last of each batch only)."""
    cl = bench_module("climit")
    if cl is None:
        raise RuntimeError("bench/climit.py not found")
    devs = bed.route_devs if case.obj == "route" else bed.devs
    extra = [] if acks == "all" and case.obj == "addr" else ["--acks", acks, "--object", case.obj]
    res = cl.run(bed.prefix, op=case.op, family=case.family, ifindex=devs[:case.devices],
                 count=case.n, batch=batch, extra=extra)
    cpu = res.get("cpu_seconds")
    return Outcome(float(res["seconds"]), sum(int(v) for v in res["errors"].values()),
                   None if cpu is None else float(cpu))
