"""``nlcore addr show``: an RTM_GETADDR dump printed like ``ip addr`` (text) or ``ip -j addr``.

The JSON uses iproute2's keys (``ifindex``, ``ifname``, ``addr_info`` with ``family``,
``local``, ``address`` for a peer, ``prefixlen``, ``broadcast``, ``scope``, flag booleans,
``label``, ``valid_life_time``, ``preferred_life_time``), so scripts written against
``ip -j addr`` keep working.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..codec import consts as C
from ..codec.batchfile import ADDR_PROTOS
from ..codec.decode import AddrMsg, LinkMsg

PROTO_NAMES = {v: k for k, v in ADDR_PROTOS.items()}

#: ifi_flags as ``ip link`` names them, in its order.
LINK_FLAGS = ((0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"),
              (0x1000, "MULTICAST"), (0x80, "NOARP"), (0x200, "ALLMULTI"), (0x100, "PROMISC"),
              (0x1, "UP"), (C.IFF_LOWER_UP, "LOWER_UP"), (0x20000, "DORMANT"))
#: IFA_F_* as ``ip addr`` prints them, in its order; "dynamic" means *not* permanent.
ADDR_FLAGS = ((C.IFA_F_SECONDARY, "secondary"), (C.IFA_F_NODAD, "nodad"),
              (C.IFA_F_OPTIMISTIC, "optimistic"), (C.IFA_F_DADFAILED, "dadfailed"),
              (C.IFA_F_HOMEADDRESS, "home"), (C.IFA_F_DEPRECATED, "deprecated"),
              (C.IFA_F_TENTATIVE, "tentative"), (C.IFA_F_PERMANENT, "dynamic"),
              (C.IFA_F_MANAGETEMPADDR, "mngtmpaddr"), (C.IFA_F_NOPREFIXROUTE, "noprefixroute"),
              (C.IFA_F_MCAUTOJOIN, "autojoin"), (C.IFA_F_STABLE_PRIVACY, "stable-privacy"))


def flag_words(m: AddrMsg) -> list[str]:
    """The address's flags as ``ip addr`` words (``secondary``/``temporary``, ``dynamic``...)."""
    out = []
    for bit, name in ADDR_FLAGS:
        if bit == C.IFA_F_PERMANENT:
            if not m.flags & bit:
                out.append(name)
        elif m.flags & bit:
            out.append("temporary" if name == "secondary" and m.family == C.AF_INET6 else name)
    return out


def _lifetimes(m: AddrMsg) -> tuple[int, int]:
    ci = m.get(C.IFA_CACHEINFO)
    if isinstance(ci, dict):
        return ci["valid"], ci["preferred"]
    return C.INFINITY_LIFE_TIME, C.INFINITY_LIFE_TIME


def _peer(m: AddrMsg) -> str | None:
    local, address = m.get(C.IFA_LOCAL), m.get(C.IFA_ADDRESS)
    return address if isinstance(address, str) and local is not None and address != local \
        else None


def addr_json(m: AddrMsg) -> dict[str, Any]:
    """One ``addr_info`` entry, keys as ``ip -j addr`` writes them."""
    out: dict[str, Any] = {"family": C.FAMILY_NAMES.get(m.family, m.family), "local": m.local}
    peer = _peer(m)
    if peer is not None:
        out["address"] = peer
    out["prefixlen"] = m.prefixlen
    for key, attr in (("metric", C.IFA_RT_PRIORITY), ("broadcast", C.IFA_BROADCAST)):
        v = m.get(attr)
        if v is not None:
            out[key] = v
    out["scope"] = C.SCOPE_NAMES.get(m.scope, m.scope)
    for word in flag_words(m):
        out[word] = True
    proto = m.get(C.IFA_PROTO)
    if isinstance(proto, int):
        out["protocol"] = PROTO_NAMES.get(proto, proto)
    label = m.get(C.IFA_LABEL)
    if label is not None:
        out["label"] = label
    out["valid_life_time"], out["preferred_life_time"] = _lifetimes(m)
    return out


def _lft(v: int) -> str:
    return "forever" if v == C.INFINITY_LIFE_TIME else f"{v}sec"


def addr_lines(m: AddrMsg) -> list[str]:
    """The two lines ``ip addr`` prints for one address."""
    fam = C.FAMILY_NAMES.get(m.family, str(m.family))
    peer = _peer(m)
    words = [fam, f"{m.local} peer {peer}/{m.prefixlen}" if peer else f"{m.local}/{m.prefixlen}"]
    for word, attr in (("metric", C.IFA_RT_PRIORITY), ("brd", C.IFA_BROADCAST),
                       ("proto", C.IFA_PROTO)):
        v = m.get(attr)
        if v is not None:
            name = PROTO_NAMES.get(v) if isinstance(v, int) and word == "proto" else None
            words += [word, name or str(v)]
    words += ["scope", C.SCOPE_NAMES.get(m.scope, str(m.scope)), *flag_words(m)]
    label = m.get(C.IFA_LABEL)
    if isinstance(label, str):
        words.append(label)
    valid, pref = _lifetimes(m)
    return [f"    {' '.join(words)}", f"       valid_lft {_lft(valid)} preferred_lft {_lft(pref)}"]


def link_flags(m: LinkMsg) -> list[str]:
    """``ip link`` names of the link's ifi_flags."""
    return [name for bit, name in LINK_FLAGS if m.ifi_flags & bit]


def render(links: Sequence[LinkMsg], addrs: Sequence[AddrMsg], as_json: bool) -> list[Any]:
    """Text lines (or, with ``as_json``, the JSON list) for these links and their addresses."""
    by_index: dict[int, list[AddrMsg]] = {}
    for a in addrs:
        by_index.setdefault(a.index, []).append(a)
    if as_json:
        return [{"ifindex": lk.index, "ifname": lk.ifname, "flags": link_flags(lk),
                 "mtu": lk.mtu, "addr_info": [addr_json(a) for a in by_index.get(lk.index, [])]}
                for lk in links]
    lines: list[Any] = []
    for lk in links:
        lines.append(f"{lk.index}: {lk.ifname}: <{','.join(link_flags(lk))}> mtu {lk.mtu}")
        for a in by_index.get(lk.index, []):
            lines.extend(addr_lines(a))
    return lines
