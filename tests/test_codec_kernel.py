"""The specs' bytes against a real kernel, in a throwaway namespace: each ``message`` is
accepted and leaves the state ``ip -j`` reads back; the filtered dumps (strict checking)
return exactly what ``ip`` shows, decoded into RouteMsg / NeighMsg / LinkMsg."""

from __future__ import annotations

from typing import Any

import pytest

from nlcore.codec import consts as C
from nlcore.codec.decode import LinkMsg, NeighMsg, RouteMsg
from nlcore.codec.link import LinkSpec
from nlcore.codec.neigh import NeighSpec, encode_getneigh
from nlcore.codec.route import NextHop, RouteSpec, encode_getroute
from nlcore.codec.wire import encode_getlink

pytestmark = pytest.mark.kernel


@pytest.fixture
def env(kns: Any) -> Any:
    kns.ns.run(["ip", "addr", "add", "192.0.2.1/24", "dev", "v0"], check=True)
    kns.ns.run(["ip", "-6", "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad"],
               check=True)
    return kns


def send(env: Any, spec: Any) -> None:
    env.conn.request(spec.message)


def test_routes_reach_the_kernel_as_specified(env: Any) -> None:
    v0 = env.v0
    for spec in (RouteSpec("198.51.100.0/24", via="192.0.2.2", index=v0, table=1000,
                           metric=7, metrics={"mtu": 1400, "congctl": "cubic"}),
                 RouteSpec("203.0.113.0/24", table=1000, nexthops=[
                     NextHop("192.0.2.2", index=v0, weight=2), NextHop("192.0.2.3", index=v0)]),
                 RouteSpec("198.18.0.0/15", type="blackhole", table=1000),
                 RouteSpec("2001:db8:1::/64", via="2001:db8::2", index=v0, table=1000,
                           proto="static")):
        send(env, spec)
    shown = {r["dst"]: r for r in env.ip_json("route", "show", "table", "1000")}
    r = shown["198.51.100.0/24"]
    assert (r["gateway"], r["dev"], r["metric"]) == ("192.0.2.2", "v0", 7)
    assert r["metrics"] == [{"mtu": 1400, "congestion": "cubic"}]  # ip -j calls it so
    assert sorted((h["gateway"], h["weight"]) for h in shown["203.0.113.0/24"]["nexthops"]) \
        == [("192.0.2.2", 2), ("192.0.2.3", 1)]
    assert shown["198.18.0.0/15"]["type"] == "blackhole"
    (r6,) = env.ip_json("-6", "route", "show", "table", "1000")
    assert (r6["dst"], r6["gateway"], r6["protocol"]) == ("2001:db8:1::/64", "2001:db8::2",
                                                          "static")
    # the filtered dump: table 1000 only (strict checking), decoded from the tables
    msgs = [m for m in env.conn.request(encode_getroute(C.AF_INET, 1000))
            if isinstance(m, RouteMsg)]
    assert sorted(m.dst for m in msgs) == sorted(shown)
    assert all(m.table == 1000 for m in msgs)
    got = {m.dst: m for m in msgs}
    assert got["198.51.100.0/24"].metrics == {"mtu": 1400, "congctl": "cubic"}
    assert [(nh.gateway, nh.weight) for nh in got["203.0.113.0/24"].nexthops] == \
        [("192.0.2.2", 2), ("192.0.2.3", 1)]
    assert {m.dst for m in env.conn.request(encode_getroute(C.AF_INET, "main", env.v1))
            if isinstance(m, RouteMsg)} == set()
    # delete by the same spec with op="del" leaves the rest
    send(env, RouteSpec("198.51.100.0/24", op="del", via="192.0.2.2", index=v0, table=1000))
    assert "198.51.100.0/24" not in {r["dst"] for r in env.ip_json("route", "show", "table",
                                                                   "1000")}


def test_neighbours_reach_the_kernel(env: Any) -> None:
    send(env, NeighSpec("192.0.2.5", lladdr="02:00:00:00:00:05", index=env.v0))
    send(env, NeighSpec("2001:db8::5", lladdr="02:00:00:00:00:06", index=env.v0,
                        state="stale", router=True))
    send(env, NeighSpec("192.0.2.9", index=env.v0, proxy=True))
    shown = {n["dst"]: n for n in env.ip_json("neigh", "show", "dev", "v0")}
    assert shown["192.0.2.5"]["lladdr"] == "02:00:00:00:00:05"
    assert shown["192.0.2.5"]["state"] == ["PERMANENT"]
    assert shown["2001:db8::5"]["state"] == ["STALE"] and "router" in shown["2001:db8::5"]
    assert [p["dst"] for p in env.ip_json("neigh", "show", "proxy")] == ["192.0.2.9"]
    msgs = [m for m in env.conn.request(encode_getneigh(ifindex=env.v0))
            if isinstance(m, NeighMsg)]
    assert {(m.dst, m.lladdr, m.state) for m in msgs if m.state & 0x84} == {
        ("192.0.2.5", "02:00:00:00:00:05", C.NUD_PERMANENT),
        ("2001:db8::5", "02:00:00:00:00:06", C.NUD_STALE)}
    assert all(m.index == env.v0 for m in msgs)
    send(env, NeighSpec("192.0.2.5", op="del", index=env.v0))
    assert "192.0.2.5" not in {n["dst"] for n in env.ip_json("neigh", "show", "dev", "v0")}


def test_links_reach_the_kernel(env: Any) -> None:
    env.ns.run(["ip", "link", "add", "br0", "type", "bridge"], check=True)
    (br,) = env.ip_json("link", "show", "dev", "br0")
    send(env, LinkSpec("v1", index=env.v1, up=False, mtu=1400, address="02:00:00:00:00:0a",
                       name="v9", master=br["ifindex"]))
    (link,) = env.ip_json("link", "show", "dev", "v9")
    assert (link["ifindex"], link["mtu"], link["address"], link["master"]) == (
        env.v1, 1400, "02:00:00:00:00:0a", "br0")
    assert "UP" not in link["flags"]
    send(env, LinkSpec("v9", index=env.v1, up=True, nomaster=True))
    (link,) = env.ip_json("link", "show", "dev", "v9")
    assert "master" not in link and "UP" in link["flags"]
    (m,) = [m for m in env.conn.request(encode_getlink(index=env.v1)) if isinstance(m, LinkMsg)]
    assert (m.ifname, m.mtu, m.address, m.kind) == ("v9", 1400, "02:00:00:00:00:0a", "veth")


def test_kernel_extack_into_a_nest_is_named(env: Any) -> None:
    """A 2-byte RTAX_MTU inside RTA_METRICS: the kernel points its extack offset into the
    nest (NL_SET_ERR_MSG_ATTR in ip_metrics_convert), and the error names the inner one."""
    from nlcore.codec import tables
    from nlcore.codec.attrs import encode, nlmsg
    from nlcore.codec.errors import KernelError

    body = tables.RTMSG.layout.pack(C.AF_INET, 24, 0, 0, 254, 3, 253, 1, 0) + encode(
        tables.RTA, [("RTA_DST", bytes([198, 51, 100, 0])), ("RTA_OIF", env.v0),
                     ("RTA_METRICS", [("RTAX_ADVMSS", 1360), ("RTAX_MTU", b"\x78\x05")])])
    req = nlmsg(C.RTM_NEWROUTE, 0x605, body)
    with pytest.raises(KernelError) as info:
        env.conn.request(req)
    err = info.value
    assert err.errno == 22 and err.msg == "Invalid attribute in metrics"
    assert err.attr == "RTA_METRICS/RTAX_MTU"
    assert err.offset == req.index(bytes([6, 0, 2, 0]))
