"""Golden capture cases for routes, neighbours and links (see iproute2_capture.py).

Each runs after :data:`SETUP`: veth v0 <-> v1 up (v1 is ifindex 2, v0 is 3), 192.0.2.1/24 and
2001:db8::1/64 (nodad) on v0, a bridge br0 (ifindex 4) and a route in table 100 (so that
``ip route show table 100`` finds its table). Options follow iproute2's canonical order
(``via, src, table, proto, scope, metric, onlink, metrics, dev, nexthop``), which is the
order nlcore's encoder emits (iproute2 emits attributes in the order it parses words).
The operation is the last message of its type (``at=-1``).
"""

from __future__ import annotations

from pathlib import Path

from iproute2_capture import Case

HERE = Path(__file__).resolve().parent / "golden"
SETUP: tuple[tuple[str, ...], ...] = tuple(tuple(c.split()) for c in (
    "ip link add v0 type veth peer name v1", "ip link set v0 up", "ip link set v1 up",
    "ip addr add 192.0.2.1/24 dev v0", "ip -6 addr add 2001:db8::1/64 dev v0 nodad",
    "ip link add br0 type bridge", "ip route add 203.0.113.0/24 dev v0 table 100"))
_NET = "198.51.100.0/24"


def _c(name: str, argv: str, op: str, *extra: str) -> Case:
    return Case(name, tuple(argv.split()), op, -1, SETUP + tuple(tuple(e.split())
                                                                 for e in extra))


_R4 = f"route add {_NET}"
ROUTE: tuple[Case, ...] = (
    _c("r4_dev", f"{_R4} dev v0", "RTM_NEWROUTE"),
    _c("r4_via_dev", f"{_R4} via 192.0.2.2 dev v0", "RTM_NEWROUTE"),
    _c("r4_default_via", "route add default via 192.0.2.2", "RTM_NEWROUTE"),
    _c("r4_default_via_family", "-4 route add default via 192.0.2.2", "RTM_NEWROUTE"),
    _c("r4_host", "route add 198.51.100.7 dev v0", "RTM_NEWROUTE"),
    _c("r4_via_inet6", f"{_R4} via inet6 fe80::1 dev v0", "RTM_NEWROUTE"),
    _c("r4_table_main", f"{_R4} dev v0 table main", "RTM_NEWROUTE"),
    _c("r4_table_local", f"{_R4} dev v0 table local", "RTM_NEWROUTE"),
    _c("r4_table_100", f"{_R4} dev v0 table 100", "RTM_NEWROUTE"),
    _c("r4_table_1000", f"{_R4} dev v0 table 1000", "RTM_NEWROUTE"),
    _c("r4_metric", f"{_R4} via 192.0.2.2 metric 7 dev v0", "RTM_NEWROUTE"),
    _c("r4_scope_host", f"{_R4} scope host dev v0", "RTM_NEWROUTE"),
    _c("r4_proto_static", f"{_R4} proto static dev v0", "RTM_NEWROUTE"),
    _c("r4_proto_num", f"{_R4} proto 99 dev v0", "RTM_NEWROUTE"),
    _c("r4_prefsrc", f"{_R4} via 192.0.2.2 src 192.0.2.1 dev v0", "RTM_NEWROUTE"),
    _c("r4_onlink", f"{_R4} via 203.0.113.9 onlink dev v0", "RTM_NEWROUTE"),
    _c("r4_everything", f"{_R4} via 192.0.2.2 src 192.0.2.1 table 100 proto static "
       "scope global metric 9 onlink dev v0", "RTM_NEWROUTE"),
    _c("r4_local", "route add local 198.51.100.1 dev v0", "RTM_NEWROUTE"),
    _c("r4_blackhole", f"route add blackhole {_NET}", "RTM_NEWROUTE"),
    _c("r4_unreachable", f"route add unreachable {_NET}", "RTM_NEWROUTE"),
    _c("r4_prohibit", f"route add prohibit {_NET}", "RTM_NEWROUTE"),
    _c("r4_throw", f"route add throw {_NET} table 100", "RTM_NEWROUTE"),
    _c("r4_metrics", f"{_R4} via 192.0.2.2 mtu 1400 advmss 1360 window 65535 hoplimit 32 "
       "initcwnd 10 initrwnd 20 reordering 3 quickack 1 congctl cubic dev v0", "RTM_NEWROUTE"),
    _c("r4_multipath", f"{_R4} nexthop via 192.0.2.2 dev v0 weight 2 "
       "nexthop via 192.0.2.3 dev v0", "RTM_NEWROUTE"),
    _c("r4_multipath_inet6_onlink", f"{_R4} nexthop via inet6 fe80::1 dev v0 onlink",
       "RTM_NEWROUTE"),
    _c("r4_replace", f"route replace {_NET} dev v0", "RTM_NEWROUTE"),
    _c("r4_change", f"route change {_NET} dev v0", "RTM_NEWROUTE", f"ip {_R4} dev v0"),
    _c("r4_append", f"route append {_NET} dev v0", "RTM_NEWROUTE"),
    _c("r4_del", f"route del {_NET} via 192.0.2.2 dev v0", "RTM_DELROUTE",
       f"ip {_R4} via 192.0.2.2 dev v0"),
    _c("r4_del_blackhole", f"route del blackhole {_NET}", "RTM_DELROUTE",
       f"ip route add blackhole {_NET}"),
    _c("r6_via_dev", "-6 route add 2001:db8:1::/64 via 2001:db8::2 dev v0", "RTM_NEWROUTE"),
    _c("r6_dev", "-6 route add 2001:db8:1::/64 dev v0", "RTM_NEWROUTE"),
    _c("r6_default_via", "-6 route add default via fe80::1 dev v0", "RTM_NEWROUTE"),
    _c("r6_default_via_nofamily", "route add default via fe80::1 dev v0", "RTM_NEWROUTE"),
    _c("r6_metric_table", "-6 route add 2001:db8:1::/64 dev v0 table 1000 metric 1024",
       "RTM_NEWROUTE"),
    _c("r6_prohibit", "-6 route add prohibit 2001:db8:2::/64", "RTM_NEWROUTE"),
    _c("r6_multipath", "-6 route add 2001:db8:1::/64 nexthop via 2001:db8::2 dev v0 "
       "nexthop via 2001:db8::3 dev v0 weight 3", "RTM_NEWROUTE"),
    _c("r6_del", "-6 route del 2001:db8:1::/64 dev v0", "RTM_DELROUTE",
       "ip -6 route add 2001:db8:1::/64 dev v0"),
    _c("r4_show_main", "-4 route show", "RTM_GETROUTE"),
    _c("r6_show_main", "-6 route show", "RTM_GETROUTE"),
    _c("r_show_all", "route show table all", "RTM_GETROUTE"),
    _c("r4_show_table_dev", "-4 route show table 100 dev v0", "RTM_GETROUTE"),
)

NEIGH: tuple[Case, ...] = (
    _c("n4_add", "neigh add 192.0.2.5 lladdr 02:00:00:00:00:05 dev v0", "RTM_NEWNEIGH"),
    _c("n6_add_reachable", "-6 neigh add 2001:db8::5 lladdr 02:00:00:00:00:05 dev v0 "
       "nud reachable", "RTM_NEWNEIGH"),
    _c("n4_replace_stale", "neigh replace 192.0.2.5 lladdr 02:00:00:00:00:05 dev v0 nud stale",
       "RTM_NEWNEIGH"),
    _c("n4_add_noarp", "neigh add 192.0.2.6 lladdr 02:00:00:00:00:06 dev v0 nud noarp",
       "RTM_NEWNEIGH"),
    _c("n4_proxy", "neigh add proxy 192.0.2.7 dev v0", "RTM_NEWNEIGH"),
    _c("n6_router", "-6 neigh add 2001:db8::6 lladdr 02:00:00:00:00:06 dev v0 router",
       "RTM_NEWNEIGH"),
    _c("n4_change", "neigh change 192.0.2.5 lladdr 02:00:00:00:00:07 dev v0", "RTM_NEWNEIGH",
       "ip neigh add 192.0.2.5 lladdr 02:00:00:00:00:05 dev v0"),
    _c("n4_del", "neigh del 192.0.2.5 dev v0", "RTM_DELNEIGH",
       "ip neigh add 192.0.2.5 lladdr 02:00:00:00:00:05 dev v0"),
    _c("n6_del", "-6 neigh del 2001:db8::5 dev v0", "RTM_DELNEIGH",
       "ip -6 neigh add 2001:db8::5 lladdr 02:00:00:00:00:05 dev v0"),
    _c("n_show_dev", "neigh show dev v0", "RTM_GETNEIGH"),
    _c("n6_show", "-6 neigh show", "RTM_GETNEIGH"),
)

LINK: tuple[Case, ...] = (
    _c("l_up", "link set v0 up", "RTM_NEWLINK"),
    _c("l_down", "link set v0 down", "RTM_NEWLINK"),
    _c("l_mtu", "link set v0 mtu 1400", "RTM_NEWLINK"),
    _c("l_address", "link set v0 address 02:00:00:00:00:0a", "RTM_NEWLINK"),
    _c("l_name", "link set v1 name v9", "RTM_NEWLINK"),
    _c("l_master", "link set v0 master br0", "RTM_NEWLINK"),
    _c("l_nomaster", "link set v0 nomaster", "RTM_NEWLINK", "ip link set v0 master br0"),
    _c("l_up_mtu_address", "link set v0 up mtu 1400 address 02:00:00:00:00:0a",
       "RTM_NEWLINK"),
    _c("l_down_name", "link set v1 down name v9", "RTM_NEWLINK"),
)

GOLDENS: tuple[tuple[Path, tuple[Case, ...]], ...] = (
    (HERE / "iproute2_route.json", ROUTE), (HERE / "iproute2_neigh.json", NEIGH),
    (HERE / "iproute2_link.json", LINK))
