"""``nlcore route add|del|replace|change|append|show|get``, iproute2-shaped.

Modifying commands parse the words as ``ip route`` does (:mod:`nlcore.codec.iproute_route`),
resolve device names, and go through apply(). ``show`` dumps one table (``main`` unless
``table T|all``) filtered in the kernel (table, device) and prints like ``ip route`` (text) or
``ip -j route``: IPv4 unless ``-6``, as ``ip`` does.
"""

from __future__ import annotations

from typing import Any

from ..codec import consts as C
from ..codec.iproute_route import parse_route_args, route_command
from ..codec.iproute_rtnames import PROTOS, SCOPES, TABLES
from ..codec.iproute_words import CommandError, Words, get_prefix, invarg, matches
from .common import Globals, open_conn
from .objects import failed, names_of, print_rows, run_spec, show_dev

TYPE_NAMES = {0: "none", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast",
              5: "multicast", 6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw",
              10: "nat", 11: "xresolve"}
PROTO_NAMES = {v: k for k, v in PROTOS.items()}
SCOPE_NAMES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
TABLE_NAMES = {v: k for k, v in TABLES.items() if v}
#: rtm_flags / rtnh_flags words, in print_rt_flags' order
RT_FLAGS = ((1, "dead"), (4, "onlink"), (2, "pervasive"), (8, "offload"), (0x400, "notify"),
            (16, "linkdown"), (32, "unresolved"), (0x2000, "rt_offload"), (0x4000, "rt_trap"),
            (0x20000, "rt_offload_failed"))
#: RTAX index -> ip's word (print_rta_metrics)
MX_NAMES = {2: "mtu", 3: "window", 4: "rtt", 5: "rttvar", 6: "ssthresh", 7: "cwnd",
            8: "advmss", 9: "reordering", 10: "hoplimit", 11: "initcwnd", 12: "features",
            13: "rto_min", 14: "initrwnd", 15: "quickack", 16: "congctl",
            17: "fastopen_no_cookie"}
_MX_INDEX = {v: k for k, v in MX_NAMES.items()}
PREFS = {0: "medium", 1: "high", 3: "low"}
#: RTCF_* of a cached IPv4 answer (print_cache_flags), in its order
CACHE_FLAGS = ((0x80000000, "local"), (0x40000000, "reject"), (0x20000000, "mc"),
               (0x10000000, "brd"), (0x04000000, "dst-nat"), (0x00010000, "src-nat"),
               (0x00020000, "masq"), (0x00800000, "dst-direct"), (0x01000000, "src-direct"),
               (0x00400000, "redirected"), (0x00200000, "redirect"), (0x00100000, "fastroute"),
               (0x00040000, "notify"), (0x20000, "proxy"))


def route_main(g: Globals, words: list[str]) -> int:
    """``nlcore route ...``; returns the exit status."""
    try:
        op = route_command(words[0]) if words else "show"
        if op == "show":
            return route_show(g, words[1:])
        if op == "get":
            return route_get(g, words[1:])
        spec = parse_route_args(op, words[1:], g.family).spec()
    except CommandError as e:
        return failed(e)
    return run_spec(g, spec)


def _name(table: dict[int, str], value: int) -> str:
    return table.get(value, str(value))


def _flags(flags: int) -> list[str]:
    return [word for bit, word in RT_FLAGS if flags & bit]


def _metrics(m: Any) -> tuple[list[str], dict[str, Any]]:
    mx = m.metrics
    lock = int(mx.pop("lock", 0) or 0)
    text: list[str] = []
    js: dict[str, Any] = {}
    for key in sorted(mx, key=lambda k: _MX_INDEX.get(k, 99)):
        i = _MX_INDEX.get(key)
        v = mx[key]
        if i is None or (key == "hoplimit" and v == 0xFFFFFFFF):
            continue
        text.append(key + (" lock" if lock & (1 << i) else ""))
        if key in ("rtt", "rttvar", "rto_min") and isinstance(v, int):
            v = v // 8 if key == "rtt" else v // 4 if key == "rttvar" else v
            text.append(f"{v / 1e3:g}s" if v >= 1000 else f"{v}ms")
        elif key == "features" and isinstance(v, int):
            text.append("ecn" if v & 1 else str(v))
        else:
            text.append(str(v))
        js["congestion" if key == "congctl" else key] = v
    return text, js


def route_entry(m: Any, names: dict[int, str], table_filter: int = 0,
                hide_dev: bool = False) -> tuple[str, dict[str, Any]]:
    """(the ``ip route`` line, the ``ip -j route`` object) of one RouteMsg; a show filtered
    by table or device does not print them, as ``ip`` does not."""
    text: list[str] = []
    js: dict[str, Any] = {}

    def put(key: str | None, value: Any, *words: str) -> None:
        if key is not None:
            js[key] = value
        text.extend(words)

    if m.rtm_type != C.RTN_UNICAST:
        put("type", _name(TYPE_NAMES, m.rtm_type), _name(TYPE_NAMES, m.rtm_type))
    host = m.dst != "default" and m.dst_len == (32 if m.family == C.AF_INET else 128)
    dst = m.dst.rpartition("/")[0] if host else m.dst
    put("dst", dst, dst)
    src = m.get("RTA_SRC")
    if isinstance(src, str):
        put("from", src, "from", src if m.src_len in (32, 128) else f"{src}/{m.src_len}")
    via = m.get("RTA_VIA")
    if isinstance(via, dict):
        fam = "inet6" if via.get("family") == C.AF_INET6 else "inet"
        put("via", {"family": fam, "host": via.get("addr")}, "via", fam, str(via.get("addr")))
    elif m.gateway is not None:
        put("gateway", m.gateway, "via", m.gateway)
    if m.oif is not None and not hide_dev:
        dev = names.get(m.oif, f"if{m.oif}")
        put("dev", dev, "dev", dev)
    if m.table and (m.table != C.RT_TABLE_MAIN) and not table_filter:
        put("table", _name(TABLE_NAMES, m.table), "table", _name(TABLE_NAMES, m.table))
    if not m.rtm_flags & 0x200:  # RTM_F_CLONED
        if m.protocol != C.RTPROT_BOOT:
            put("protocol", _name(PROTO_NAMES, m.protocol), "proto",
                _name(PROTO_NAMES, m.protocol))
        if m.scope != C.RT_SCOPE_UNIVERSE:
            put("scope", _name(SCOPE_NAMES, m.scope), "scope", _name(SCOPE_NAMES, m.scope))
    if m.prefsrc is not None:
        put("prefsrc", m.prefsrc, "src", m.prefsrc)
    if m.priority is not None:
        put("metric", m.priority, "metric", str(m.priority))
    put("flags", _flags(m.rtm_flags), *_flags(m.rtm_flags))
    uid = m.get("RTA_UID")
    if isinstance(uid, int):
        put("uid", uid, "uid", str(uid))
    if m.get("RTA_METRICS") is not None:
        mtext, mjs = _metrics(m)
        put("metrics", [mjs], *mtext)
    line = " ".join(text) + " "
    if m.family == C.AF_INET and m.rtm_flags & 0x200:  # RTM_F_CLONED: a lookup's answer
        cache = [w for bit, w in CACHE_FLAGS if m.rtm_flags & bit]
        js["cache"] = cache
        line += "\n    cache " + (f"<{','.join(cache)}> " if cache else "")
    pref = m.get("RTA_PREF")
    if isinstance(pref, int):
        js["pref"] = PREFS.get(pref, pref)
        line += f"pref {PREFS[pref]}" if pref in PREFS else str(pref)
    if m.nexthops:
        hops = []
        for nh in m.nexthops:
            h: dict[str, Any] = {}
            words = ["nexthop"]
            if nh.gateway is not None:
                h["gateway"] = nh.gateway
                words += ["via", nh.gateway]
            h["dev"] = names.get(nh.ifindex, f"if{nh.ifindex}")
            h["weight"] = nh.weight
            h["flags"] = _flags(nh.flags)
            words += ["dev", h["dev"], "weight", str(nh.weight), *h["flags"]]
            hops.append(h)
            line += "\n\t" + " ".join(words) + " "
        js["nexthops"] = hops
    return line, js


def _show_filter(g: Globals, words: list[str]) -> dict[str, Any]:
    f: dict[str, Any] = {"table": C.RT_TABLE_MAIN}
    w = Words(words)
    for word in w:
        if matches(word, "table"):
            v = w.next()
            if v in ("all", "cache"):
                f["table"] = 0
            elif v in TABLES:
                f["table"] = TABLES[v]
            elif v.isdigit():
                f["table"] = int(v)
            else:
                raise invarg('table id value is invalid', v)
        elif word in ("dev", "oif"):
            f["dev"] = w.next()
        elif matches(word, "protocol"):
            v = w.next()
            f["proto"] = PROTOS[v] if v in PROTOS else int(v) if v.isdigit() else -1
            if f["proto"] < 0:
                raise invarg('invalid "protocol"', v)
        elif word == "scope":
            v = w.next()
            f["scope"] = SCOPES.get(v, int(v) if v.isdigit() else -1)
        elif word == "type":
            f["type"] = w.next()
        else:
            if word in ("root", "match", "exact", "to"):
                word = w.next()
            f["family"], f["prefix"] = get_prefix(word, g.family)
    return f


def route_show(g: Globals, words: list[str]) -> int:
    """``route show [table T|all] [dev D] [proto P] [scope S] [type T] [PREFIX]``."""
    from ..codec.decode import RouteMsg
    from ..codec.route import encode_getroute

    f = _show_filter(g, words)
    # as ip: IPv4 unless -6, except for "table all", which lists both families
    family = g.family or f.get("family") or (C.AF_INET if f["table"] else C.AF_UNSPEC)
    with open_conn(g) as conn:
        oif = show_dev(conn, f["dev"]) if "dev" in f else 0
        msgs = conn.request(encode_getroute(family, f["table"] or None, oif))
        names = names_of(conn)
    lines: list[str] = []
    out: list[dict[str, Any]] = []
    for m in msgs:
        if not isinstance(m, RouteMsg) or (family and m.family != family):
            continue
        if (f["table"] and m.table != f["table"]) or (oif and m.oif != oif):
            continue
        if ("proto" in f and m.protocol != f["proto"]) or ("scope" in f and m.scope != f["scope"]):
            continue
        if "type" in f and TYPE_NAMES.get(m.rtm_type) != f["type"]:
            continue
        if "prefix" in f and f["prefix"] not in (m.dst, m.dst.rpartition("/")[0]):
            continue
        line, js = route_entry(m, names, f["table"], bool(oif))
        lines.append(line)
        out.append(js)
    return print_rows(g, lines, out)


def route_get(g: Globals, words: list[str]) -> int:
    """``route get [fibmatch] ADDR [from ADDR] [oif|dev NAME] [mark N]``: the kernel's
    answer printed like ``ip route get``."""
    from ..codec.decode import RouteMsg
    from ..codec.iproute_routeget import encode_route_get, route_get_request

    family, dst, src, dev, mark, fib = route_get_request(words, g.family)
    with open_conn(g) as conn:
        oif = show_dev(conn, dev) if dev else 0
        msgs = conn.request(encode_route_get(family, dst, src, oif, mark, fib))
        names = names_of(conn)
    out = [route_entry(m, names) for m in msgs if isinstance(m, RouteMsg)]
    return print_rows(g, [line for line, _js in out], [js for _l, js in out])
