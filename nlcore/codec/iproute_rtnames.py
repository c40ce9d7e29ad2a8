"""iproute2's route words as data: the /etc/iproute2 names (scopes, protocols, tables),
the route types, the RTA_METRICS words, and ``iproute_modify``'s keywords in its order."""

from __future__ import annotations

from .iproute_words import lookup

#: /etc/iproute2 names (rt_scopes, rt_protos, rt_tables) and rtnl_rtntype_a2n's type words.
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
PROTOS = {"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "gated": 8,
          "ra": 9, "mrt": 10, "zebra": 11, "bird": 12, "dnrouted": 13, "xorp": 14, "ntk": 15,
          "dhcp": 16, "keepalived": 18, "babel": 42, "openr": 99, "bgp": 186, "isis": 187,
          "ospf": 188, "rip": 189, "eigrp": 192}
TABLES = {"unspec": 0, "default": 253, "main": 254, "local": 255}
#: RTAX name -> how its value is read: "u32", "hoplimit", "rtt" (x8), "rttvar" (x4),
#: "ms" (rto_min), "bool" (0/1); "prefix" marks the words iproute2 abbreviates.
METRICS = {"mtu": "u32", "hoplimit": "hoplimit", "advmss": "u32", "reordering": "u32",
           "rtt": "rtt", "rto_min": "ms", "window": "u32", "cwnd": "u32", "initcwnd": "u32",
           "initrwnd": "u32", "quickack": "bool", "congctl": "str", "rttvar": "rttvar",
           "ssthresh": "u32", "fastopen_no_cookie": "bool"}
RTAX_BIT = {"mtu": 2, "window": 3, "rtt": 4, "rttvar": 5, "ssthresh": 6, "cwnd": 7,
            "advmss": 8, "reordering": 9, "hoplimit": 10, "initcwnd": 11, "features": 12,
            "rto_min": 13, "initrwnd": 14, "quickack": 15, "congctl": 16}
_METRIC_MSG = {"advmss": '"mss" value is invalid'}


#: iproute_modify's keywords in its order: (word, abbreviable, meaning); the first match wins.
_KEYWORDS: tuple[tuple[str, bool, str], ...] = (
    ("src", False, "src"), ("as", False, "as"), ("via", False, "via"), ("from", False, "from"),
    ("tos", False, "tos"), ("dsfield", True, "tos"), ("expires", False, "expires"),
    ("metric", True, "metric"), ("priority", True, "metric"), ("preference", False, "metric"),
    ("scope", False, "scope"), ("mtu", False, "mtu"), ("hoplimit", False, "hoplimit"),
    ("advmss", False, "advmss"), ("reordering", True, "reordering"), ("rtt", False, "rtt"),
    ("rto_min", False, "rto_min"), ("window", True, "window"), ("cwnd", True, "cwnd"),
    ("initcwnd", True, "initcwnd"), ("initrwnd", True, "initrwnd"),
    ("features", True, "features"), ("quickack", True, "quickack"),
    ("congctl", True, "congctl"), ("rttvar", True, "rttvar"), ("ssthresh", True, "ssthresh"),
    ("realms", True, "realms"), ("onlink", False, "onlink"), ("nexthop", False, "nexthop"),
    ("nhid", False, "nhid"), ("protocol", True, "protocol"), ("table", True, "table"),
    ("vrf", True, "vrf"), ("dev", False, "dev"), ("oif", False, "dev"), ("pref", True, "pref"),
    ("encap", False, "encap"), ("ttl-propagate", False, "ttl-propagate"),
    ("fastopen_no_cookie", True, "fastopen_no_cookie"))


def _keyword(word: str) -> str | None:
    return lookup(word, _KEYWORDS)


#: the keywords written out in full, as the ordered scan decides them (a full word that
#: abbreviates an earlier keyword stays that keyword): the common case in one dict look-up
_FULL = {name: _keyword(name) for name, _a, _m in _KEYWORDS}


def keyword(word: str) -> str | None:
    """The iproute_modify keyword ``word`` stands for, or None (a prefix, maybe typed)."""
    got = _FULL.get(word, "")
    if got != "":
        return got
    return None if word[:1].isdigit() else _keyword(word)  # no keyword starts with a digit


#: rtnl_rtntype_a2n's type words in its order: (word, abbreviable, type)
_TYPES: tuple[tuple[str, bool, str], ...] = (
    ("local", False, "local"), ("nat", False, "nat"), ("broadcast", True, "broadcast"),
    ("brd", False, "broadcast"), ("anycast", True, "anycast"), ("multicast", True, "multicast"),
    ("prohibit", True, "prohibit"), ("unreachable", True, "unreachable"),
    ("blackhole", False, "blackhole"), ("xresolve", True, "xresolve"),
    ("unicast", True, "unicast"), ("throw", False, "throw"))


def rtntype(word: str) -> str | None:
    """rtnl_rtntype_a2n for a word that does not start with a digit: the type, or None."""
    return lookup(word, _TYPES)


