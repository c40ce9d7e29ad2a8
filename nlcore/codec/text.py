"""Messages as text and JSON: flag names, one-line request descriptions, ``ip monitor`` style."""

from __future__ import annotations

from typing import Any

from . import consts as C
from .errors import ParseError, errno_name

_GET_TYPES = {C.RTM_GETLINK, C.RTM_GETADDR, C.RTM_GETROUTE, C.RTM_GETNEIGH}
_NEW_TYPES = {C.RTM_NEWLINK, C.RTM_NEWADDR, C.RTM_NEWROUTE, C.RTM_SETLINK, C.RTM_NEWNEIGH}
_RT_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
             6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
_TABLES = {253: "default", 254: "main", 255: "local"}
_NUD = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE",
        0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT"}


def flag_names(mtype: int, flags: int, request: bool = True) -> list[str]:
    """The kernel header names of ``flags`` for a message of type ``mtype``.

    The high byte means different things per message: GET modifiers (NLM_F_ROOT...), NEW
    modifiers (NLM_F_REPLACE...), or, on NLMSG_ERROR, NLM_F_CAPPED / NLM_F_ACK_TLVS.
    Bits with no name come out as hex.
    """
    if mtype in (C.NLMSG_ERROR, C.NLMSG_DONE):
        high = C.NLM_F_ACKFLAGS
    elif mtype in _GET_TYPES and request:
        high = C.NLM_F_GET
    elif mtype in _NEW_TYPES and request:
        high = C.NLM_F_NEW
    else:
        high = {}
    names = []
    rest = flags
    for table in (C.NLM_F_COMMON, high):
        for bit, name in table.items():
            if flags & bit:
                names.append(name)
                rest &= ~bit
    if rest:
        names.append(f"{rest:#x}")
    return names


def _addr_text(m: Any) -> str:
    local = m.local or "?"
    return f"{local}/{m.prefixlen} dev index {m.index}"


def route_text(m: Any) -> str:
    """``198.51.100.0/24 via 192.0.2.1 dev index 3 table 100``: a RouteMsg as ip prints it."""
    words = [] if m.rtm_type in (0, 1) else [_RT_TYPES.get(m.rtm_type, str(m.rtm_type))]
    words.append(m.dst)
    if m.gateway:
        words.append(f"via {m.gateway}")
    if m.oif is not None:
        words.append(f"dev index {m.oif}")
    if m.table != C.RT_TABLE_MAIN:
        words.append(f"table {_TABLES.get(m.table, m.table)}")
    if m.priority is not None:
        words.append(f"metric {m.priority}")
    words += [f"nexthop via {nh.gateway} dev index {nh.ifindex} weight {nh.weight}"
              for nh in m.nexthops]
    return " ".join(words)


def neigh_text(m: Any) -> str:
    """``192.0.2.5 lladdr 02:00:00:00:00:05 dev index 3 PERMANENT``."""
    words = [m.dst or "?"]
    if m.lladdr:
        words.append(f"lladdr {m.lladdr}")
    words.append(f"dev index {m.index}")
    words += [n for b, n in sorted(_NUD.items()) if m.state & b]
    if m.ndm_flags & C.NTF_PROXY:
        words.append("proxy")
    if m.ndm_flags & C.NTF_ROUTER:
        words.append("router")
    return " ".join(words)


def describe(m: Any) -> str:
    """A one-line description: ``RTM_NEWADDR fe80::1/64 dev index 2``."""
    from .decode import AddrMsg, DoneMsg, ErrorMsg, LinkMsg, NeighMsg, RouteMsg

    name = m.type_name
    if isinstance(m, AddrMsg):
        return f"{name} {_addr_text(m)}"
    if isinstance(m, RouteMsg):
        return f"{name} {route_text(m)}"
    if isinstance(m, NeighMsg):
        return f"{name} {neigh_text(m)}"
    if isinstance(m, LinkMsg):
        what = m.ifname or f"index {m.index}"
        return f"{name} dev {what}"
    if isinstance(m, ErrorMsg):
        head = "ack" if m.error == 0 else f"error {m.error} ({errno_name(m.error)})"
        return f"{name} {head} for seq {m.header.seq}"
    if isinstance(m, DoneMsg):
        return f"{name} {m.error}"
    return str(name)


def describe_request(raw: bytes) -> str:
    """Describe request bytes (whole, or only the 16-byte echoed header) in one line."""
    from .decode import decode_one

    if len(raw) < C.NLMSG_HDRLEN:
        return ""
    n = int.from_bytes(raw[:4], "little")
    if n < C.NLMSG_HDRLEN or n > len(raw):
        mtype = int.from_bytes(raw[4:6], "little")
        return C.MSG_TYPE_NAMES.get(mtype, str(mtype))
    try:
        return describe(decode_one(raw, 0, n))
    except ParseError:
        mtype = int.from_bytes(raw[4:6], "little")
        return C.MSG_TYPE_NAMES.get(mtype, str(mtype))


def to_json(m: Any) -> dict[str, Any]:
    """The JSON form printed by ``nlcore decode -j`` (docs/json.md has the schema)."""
    from .decode import AddrMsg, DoneMsg, ErrorMsg, LinkMsg, NeighMsg, RouteMsg

    h = m.header
    is_request = bool(h.flags & C.NLM_F_REQUEST)
    # one schema (docs/json.md): a type without a name is an int, never its decimal string
    out: dict[str, Any] = {"type": C.MSG_TYPE_NAMES.get(h.type, h.type), "len": h.len,
                           "flags": flag_names(h.type, h.flags, is_request),
                           "seq": h.seq, "pid": h.pid}
    if isinstance(m, AddrMsg):
        out.update(family=C.FAMILY_NAMES.get(m.family, m.family), prefixlen=m.prefixlen,
                   ifa_flags=m.ifa_flags, scope=m.scope, index=m.index,
                   attrs=[a.to_json() for a in m.attrs])
        out["flag_names"] = [n for b, n in sorted(C.IFA_FLAG_NAMES.items()) if m.flags & b]
    elif isinstance(m, LinkMsg):
        out.update(family=m.family, ifi_type=m.ifi_type, index=m.index, ifi_flags=m.ifi_flags,
                   change=m.change, attrs=[a.to_json() for a in m.attrs])
    elif isinstance(m, RouteMsg):
        out.update(family=C.FAMILY_NAMES.get(m.family, m.family), dst_len=m.dst_len,
                   src_len=m.src_len, tos=m.tos, table=m.rtm_table, protocol=m.protocol,
                   scope=m.scope, rtm_type=_RT_TYPES.get(m.rtm_type, m.rtm_type),
                   rtm_flags=m.rtm_flags, attrs=[a.to_json() for a in m.attrs])
    elif isinstance(m, NeighMsg):
        out.update(family=C.FAMILY_NAMES.get(m.family, m.family), index=m.index,
                   state=m.state, ndm_flags=m.ndm_flags, ndm_type=m.ndm_type,
                   attrs=[a.to_json() for a in m.attrs])
        out["state_names"] = [n for b, n in sorted(_NUD.items()) if m.state & b]
    elif isinstance(m, (ErrorMsg, DoneMsg)):
        out["error"] = m.error
        out["errno"] = errno_name(m.error) if m.error else None
        if isinstance(m, ErrorMsg):
            out["capped"] = m.capped
            out["request"] = (to_json(m.request_msg) if m.request_msg is not None
                              else {"header": m.request.hex()})
        if m.extack is not None:
            out["extack"] = m.extack.to_json()
    else:
        out["payload"] = m.raw[C.NLMSG_HDRLEN:].hex()
    return out


def format_message(m: Any, indent: str = "") -> str:
    """Human-readable, ``ip monitor`` style, possibly several lines."""
    from .decode import AddrMsg, ErrorMsg, LinkMsg, NeighMsg, RouteMsg

    h = m.header
    flags = "|".join(flag_names(h.type, h.flags, bool(h.flags & C.NLM_F_REQUEST))) or "0"
    lines = [f"{indent}{m.type_name} len {h.len} flags {flags} seq {h.seq} pid {h.pid}"]
    if isinstance(m, AddrMsg):
        fam = C.FAMILY_NAMES.get(m.family, str(m.family))
        scope = C.SCOPE_NAMES.get(m.scope, str(m.scope))
        words = [n[6:].lower() for b, n in sorted(C.IFA_FLAG_NAMES.items()) if m.flags & b]
        lines.append(f"{indent}  {m.index}: {fam} {m.local}/{m.prefixlen} scope {scope}"
                     + (" " + " ".join(words) if words else ""))
        for a in m.attrs:
            lines.append(f"{indent}    {a.name or a.type} {_val(a.value)}")
    elif isinstance(m, LinkMsg):
        lines.append(f"{indent}  {m.index}: {m.ifname} flags {m.ifi_flags:#x} mtu {m.mtu}")
        lines += [f"{indent}    {a.name or a.type} {_val(a.value)}" for a in m.attrs]
    elif isinstance(m, (RouteMsg, NeighMsg)):
        lines.append(f"{indent}  " + (route_text(m) if isinstance(m, RouteMsg)
                                      else neigh_text(m)))
        lines += [f"{indent}    {a.name or a.type} {_val(a.value)}" for a in m.attrs]
    elif isinstance(m, ErrorMsg):
        if m.error:
            lines.append(f"{indent}  error {m.error} {errno_name(m.error)}"
                         f" ({'capped' if m.capped else 'request echoed'})")
        else:
            lines.append(f"{indent}  ack")
        if m.request_msg is not None:
            lines.append(format_message(m.request_msg, indent + "  request: "))
        else:
            lines.append(f"{indent}  request header: {m.request.hex()}")
    if getattr(m, "extack", None) is not None:
        for k, v in m.extack.to_json().items():
            lines.append(f"{indent}  extack {k}: {v}")
    return "\n".join(lines)


def _val(v: Any) -> str:
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, tuple):
        return "{" + ", ".join(f"{a.name or a.type}={_val(a.value)}" for a in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_val(x)}" for k, x in v.items()) + "}"
    return str(v)
