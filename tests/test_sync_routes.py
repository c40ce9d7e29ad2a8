"""sync of routes against the real kernel: add, change (one replace), remove what is owned,
never the kernel's own routes or other protocols' when asked, the safe order with addresses,
and idempotence (read back with ``ip -j route``)."""

from __future__ import annotations

from typing import Any

import pytest

from nlcore.codec import consts as C
from nlcore.codec.errors import SpecError
from nlcore.codec.route import RouteSpec
from nlcore.codec.spec import AddrSpec
from nlcore.ops.sync import Ownership, sync


def routes(kns: Any, *args: str) -> dict[str, dict[str, Any]]:
    """{dst: route} of ``ip -j route show ARGS`` (the main table unless ARGS say)."""
    return {r["dst"]: r for r in kns.ip_json("route", "show", *args)}


DESIRED = [AddrSpec("198.51.100.1/24", dev="v0"),
           RouteSpec("203.0.113.0/24", via="198.51.100.254", dev="v0"),
           RouteSpec("192.0.2.0/24", dev="v0", metric=10, proto="static")]


@pytest.mark.kernel
def test_routes_converge_and_kernel_routes_stay(kns: Any) -> None:
    kns.ns.run(["ip", "addr", "add", "198.51.100.1/24", "dev", "v0"], check=True)
    kns.ns.run(["ip", "route", "add", "198.18.0.0/24", "dev", "v0"], check=True)  # unwanted
    kns.ns.run(["ip", "route", "add", "203.0.113.0/24", "via", "198.51.100.9", "dev", "v0"],
               check=True)  # wanted with another gateway
    r = sync(DESIRED, kns.conn)
    assert r.ok and not r.drift, r.lines()
    got = {(c.kind, c.action) for c in r.changes}
    assert got == {("route", "add"), ("route", "remove"), ("route", "change")}
    (chg,) = [c for c in r.changes if c.action == "change"]
    assert chg.why == ["via"] and [s.op for s in chg.requests] == ["replace"]
    main = routes(kns)
    assert set(main) == {"198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"}
    assert main["198.51.100.0/24"]["protocol"] == "kernel"  # the kernel's own: kept
    assert main["203.0.113.0/24"]["gateway"] == "198.51.100.254"
    assert main["192.0.2.0/24"]["protocol"] == "static" and main["192.0.2.0/24"]["metric"] == 10
    again = sync(DESIRED, kns.conn)
    assert again.counts() == {"added": 0, "removed": 0, "changed": 0, "unchanged": 3,
                              "failed": 0} and again.sends == 0


@pytest.mark.kernel
def test_route_proto_ownership(kns: Any) -> None:
    kns.ns.run(["ip", "addr", "add", "198.51.100.1/24", "dev", "v0"], check=True)
    kns.ns.run(["ip", "route", "add", "198.18.0.0/24", "dev", "v0", "proto", "static"],
               check=True)
    kns.ns.run(["ip", "route", "add", "198.18.1.0/24", "dev", "v0", "proto", "boot"],
               check=True)
    own = Ownership(route_protos={C.RTPROT_STATIC})
    want = [AddrSpec("198.51.100.1/24", dev="v0"),
            RouteSpec("192.0.2.0/24", dev="v0", proto="static")]
    r = sync(want, kns.conn, ownership=own)
    assert r.ok, r.lines()
    assert set(routes(kns)) == {"198.51.100.0/24", "198.18.1.0/24", "192.0.2.0/24"}
    with pytest.raises(SpecError, match="proto 3 is not among the owned protocols"):
        sync([RouteSpec("192.0.2.0/24", dev="v0")], kns.conn, ownership=own)


@pytest.mark.kernel
def test_route_deleted_before_its_address_and_readded_after(kns: Any) -> None:
    # the gateway moves to a new subnet: the old address goes, so does the route through it;
    # the new route needs the new address first
    kns.ns.run(["ip", "addr", "add", "198.51.100.1/24", "dev", "v0"], check=True)
    kns.ns.run(["ip", "route", "add", "203.0.113.0/24", "via", "198.51.100.254", "dev", "v0"],
               check=True)
    want = [AddrSpec("192.0.2.1/24", dev="v0"),
            RouteSpec("203.0.113.0/24", via="192.0.2.254", dev="v0")]
    r = sync(want, kns.conn)
    assert r.ok and not r.drift, r.lines()
    assert routes(kns)["203.0.113.0/24"]["gateway"] == "192.0.2.254"
    assert set(routes(kns)) == {"192.0.2.0/24", "203.0.113.0/24"}
    assert sync(want, kns.conn).sends == 0
