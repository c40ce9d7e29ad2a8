"""Routes, neighbours and links through the one engine, on the real kernel (read back with
``ip -j``): the Kata sequence on an IPv6-disabled veth, EEXIST with and without exist_ok,
absent deletes, the IPv6 policy on multipath and IPv4-via-IPv6 routes, lost acks resolved by
kernel-filtered dumps."""

from __future__ import annotations

import errno as E
from typing import Any

import pytest

from nlcore.codec.link import LinkSpec
from nlcore.codec.neigh import NeighSpec
from nlcore.codec.route import NextHop, RouteSpec
from nlcore.codec.spec import AddrSpec
from nlcore.ops.engine import Ipv6DisabledError, apply
from nlcore.ops.kinds import ipv6_devices, kind_of

pytestmark = pytest.mark.kernel

LL = "02:00:00:00:00:09"


def kata_sequence() -> list[Any]:
    return [LinkSpec("v0", up=True),
            AddrSpec("192.0.2.1/24", dev="v0"), AddrSpec("2001:db8:1::1/64", dev="v0"),
            RouteSpec("198.51.100.0/24", via="192.0.2.254", dev="v0"),
            RouteSpec("2001:db8:2::/64", via="fe80::fe", dev="v0"),
            RouteSpec("default", via="192.0.2.254", dev="v0"),
            RouteSpec("default", via="fe80::fe", dev="v0"),
            RouteSpec("203.0.113.0/24", via="fe80::1", dev="v0"),  # IPv4 via an IPv6 gateway
            NeighSpec("192.0.2.9", lladdr=LL, dev="v0"),
            NeighSpec("2001:db8:1::9", lladdr=LL, dev="v0")]


def _state(kns: Any) -> tuple[set[str], set[str], set[str], set[str]]:
    a4 = {f"{a['local']}/{a['prefixlen']}" for link in kns.ip_json("-4", "addr", "show", "v0")
          for a in link["addr_info"]}
    r4 = {r["dst"] for r in kns.ip_json("-4", "route")}
    r6 = {r["dst"] for r in kns.ip_json("-6", "route")}
    n = {x["dst"] for x in kns.ip_json("neigh", "show", "dev", "v0")}
    return a4, r4, r6, n


def test_kata_sequence_skip_on_ipv6_disabled_device(kns: Any) -> None:
    """Link up, addresses, routes, neighbours on a veth with disable_ipv6=1 and policy skip:
    every IPv6 item is skipped and named, every IPv4 item applied."""
    kns.ns.write_sysctl("net/ipv6/conf/v0/disable_ipv6", "1")
    specs = kata_sequence()
    report = apply(specs, kns.conn, ipv6_disabled="skip")
    v6 = {i for i, s in enumerate(specs)
          if s.family == 10 or getattr(s, "via", None) == "fe80::1"}
    assert v6 == {2, 4, 6, 7, 9}
    for i, r in enumerate(report):
        if i in v6:
            assert r.status == "skipped", (i, r)
            assert r.reason == "skipped: IPv6 is disabled on v0 (net.ipv6.conf.v0.disable_ipv6=1)"
            assert r.spec.text()  # the item is named by its spec
        else:
            assert r.status == "ok", (i, r)
    a4, r4, r6, neigh = _state(kns)
    assert a4 == {"192.0.2.1/24"}
    assert r4 >= {"198.51.100.0/24", "default"} and "203.0.113.0/24" not in r4
    assert not any(d.startswith("2001:db8") for d in r6)
    assert neigh == {"192.0.2.9"}
    link = kns.ip_json("link", "show", "v0")[0]
    assert "UP" in link["flags"]


def test_kata_sequence_strict_fails_ipv6_with_kernel_errors(kns: Any) -> None:
    kns.ns.write_sysctl("net/ipv6/conf/v0/disable_ipv6", "1")
    report = apply(kata_sequence(), kns.conn)
    got = {i: (r.status, r.error.errno if r.error else 0, r.error.msg if r.error else None)
           for i, r in enumerate(report)}
    assert got[2] == ("failed", E.EACCES, "ipv6: IPv6 is disabled on this device")
    for i in (4, 6, 7):
        assert got[i] == ("failed", E.EACCES, "IPv6 is disabled on nexthop device"), got[i]
    assert got[9] == ("failed", E.EINVAL, "IPv6 is disabled on this device")
    for i in (4, 9):
        hint = report[i].error.hint  # type: ignore[union-attr]
        assert hint == "IPv6 is disabled on v0 (net.ipv6.conf.v0.disable_ipv6=1)"
    assert all(got[i][0] == "ok" for i in (0, 1, 3, 5, 8))


def test_preflight_error_sends_nothing(kns: Any) -> None:
    kns.ns.write_sysctl("net/ipv6/conf/v0/disable_ipv6", "1")
    with pytest.raises(Ipv6DisabledError, match="2001:db8:1::1/64 dev v0: IPv6 is disabled on v0"):
        apply(kata_sequence(), kns.conn, ipv6_disabled="preflight-error")
    assert _state(kns)[0] == set()


def test_multipath_via_disabled_device_skipped(kns: Any) -> None:
    kns.ns.write_sysctl("net/ipv6/conf/v1/disable_ipv6", "1")
    apply([AddrSpec("2001:db8:1::1/64", dev="v0", flags="nodad")], kns.conn)
    mp = RouteSpec("2001:db8:5::/64", nexthops=[NextHop("fe80::1", dev="v0"),
                                                  NextHop("fe80::2", dev="v1")])
    ok = RouteSpec("2001:db8:6::/64", nexthops=[NextHop("fe80::1", dev="v0")])
    r = apply([mp, ok], kns.conn, ipv6_disabled="skip")
    assert [x.status for x in r] == ["skipped", "ok"]
    assert "v1" in str(r[0].reason)
    assert {x["dst"] for x in kns.ip_json("-6", "route")} >= {"2001:db8:6::/64"}


def test_ipv6_devices_per_kind() -> None:
    v4via6 = RouteSpec("203.0.113.0/24", via="fe80::1", index=3)
    assert ipv6_devices(v4via6) == (3,)
    assert ipv6_devices(RouteSpec("203.0.113.0/24", via="192.0.2.1", index=3)) == ()
    assert ipv6_devices(RouteSpec("2001:db8::/64", index=3, op="del")) == ()
    assert ipv6_devices(RouteSpec("2001:db8::/64", nexthops=[
        NextHop("fe80::1", index=3), NextHop("fe80::2", index=4)])) == (3, 4)
    assert ipv6_devices(NeighSpec("2001:db8::9", index=5)) == (5,)
    assert ipv6_devices(LinkSpec("v0", index=5, up=True)) == ()
    assert kind_of(RouteSpec("default")).absent_errnos == (E.ESRCH, E.ENOENT)


def test_eexist_with_and_without_exist_ok(kns: Any) -> None:
    route = RouteSpec("198.51.100.0/24", dev="v0")
    assert apply([route], kns.conn)[0].status == "ok"
    r = apply([route], kns.conn)[0]
    assert (r.status, r.error.errno if r.error else 0) == ("failed", E.EEXIST)
    r = apply([route], kns.conn, exist_ok=True)[0]
    assert r.status == "exists" and r.ok
    n = NeighSpec("192.0.2.9", lladdr=LL, dev="v0")
    assert [x.status for x in apply([n, n], kns.conn, exist_ok=True)] == ["ok", "exists"]
    assert [x["dst"] for x in kns.ip_json("-4", "route")] == ["198.51.100.0/24"]


def test_missing_ok_deletes(kns: Any) -> None:
    gone = [RouteSpec("198.18.9.0/24", op="del"), RouteSpec("2001:db8:9::/64", op="del"),
            RouteSpec("198.18.9.0/24", table=4000, op="del"),
            NeighSpec("192.0.2.99", dev="v0", op="del")]
    strict = apply(gone, kns.conn)
    assert [r.error.errno if r.error else 0 for r in strict] == \
        [E.ESRCH, E.ESRCH, E.ESRCH, E.ENOENT]
    assert [r.status for r in apply(gone, kns.conn, missing_ok=True)] == ["absent"] * 4


def test_lost_acks_resolved_by_filtered_dumps(kns: Any) -> None:
    """A route add whose ack is lost: the dump (table 100, filtered in the kernel) shows
    the route absent -> "lost", never "ok"; present -> "unknown"."""
    from nlcore.ops.kind_route import route_dump, route_key

    added = RouteSpec("198.51.100.0/24", dev="v0", table=100)
    missing = RouteSpec("198.51.101.0/24", dev="v0", table=100)
    assert apply([added], kns.conn)[0].ok
    specs = [s.resolved({"v0": kns.v0}) for s in (added, missing)]
    present = route_dump(kns.conn, specs)
    assert route_key(specs[0]) in present and route_key(specs[1]) not in present
    assert all(k[1] == 100 for k in present)  # type: ignore[index]
