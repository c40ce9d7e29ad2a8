"""iproute2's words for routes: the ops (message type and flags), route types, table
names, protocols and metric names, as RouteSpec and the parsers take them."""

from __future__ import annotations

from . import consts as C

_NEW = C.NLM_F_REQUEST | C.NLM_F_ACK
OPS: dict[str, tuple[int, int]] = {
    "add": (C.RTM_NEWROUTE, _NEW | C.NLM_F_CREATE | C.NLM_F_EXCL),
    "replace": (C.RTM_NEWROUTE, _NEW | C.NLM_F_CREATE | C.NLM_F_REPLACE),
    "change": (C.RTM_NEWROUTE, _NEW | C.NLM_F_REPLACE),
    "append": (C.RTM_NEWROUTE, _NEW | C.NLM_F_CREATE | C.NLM_F_APPEND),
    "del": (C.RTM_DELROUTE, _NEW),
}
TYPES: dict[str, int] = {"unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4,
                         "multicast": 5, "blackhole": 6, "unreachable": 7, "prohibit": 8,
                         "throw": 9, "nat": 10}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
TABLES: dict[str, int] = {"main": C.RT_TABLE_MAIN, "local": C.RT_TABLE_LOCAL,
                          "default": C.RT_TABLE_DEFAULT}
#: iproute2's protocol words (lib/rt_names.c and /etc/iproute2/rt_protos).
PROTOS: dict[str, int] = {"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4,
                          "gated": 8, "ra": 9, "mrt": 10, "zebra": 11, "bird": 12,
                          "dnrouted": 13, "xorp": 14, "ntk": 15, "dhcp": 16, "keepalived": 18,
                          "babel": 42, "openr": 99, "bgp": 186, "isis": 187, "ospf": 188,
                          "rip": 189, "eigrp": 192}
#: iproute2's metric words -> RTAX attribute (values are sent as given, in kernel units).
METRICS: dict[str, str] = {"mtu": "RTAX_MTU", "advmss": "RTAX_ADVMSS", "window": "RTAX_WINDOW",
                           "rtt": "RTAX_RTT", "rttvar": "RTAX_RTTVAR",
                           "hoplimit": "RTAX_HOPLIMIT", "initcwnd": "RTAX_INITCWND",
                           "initrwnd": "RTAX_INITRWND", "reordering": "RTAX_REORDERING",
                           "ssthresh": "RTAX_SSTHRESH", "cwnd": "RTAX_CWND",
                           "features": "RTAX_FEATURES", "quickack": "RTAX_QUICKACK",
                           "congctl": "RTAX_CC_ALGO", "rto_min": "RTAX_RTO_MIN",
                           "fastopen_no_cookie": "RTAX_FASTOPEN_NO_COOKIE",
                           "lock": "RTAX_LOCK"}  # bit 1 << RTAX_x per locked metric (ip's last)
