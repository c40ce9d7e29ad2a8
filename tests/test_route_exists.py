"""exist_ok compares what exists: an add that meets EEXIST is "exists" only when the route
(or neighbour) the kernel holds under the same key is the one asked for; otherwise "failed",
the EEXIST error with a hint naming what differs. On the real kernel, both backends, read
back with ``ip -j`` (the kernel keeps what it had)."""

from __future__ import annotations

import errno as E
from array import array
from typing import Any, Iterator

import pytest

from nlcore.bench.methods import use_backend
from nlcore.codec.errors import KernelError
from nlcore.codec.neigh import NeighSpec
from nlcore.codec.route import NextHop, RouteSpec
from nlcore.codec.spec import AddrSpec
from nlcore.net.conn import Conn
from nlcore.ops.engine import apply
from nlcore.ops.kind_neigh import neigh_same
from nlcore.ops.kind_route import route_same
from nlcore.ops.resolve import check_existing
from nlcore.ops.results import EXISTS_DIFFERENT

pytestmark = pytest.mark.kernel

LL, LL2 = "02:00:00:00:00:09", "02:00:00:00:00:0a"


@pytest.fixture(params=["native", "pure"])
def env(kns: Any, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Conn]]:
    with use_backend(request.param):
        c = Conn(ns=kns.ns)
        try:
            assert apply([AddrSpec("192.0.2.1/24", dev="v0"),
                          AddrSpec("2001:db8:1::1/64", dev="v0", flags="nodad")], c).ok
            yield kns, c
        finally:
            c.close()


def _statuses(rep: Any) -> list[str]:
    return [r.status for r in rep]


def test_identical_routes_exist_different_ones_fail(env: tuple[Any, Conn]) -> None:
    kns, c = env
    first = [RouteSpec("198.51.100.0/24", via="192.0.2.2", dev="v0"),
             RouteSpec("203.0.113.0/24", dev="v0"),
             RouteSpec("2001:db8:2::/64", via="fe80::1", dev="v0"),
             RouteSpec("198.18.5.0/24", type="blackhole"),
             RouteSpec("198.18.6.0/24", dev="v0", table=100),
             RouteSpec("198.18.7.0/24", dev="v0", metrics={"mtu": 1400})]
    assert _statuses(apply(first, c)) == ["ok"] * 6
    again = [*first,
             RouteSpec("198.51.100.0/24", via="192.0.2.3", dev="v0"),  # another gateway
             RouteSpec("203.0.113.0/24", dev="v1"),  # another device
             RouteSpec("2001:db8:2::/64", via="fe80::2", dev="v0"),
             RouteSpec("198.18.5.0/24", dev="v0"),  # unicast, not blackhole
             RouteSpec("198.18.6.0/24", via="192.0.2.2", dev="v0", table=100),
             RouteSpec("198.18.7.0/24", dev="v0", metrics={"mtu": 1300}),
             RouteSpec("198.18.7.0/24", dev="v0")]  # no metrics asked: the same route
    rep = apply(again, c, exist_ok=True)
    assert _statuses(rep) == ["exists"] * 6 + ["failed"] * 6 + ["exists"]
    whys = [r.reason for r in rep][6:12]
    assert [(r.error.errno if r.error else 0) for r in rep][6:12] == [E.EEXIST] * 6
    assert whys[0] == ("an existing route has the same destination, table and metric but "
                       "differs: gateway 192.0.2.2 (asked for 192.0.2.3)")
    assert whys[1].endswith(f"differs: dev index {kns.v0} (asked for {kns.v1})")
    assert whys[2].endswith("differs: gateway fe80::1 (asked for fe80::2)")
    assert whys[3].endswith(f"differs: type blackhole (asked for unicast), dev index none "
                            f"(asked for {kns.v0})")
    assert whys[4].endswith("differs: gateway none (asked for 192.0.2.2)")
    assert whys[5].endswith("differs: mtu 1400 (asked for 1300)")
    err = rep[6].error
    assert isinstance(err, KernelError) and err.hint == whys[0] and whys[0] in str(err)
    assert not rep.ok and [i for i, _ in rep.failures()] == list(range(6, 12))
    # the kernel kept what it had
    got = {r["dst"]: r for r in kns.ip_json("-4", "route")}
    assert got["198.51.100.0/24"]["gateway"] == "192.0.2.2"
    assert got["203.0.113.0/24"]["dev"] == "v0"
    assert got["198.18.5.0/24"]["type"] == "blackhole"
    assert kns.ip_json("-6", "route", "show", "2001:db8:2::/64")[0]["gateway"] == "fe80::1"
    # without exist_ok nothing is read back: every EEXIST is failed, with no hint
    strict = apply(again, c)
    assert {r.status for r in strict} == {"failed"}
    assert all(r.error is not None and r.error.errno == E.EEXIST and r.error.hint is None
               for r in strict)


def test_the_kernels_connected_route_is_the_one_asked_for(env: tuple[Any, Conn]) -> None:
    """Kata's EEXIST (issues 2712, 2843): the agent adds the route the kernel made for the
    address (proto kernel, src set): exists; asking for another protocol is not the same."""
    _kns, c = env
    rep = apply([RouteSpec("192.0.2.0/24", dev="v0"),
                 RouteSpec("192.0.2.0/24", dev="v0", proto="static"),
                 RouteSpec("192.0.2.0/24", dev="v0", scope="link"),
                 RouteSpec("192.0.2.0/24", dev="v0", prefsrc="192.0.2.1"),
                 RouteSpec("2001:db8:1::/64", dev="v0", metric=256)], c, exist_ok=True)
    assert _statuses(rep) == ["exists", "failed", "exists", "exists", "exists"]
    assert rep[1].reason is not None and rep[1].reason.endswith(
        "differs: proto kernel (asked for static)")


def test_multipath_routes_compare_their_nexthops(env: tuple[Any, Conn]) -> None:
    _kns, c = env
    two = [NextHop("192.0.2.2", dev="v0"), NextHop("192.0.2.3", dev="v0", weight=2)]
    assert apply([RouteSpec("198.18.8.0/24", nexthops=two)], c).ok
    rep = apply([RouteSpec("198.18.8.0/24", nexthops=two[::-1]),
                 RouteSpec("198.18.8.0/24", nexthops=[two[0]]),
                 RouteSpec("198.18.8.0/24", via="192.0.2.2", dev="v0")], c, exist_ok=True)
    assert _statuses(rep) == ["exists", "failed", "failed"]
    assert rep[1].reason is not None and "nexthops" in rep[1].reason


def test_identical_neighbours_exist_different_ones_fail(env: tuple[Any, Conn]) -> None:
    kns, c = env
    first = [NeighSpec("192.0.2.9", lladdr=LL, dev="v0"),
             NeighSpec("2001:db8:1::9", lladdr=LL, dev="v0"),
             NeighSpec("192.0.2.10", lladdr=LL, dev="v0", router=False, state="noarp")]
    assert _statuses(apply(first, c)) == ["ok"] * 3
    rep = apply([*first,
                 NeighSpec("192.0.2.9", lladdr=LL2, dev="v0"),
                 NeighSpec("2001:db8:1::9", lladdr=LL, dev="v0", state="noarp"),
                 NeighSpec("2001:db8:1::9", lladdr=LL, dev="v0", router=True),
                 NeighSpec("192.0.2.9", dev="v0")],  # no lladdr asked: the same entry
                c, exist_ok=True)
    assert _statuses(rep) == ["exists"] * 3 + ["failed"] * 3 + ["exists"]
    whys = [r.reason for r in rep][3:6]
    assert whys[0] == f"an existing neighbour entry differs: lladdr {LL} (asked for {LL2})"
    assert whys[1] == "an existing neighbour entry differs: nud permanent (asked for noarp)"
    assert whys[2] == "an existing neighbour entry differs: router off (asked for on)"
    assert all(r.error is not None and r.error.errno == E.EEXIST for r in rep[3:6])
    # a proxy entry (no lladdr, no NUD state in its dump) is the one asked for (this kernel
    # takes a second proxy add without EEXIST; the comparison is asked directly)
    proxy = NeighSpec("192.0.2.50", dev="v0", proxy=True)
    assert apply([proxy], c).ok
    assert neigh_same(c, [proxy.resolved({"v0": kns.v0})]) == [None]
    got = {n["dst"]: n for n in kns.ip_json("neigh", "show", "dev", "v0")}
    assert got["192.0.2.9"]["lladdr"] == LL and got["2001:db8:1::9"]["state"] == ["PERMANENT"]


class _Gone:
    """A Conn whose dumps find nothing (the object vanished) or fail."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def request(self, msg: bytes) -> list[Any]:
        if self.fail:
            raise KernelError(E.EBUSY)
        return []


def test_a_vanished_or_unreadable_object_is_never_exists() -> None:
    r, n = RouteSpec("198.51.100.0/24", dev="v0", index=3), NeighSpec("192.0.2.9", index=3)
    assert route_same(_Gone(), [r])[0] == (  # type: ignore[arg-type]
        "the existing route was gone when read back (a kernel dump): cannot tell whether it "
        "was the one asked for")
    assert neigh_same(_Gone(), [n])[0] is not None  # type: ignore[arg-type]
    status = array("i", [-E.EEXIST, -E.EEXIST, -E.EEXIST])
    reasons: dict[int, str] = {}
    check_existing(_Gone(fail=True), [r, n, r], [0, 1, 2], [0, 1, 2], status,  # type: ignore[arg-type]
                   {}, reasons)
    assert list(status) == [EXISTS_DIFFERENT] * 3
    assert reasons[0].startswith("could not read back the existing route to compare: ")
    assert reasons[1].startswith("could not read back the existing neigh to compare: ")
