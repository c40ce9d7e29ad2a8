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


IFLA_GROUP = 27  # include/uapi/linux/if_link.h
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
LINK_TYPES = {1: "ether", 772: "loopback", 776: "sit", 778: "gre", 65534: "none"}


def link_flags(m: LinkMsg, peer: LinkMsg | None = None) -> list[str]:
    """``ip link`` names of the link's ifi_flags (``NO-CARRIER`` first when up without
    carrier, ``M-DOWN`` last when its peer/lower device is down), in ip's order."""
    out = [name for bit, name in LINK_FLAGS if m.ifi_flags & bit]
    if m.ifi_flags & 0x1 and not m.ifi_flags & C.IFF_LOWER_UP:
        out.insert(0, "NO-CARRIER")
    if peer is not None and not peer.ifi_flags & 0x1:
        out.append("M-DOWN")
    return out


def _get(lk: LinkMsg, attr_type: int) -> Any:
    """The first value of ``attr_type`` among the link's attributes, or None."""
    for a in lk.attrs:
        if a.type == attr_type:
            return a.value
    return None


class LinkView:
    """What ``ip addr`` prints about one link: name with ``@peer``, state, link layer."""

    def __init__(self, lk: LinkMsg, by_index: dict[int, LinkMsg]) -> None:
        self.lk = lk
        peer_index = _get(lk, C.IFLA_LINK)
        self.peer = by_index.get(peer_index) if isinstance(peer_index, int) and \
            peer_index != lk.index else None
        self.peer_name = self.peer.ifname if self.peer is not None else (
            f"if{peer_index}" if isinstance(peer_index, int) and peer_index != lk.index
            else None)
        op = _get(lk, C.IFLA_OPERSTATE)
        self.state = OPERSTATES[op] if isinstance(op, int) and op < len(OPERSTATES) \
            else "UNKNOWN"
        self.name = f"{lk.ifname}@{self.peer_name}" if self.peer_name else str(lk.ifname)
        group = _get(lk, IFLA_GROUP)  # a u32 (raw bytes from an older table)
        if isinstance(group, bytes) and len(group) == 4:
            group = int.from_bytes(group, "little")
        self.group: str | None = None
        if isinstance(group, int):
            self.group = "default" if group == 0 else str(group)

    def line(self) -> str:
        """``3: v0@v1: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state UP qlen 1000``."""
        words = [f"{self.lk.index}: {self.name}: <{','.join(link_flags(self.lk, self.peer))}>",
                 f"mtu {self.lk.mtu}"]
        qdisc, qlen = _get(self.lk, C.IFLA_QDISC), _get(self.lk, C.IFLA_TXQLEN)
        if qdisc is not None:
            words.append(f"qdisc {qdisc}")
        words.append(f"state {self.state}")
        if self.group is not None:
            words.append(f"group {self.group}")
        if qlen is not None:
            words.append(f"qlen {qlen}")
        return " ".join(words)

    def link_layer(self) -> str:
        """``    link/ether MAC brd MAC`` (``link/TYPE`` alone when there is no address)."""
        kind = LINK_TYPES.get(self.lk.ifi_type, str(self.lk.ifi_type))
        addr, brd = _get(self.lk, C.IFLA_ADDRESS), _get(self.lk, C.IFLA_BROADCAST)
        text = f"    link/{kind}"
        if isinstance(addr, str):
            text += f" {addr}"
        if isinstance(brd, str):
            text += f" brd {brd}"
        return text

    def json(self) -> dict[str, Any]:
        """The link's keys as ``ip -j addr`` writes them."""
        out: dict[str, Any] = {"ifindex": self.lk.index}
        if self.peer_name:
            out["link"] = self.peer_name
        out.update(ifname=self.lk.ifname, flags=link_flags(self.lk, self.peer), mtu=self.lk.mtu)
        for key, attr in (("qdisc", C.IFLA_QDISC),):
            if _get(self.lk, attr) is not None:
                out[key] = _get(self.lk, attr)
        out["operstate"] = self.state
        if self.group is not None:
            out["group"] = self.group
        if _get(self.lk, C.IFLA_TXQLEN) is not None:
            out["txqlen"] = _get(self.lk, C.IFLA_TXQLEN)
        out["link_type"] = LINK_TYPES.get(self.lk.ifi_type, self.lk.ifi_type)
        for key, attr in (("address", C.IFLA_ADDRESS), ("broadcast", C.IFLA_BROADCAST)):
            v = _get(self.lk, attr)
            if isinstance(v, str):
                out[key] = v
        return out


def render(links: Sequence[LinkMsg], addrs: Sequence[AddrMsg], as_json: bool,
           family: int = 0, brief: bool = False,
           all_links: Sequence[LinkMsg] = ()) -> list[Any]:
    """Text lines (or, with ``as_json``, the JSON list) for these links and their addresses.

    As ``ip``: with a ``family`` (``-4``/``-6``) only links holding an address of it are
    listed, without their link-layer line; ``brief`` is ``ip -br addr``.
    """
    by_index: dict[int, list[AddrMsg]] = {}
    for a in addrs:
        if not family or a.family == family:
            by_index.setdefault(a.index, []).append(a)
    known = {lk.index: lk for lk in (*all_links, *links)}
    views = [LinkView(lk, known) for lk in links if not family or lk.index in by_index]
    if brief:
        return _brief(views, by_index, as_json)
    if as_json:
        return [{**v.json(), "addr_info": [addr_json(a) for a in by_index.get(v.lk.index, [])]}
                for v in views]
    lines: list[Any] = []
    for v in views:
        lines.append(v.line())
        if not family:
            lines.append(v.link_layer())
        for a in by_index.get(v.lk.index, []):
            lines.extend(addr_lines(a))
    return lines


def _brief(views: list[LinkView], by_index: dict[int, list[AddrMsg]],
           as_json: bool) -> list[Any]:
    if as_json:
        out: list[Any] = []
        for v in views:
            d: dict[str, Any] = {"link": v.peer_name} if v.peer_name else {}
            d.update(ifname=v.lk.ifname, operstate=v.state,
                     addr_info=[{"local": a.local, "prefixlen": a.prefixlen}
                                for a in by_index.get(v.lk.index, [])])
            out.append(d)
        return out
    return [f"{v.name:<16} {v.state:<14} "
            + "".join(f"{a.local}/{a.prefixlen} " for a in by_index.get(v.lk.index, []))
            for v in views]
