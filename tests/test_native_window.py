"""The engine's window loop in C (csrc/window.c) against the real kernel: the same results and
the same kernel state as the Python loop it shortens, for any mix of successes and failures,
batch, window and ack mode; overruns, failures and quotas handed back to Python; a close by
another thread that cannot make it write to a reused fd number."""

from __future__ import annotations

import collections
import errno
import json
import os
from typing import Any, Callable, Iterator

import pytest
from _util import need_backend, throwaway
from conftest import NetnsEnv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlcore.codec import _backend
from nlcore.codec import _cffi_window as CW
from nlcore.codec.bulk import AddrBulk
from nlcore.codec.errors import KernelError
from nlcore.codec.route import RouteSpec
from nlcore.codec.route_bulk import RouteBulk
from nlcore.codec.spec import AddrSpec
from nlcore.net.conn import Conn
from nlcore.ops import batches
from nlcore.ops.engine import AckLostError, apply

pytestmark = pytest.mark.kernel

codec = _backend.codec
STOP = CW.FIELDS.index("stop")


@pytest.fixture(autouse=True)
def _native() -> None:
    need_backend(_backend.load, "native")
    if codec.window_run is None:
        pytest.skip("the pure backend is in use (NLCORE_PURE): no native loop")


class Spy:
    """Counts the native loop's calls by stop (``codec.window_run`` wrapped); ``off()``
    runs the Python loop instead."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.real = codec.window_run
        self.mp = mp
        self.stops: collections.Counter[str] = collections.Counter()
        self.before: Callable[[int], None] | None = None
        self.on()

    def _call(self, fd: int, state: Any, *rest: Any) -> None:
        if self.before is not None:
            self.before(fd)
        assert self.real is not None
        self.real(fd, state, *rest)
        self.stops[CW.STOPS[state[STOP]]] += 1

    def on(self) -> None:
        self.mp.setattr(codec, "window_run", self._call)

    def off(self) -> None:
        self.mp.setattr(codec, "window_run", None)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    yield Spy(monkeypatch)


def outcome(report: Any) -> list[tuple[str, int | None, str | None, int | None, bytes]]:
    """Each result as (status, errno, extack message and offset, the request the error
    echoes with its nlmsg_seq zeroed: each run takes its own)."""
    def unseq(req: bytes | None) -> bytes:
        return req[:8] + bytes(4) + req[12:] if req else b""

    return [(r.status, getattr(r.error, "errno", None), getattr(r.error, "msg", None),
             getattr(r.error, "offset", None), unseq(getattr(r.error, "request", None)))
            for r in report]


def routes(env: NetnsEnv) -> list[tuple[str, int]]:
    """Every route of the test ranges, as ``ip -j`` reads them: (dst, oif index)."""
    got = []
    for fam, root in (("-4", "198.18.0.0/15"), ("-6", "2001:db8::/32")):
        for r in env.ip_json(fam, "route", "show", "root", root):
            got.append((r["dst"], r["dev"]))
    return sorted(got)


def flush(env: NetnsEnv) -> None:
    """No route of the test ranges left (ip fails to flush a table that does not exist)."""
    env.ns.run(["ip", "-4", "route", "flush", "root", "198.18.0.0/15"])
    env.ns.run(["ip", "-6", "route", "flush", "root", "2001:db8::/32"])
    assert routes(env) == []


POOL = [f"198.18.0.{i}/32" for i in range(8)] + [f"2001:db8::{i:x}/128" for i in range(8)]
ITEM = st.tuples(st.sampled_from(POOL), st.sampled_from(["add", "del", "replace"]))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(before=st.sets(st.sampled_from(POOL)), items=st.lists(ITEM, min_size=1, max_size=40),
       batch=st.integers(1, 9), extra=st.integers(0, 9),
       acks=st.sampled_from(["all", "errors"]), ok=st.booleans(), bulk=st.booleans())
def test_native_loop_equals_the_python_loop(kns_module: NetnsEnv, spy: Spy, before: set[str],
                                            items: list[tuple[str, str]], batch: int,
                                            extra: int, acks: str, ok: bool,
                                            bulk: bool) -> None:
    """Routes already there or not, repeated, added, replaced and deleted in any order: the
    native loop gives the Python loop's results (status, errno, extack message and offset and
    the echoed request, item by item) and leaves the kernel in the same state, read back
    with ``ip -j route``."""
    env = kns_module
    dev = env.v0
    specs: Any = [RouteSpec(d, op=op, index=dev) for d, op in items]
    if bulk and len({op for _, op in items}) == 1:  # one op: the same items as a RouteBulk
        specs = RouteBulk([d for d, _ in items], op=items[0][1], index=dev)
    seen = []
    for native in (True, False):
        spy.on() if native else spy.off()
        flush(env)
        if before:
            assert apply([RouteSpec(d, index=dev) for d in sorted(before)], env.conn).ok
        spy.stops.clear()
        report = apply(specs, env.conn, batch=batch, window=batch + extra,
                       acks=acks, exist_ok=ok, missing_ok=ok)  # type: ignore[arg-type]
        seen.append((outcome(report), routes(env)))
        if native:
            assert sum(spy.stops.values()) >= 1, "the native loop did not run"
    assert seen[0] == seen[1]


@pytest.mark.parametrize("acks", ["all", "errors"])
def test_overruns_are_handed_back_and_every_result_is_exact(kns: NetnsEnv, spy: Spy,
                                                           acks: str) -> None:
    """A 4 KiB receive buffer and 3,000 routes in flight: the kernel drops acks (ENOBUFS);
    the native loop hands that receive back, the Python side resolves the lost acks from
    the kernel's state, and every "ok" is a route the kernel holds."""
    dsts = [f"198.18.{i >> 8}.{i & 255}/32" for i in range(3000)]
    c = Conn(ns=kns.ns, rcvbuf=4096)
    try:
        report = apply(RouteBulk(dsts, index=kns.v0), c, batch=256, window=3000,
                       acks=acks)  # type: ignore[arg-type]
        overruns = c.stats.overruns
    finally:
        c.close()
    held = {d for d, _ in routes(kns)}
    assert overruns >= 1 and spy.stops["RECV"] >= 1, (overruns, spy.stops)
    for d, r in zip(dsts, report):
        if r.status == "ok":
            assert d[:-3] in held
        else:
            assert r.status in ("unknown", "lost") and isinstance(r.error, AckLostError), r
            assert (r.status == "lost") == (d[:-3] not in held)
    assert report.counts().get("ok", 0) + report.counts().get("unknown", 0) == len(held)


def test_failures_come_back_in_order_with_their_errno(kns: NetnsEnv, spy: Spy) -> None:
    """Every third route already exists: each EEXIST is handed back by the native loop and
    reported with the kernel's own error; the others are ok and in the kernel."""
    dsts = [f"198.18.1.{i}/32" for i in range(240)]
    assert apply(RouteBulk(dsts[::3], index=kns.v0), kns.conn).ok
    report = apply(RouteBulk(dsts, index=kns.v0), kns.conn, batch=16)
    for i, r in enumerate(report):
        if i % 3 == 0:
            assert r.status == "failed" and isinstance(r.error, KernelError)
            assert r.error.errno == errno.EEXIST
        else:
            assert r.status == "ok"
    assert spy.stops["RECV"] == 240 // 16 and len(routes(kns)) == 240  # one per batch


def test_quota_returns_to_python_between_calls(kns: NetnsEnv, spy: Spy) -> None:
    """10,000 addresses: the loop returns every QUOTA requests (signal handlers run between
    its calls), and every address is in the kernel."""
    bulk = AddrBulk.range("198.18.0.0", 10_000, prefixlen=32, index=kns.v0)
    assert apply(bulk, kns.conn).ok
    assert spy.stops["QUOTA"] == (10_000 - 1) // batches.QUOTA and spy.stops["DONE"] == 1
    assert len(kns.addrs("v0", 4)) == 10_000


@pytest.mark.parametrize("what", ["records", "messages"])
def test_a_close_by_another_thread_cannot_reach_a_reused_fd(kns: NetnsEnv, spy: Spy,
                                                             what: str) -> None:
    """Just before the loop starts, the Conn's socket is closed and its fd number made a
    netlink socket of another namespace (what a racing close and a new socket do): the
    loop runs on its own reference to the socket, so every request reaches the Conn's
    namespace and none the other."""
    other = throwaway()
    s = other.socket()
    c = Conn(ns=kns.ns)
    try:
        fd = c.transport.fileno()  # type: ignore[attr-defined]

        def swap(loop_fd: int) -> None:
            spy.before = None
            os.dup2(s.fileno(), fd)  # closes the Conn's own number, reuses it

        spy.before = swap
        if what == "records":
            specs: Any = [AddrSpec(f"198.18.2.{i}/32", index=kns.v0) for i in range(50)]
        else:
            specs = RouteBulk([f"198.18.2.{i}/32" for i in range(50)], index=kns.v0)
        report = apply(specs, c)
        assert report.ok
        for ns, want in ((kns.ns, 50), (other, 0)):
            kind = "addr" if what == "records" else "route"
            out = json.loads(ns.run(["ip", "-j", "-4", kind, "show"],
                                    check=True).stdout or "[]")
            text = json.dumps(out)
            assert sum(f"198.18.2.{i}\"" in text for i in range(50)) == want, (ns, what)
    finally:
        c.close()
        s.close()
        other.close()


def test_the_python_loop_is_used_where_the_native_one_cannot_be(kns: NetnsEnv,
                                                                spy: Spy) -> None:
    """Mixed kinds (several runs) and a debug log go through the Python loop, with the
    same results."""
    import logging

    specs: list[Any] = [AddrSpec("198.18.3.1/32", index=kns.v0),
                        RouteSpec("198.18.4.0/24", index=kns.v0)]
    assert apply(specs, kns.conn).counts() == {"ok": 2}
    assert not spy.stops
    log = logging.getLogger("nlcore")
    old = log.level
    log.setLevel(logging.DEBUG)
    try:
        assert apply([RouteSpec("198.18.5.0/24", index=kns.v0)] * 2, kns.conn,
                     exist_ok=True).counts() == {"ok": 1, "exists": 1}
    finally:
        log.setLevel(old)
    assert not spy.stops
