"""``nlcore bench`` rows ``dump``: read ``n`` IPv4 addresses back from the kernel.

In a throwaway namespace of its own, ``n`` addresses are spread over 100 veth pairs (the
kernel's per-device address list makes one crowded device slow to fill). Then, in rotating
order, each round times: ``nlcore dump`` (one RTM_GETADDR dump through Conn.request, decoded
into AddrMsg objects: the fast path of codec.addrdump), ``ip -j addr show`` (the whole command,
run inside the namespace, output discarded), and pyroute2's ``IPRoute().get_addr()`` (timed
inside a child in the namespace, so its import and startup are not counted). The median
round is reported, with CPU seconds (user+sys) beside wall seconds.
"""

from __future__ import annotations

import ipaddress
import json
import resource
import statistics
import sys
import time
from typing import Callable, Iterator

from ..codec import consts as C
from ..codec.decode import AddrMsg
from ..codec.spec import AddrSpec
from ..codec.wire import encode_getaddr
from ..net.conn import Conn
from ..net.exchange import request
from ..net.netns import ThrowawayNetns
from ..ops.engine import apply
from ..ops.link import add_veth
from .methods import Outcome, Row, make_row

NLCORE, IP, PYROUTE2 = "nlcore dump", "ip -j addr show", "pyroute2 get_addr()"
_P2 = ("import sys, time\nfrom pyroute2 import IPRoute\nwith IPRoute() as ipr:\n"
       "    t = time.perf_counter(); c = time.process_time()\n    n = len(ipr.get_addr())\n"
       "    print(time.perf_counter() - t, time.process_time() - c, n)\n")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def fill(ns: ThrowawayNetns, n: int, pairs: int = 100) -> Conn:
    """``n`` IPv4 /32 addresses from 198.18.0.1 over ``pairs`` veth pairs; the Conn."""
    conn = Conn(ns=ns)
    devs = [i for k in range(pairs) for i in add_veth(conn, f"d{k}", f"e{k}")]
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    specs = [AddrSpec(f"{ipaddress.IPv4Address(base + i + 1)}/32", index=devs[i % len(devs)])
             for i in range(n)]
    report = apply(specs, conn, batch=1024)
    if not report.ok:
        raise RuntimeError(f"could not add {n} addresses: {report.counts()}")
    return conn


def _nlcore(conn: Conn, n: int) -> tuple[Outcome, float]:
    t, c = time.perf_counter(), time.process_time()
    got = [m for m in request(conn, encode_getaddr(C.AF_INET)) if isinstance(m, AddrMsg)]
    return Outcome(time.perf_counter() - t, abs(len(got) - n)), time.process_time() - c


def _ip(ns: ThrowawayNetns, n: int) -> tuple[Outcome, float]:
    c0 = _children_cpu()
    t = time.perf_counter()
    out = ns.run(["ip", "-j", "-4", "addr", "show"], check=True)
    dt = time.perf_counter() - t
    got = sum(len(link["addr_info"]) for link in json.loads(out.stdout))
    return Outcome(dt, abs(got - n)), _children_cpu() - c0


def _pyroute2(ns: ThrowawayNetns, n: int) -> tuple[Outcome, float]:
    out = ns.run([sys.executable, "-c", _P2], check=True)
    wall, cpu, count = out.stdout.split()
    return Outcome(float(wall), abs(int(count) - n - 0)), float(cpu)


def dump_rows(n: int, rounds: int, pyroute2: bool, step: Callable[[str, str], None],
              notes: list[str]) -> Iterator[Row]:
    """The ``dump`` rows: nlcore, ip -j and (if installed) pyroute2, ``rounds`` each."""
    group = f"dump N={n}"
    step(group, f"adding {n} addresses")
    with ThrowawayNetns() as ns:
        conn = fill(ns, n)
        try:
            ways: list[tuple[str, Callable[[], tuple[Outcome, float]]]] = [
                (NLCORE, lambda: _nlcore(conn, n)), (IP, lambda: _ip(ns, n))]
            if pyroute2:
                ways.append((PYROUTE2, lambda: _pyroute2(ns, n)))
            got: dict[str, list[tuple[Outcome, float]]] = {w: [] for w, _ in ways}
            for r in range(rounds):
                for name, fn in ways[r % len(ways):] + ways[:r % len(ways)]:
                    step(group, name)
                    got[name].append(fn())
        finally:
            conn.close()
    base = {name: statistics.median(o.seconds for o, _ in s) for name, s in got.items()}
    for name, samples in got.items():
        row = make_row(name, None, "dump", 4, n, 200, [o for o, _ in samples],
                       cpu_seconds=statistics.median(c for _, c in samples))
        row["x_ip"] = base[IP] / base[name]
        row["x_pyroute2"] = base[PYROUTE2] / base[name] if PYROUTE2 in base else None
        yield row
    if PYROUTE2 in got and got[PYROUTE2][0][0].errors:
        notes.append("pyroute2 get_addr() returned a different count (it includes the "
                     "namespace's other addresses)")
