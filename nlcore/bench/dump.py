"""``nlcore bench`` rows ``dump``: read ``n`` IPv4 addresses, then ``n`` IPv4 routes, back
from the kernel.

Each object has a throwaway namespace of its own: ``n`` /32 addresses over 100 veth pairs
(the kernel's per-device address list makes one crowded device slow to fill), or ``n`` /32
routes on one veth that is up. Then, in rotating order, each round times: ``nlcore dump``
(one dump through Conn.request, decoded into AddrMsg / RouteMsg objects by the dump scan,
codec.dumpscan: attributes decoded on first read), ``nlcore dump, attrs read`` (the same,
then every message's ``attrs`` tuple decoded: what a caller reading each object pays),
``ip -j addr show`` / ``ip -j route show`` (the whole command, run inside the namespace,
output parsed as JSON afterwards, untimed) and pyroute2's ``IPRoute().get_addr()`` /
``get_routes()`` (timed inside a child in the namespace, so its import and startup are not
counted). The median round is reported, with CPU seconds (user+sys) beside wall seconds.

``python -m nlcore.bench.dump [N] [ROUNDS]`` prints the same rows as a table.
"""

from __future__ import annotations

import ipaddress
import json
import statistics
import sys
import time
from typing import Callable, Iterator

from ..codec import consts as C
from ..codec.decode import AddrMsg, RouteMsg
from ..codec.route import RouteSpec, encode_getroute
from ..codec.spec import AddrSpec
from ..codec.wire import encode_getaddr
from ..net.conn import Conn
from ..net.netns import ThrowawayNetns
from ..ops.engine import apply
from ..ops.link import add_veth, set_link
from .cpuclock import cpu_children, cpu_self
from .methods import Outcome, Row, make_row

NLCORE, NLCORE_READ = "nlcore dump", "nlcore dump, attrs read"
IP = {"addr": "ip -j addr show", "route": "ip -j route show"}
PYROUTE2 = {"addr": "pyroute2 get_addr()", "route": "pyroute2 get_routes()"}
_P2 = ("import sys, time\nfrom pyroute2 import IPRoute\n"
       "try:\n    from nlcore.bench.cpuclock import cpu_self as cpu\n"
       "except ImportError:\n    cpu = time.process_time\n"
       "with IPRoute() as ipr:\n"
       "    t = time.perf_counter(); c = cpu()\n"
       "    n = len(ipr.{call})\n"
       "    print(time.perf_counter() - t, cpu() - c, n)\n")
_P2_CALL = {"addr": "get_addr(family=2)", "route": "get_routes(family=2, table=254)"}
Sample = tuple[Outcome, float]


def _ip4(i: int) -> str:
    return str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("198.18.0.0")) + i))


def fill(ns: ThrowawayNetns, n: int, pairs: int = 100) -> Conn:
    """``n`` IPv4 /32 addresses from 198.18.0.1 over ``pairs`` veth pairs; the Conn."""
    conn = Conn(ns=ns)
    devs = [i for k in range(pairs) for i in add_veth(conn, f"d{k}", f"e{k}")]
    specs = [AddrSpec(f"{_ip4(i + 1)}/32", index=devs[i % len(devs)]) for i in range(n)]
    report = apply(specs, conn, batch=1024)
    if not report.ok:
        raise RuntimeError(f"could not add {n} addresses: {report.counts()}")
    return conn


def fill_routes(ns: ThrowawayNetns, n: int) -> Conn:
    """``n`` IPv4 /32 routes from 198.18.0.1 on one veth that is up; the Conn."""
    conn = Conn(ns=ns)
    dev, peer = add_veth(conn, "r0", "r1")
    set_link(conn, dev, up=True)
    set_link(conn, peer, up=True)
    specs = [RouteSpec(f"{_ip4(i + 1)}/32", index=dev) for i in range(n)]
    report = apply(specs, conn, batch=1024)
    if not report.ok:
        raise RuntimeError(f"could not add {n} routes: {report.counts()}")
    return conn


def _nlcore(conn: Conn, what: str, n: int, read: bool) -> Sample:
    msg, cls = ((encode_getaddr(C.AF_INET), AddrMsg) if what == "addr" else
                (encode_getroute(C.AF_INET, "main"), RouteMsg))
    t, c = time.perf_counter(), cpu_self()
    got = [m for m in conn.request(msg) if isinstance(m, cls)]
    if read:
        for m in got:
            m.attrs  # noqa: B018 (the first read decodes them)
    dt, dc = time.perf_counter() - t, cpu_self() - c
    return Outcome(dt, abs(len(got) - n)), dc


def _ip(ns: ThrowawayNetns, what: str, n: int) -> Sample:
    c0 = cpu_children()
    t = time.perf_counter()
    out = ns.run(["ip", "-j", "-4", what, "show"], check=True)
    dt = time.perf_counter() - t
    cpu = cpu_children() - c0
    data = json.loads(out.stdout)
    got = sum(len(x["addr_info"]) for x in data) if what == "addr" else len(data)
    return Outcome(dt, abs(got - n)), cpu


def _pyroute2(ns: ThrowawayNetns, what: str, n: int) -> Sample:
    out = ns.run([sys.executable, "-c", _P2.replace("{call}", _P2_CALL[what])], check=True)
    wall, cpu, count = out.stdout.split()
    return Outcome(float(wall), abs(int(count) - n)), float(cpu)


def _rounds(ways: list[tuple[str, Callable[[], Sample]]], rounds: int,
            step: Callable[[str, str], None], group: str) -> dict[str, list[Sample]]:
    got: dict[str, list[Sample]] = {w: [] for w, _ in ways}
    for r in range(rounds):
        for name, fn in ways[r % len(ways):] + ways[:r % len(ways)]:
            step(group, name)
            got[name].append(fn())
    return got


def _measure(what: str, n: int, rounds: int, pyroute2: bool,
             step: Callable[[str, str], None]) -> dict[str, list[Sample]]:
    group = f"dump {what} N={n}"
    step(group, f"adding {n} {what}s")
    with ThrowawayNetns() as ns:
        conn = fill(ns, n) if what == "addr" else fill_routes(ns, n)
        # the local table's routes of a route namespace are its veth's and lo's: not counted
        extra = 0
        try:
            ways: list[tuple[str, Callable[[], Sample]]] = [
                (NLCORE, lambda: _nlcore(conn, what, n + extra, False)),
                (NLCORE_READ, lambda: _nlcore(conn, what, n + extra, True)),
                (IP[what], lambda: _ip(ns, what, n + extra))]
            if pyroute2:
                ways.append((PYROUTE2[what], lambda: _pyroute2(ns, what, n + extra)))
            return _rounds(ways, rounds, step, group)
        finally:
            conn.close()


def dump_rows(n: int, rounds: int, pyroute2: bool, step: Callable[[str, str], None],
              notes: list[str]) -> Iterator[Row]:
    """The ``dump`` rows: nlcore (lazy, attrs read), ip -j and (if installed) pyroute2,
    ``rounds`` each, for addresses then routes."""
    for what in ("addr", "route"):
        got = _measure(what, n, rounds, pyroute2, step)
        base = {name: statistics.median(o.seconds for o, _ in s) for name, s in got.items()}
        cpu = {name: statistics.median(c for _, c in s) for name, s in got.items()}
        for name, samples in got.items():
            row = make_row(name, None, "dump", 4, n, 200 if what == "addr" else 2,
                           [o for o, _ in samples], cpu_seconds=cpu[name])
            row["object"] = what
            row["x_ip"] = base[IP[what]] / base[name]
            row["x_ip_cpu"] = cpu[IP[what]] / cpu[name] if cpu[name] else None
            p2 = PYROUTE2[what]
            row["x_pyroute2"] = base[p2] / base[name] if p2 in base else None
            row["x_pyroute2_cpu"] = cpu[p2] / cpu[name] if p2 in cpu and cpu[name] else None
            if samples and any(o.errors for o, _ in samples):
                notes.append(f"{name}: a count other than {n} {what}s in some round")
            yield row


def main(argv: list[str]) -> int:
    """Print the dump rows: ``[N] [ROUNDS]`` (100000, 5)."""
    n = int(argv[0]) if argv else 100_000
    rounds = int(argv[1]) if len(argv) > 1 else 5
    try:
        import pyroute2  # noqa: F401
        have = True
    except ImportError:
        have = False
    notes: list[str] = []
    print(f"{'object':6} {'method':26} {'wall s':>7} {'cpu s':>7} {'x ip wall':>9} "
          f"{'x ip cpu':>8} {'x p2 wall':>9} {'x p2 cpu':>8}")
    for r in dump_rows(n, rounds, have, lambda g, s: None, notes):
        def f(v: object) -> str:
            return f"{v:9.2f}" if isinstance(v, float) else f"{'-':>9}"
        print(f"{r['object']:6} {r['method']:26} {r['seconds']:7.3f} {r['cpu_seconds']:7.3f} "
              f"{f(r['x_ip'])} {f(r['x_ip_cpu'])} {f(r['x_pyroute2'])} {f(r['x_pyroute2_cpu'])}",
              flush=True)
    for note in notes:
        print("note:", note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
