"""How two rtnetlink requests differ, decoded: header, fixed family header and attributes.

Used by replay to explain a request the trace does not hold: ``closest()`` picks the
recorded request with the fewest differences (same message type first) and ``differences()``
names them (``IFA_LOCAL 198.51.100.9 != 198.51.100.1``).
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Iterable, Sequence

from ..codec import consts as C
from ..codec.text import describe_request, flag_names

# fixed headers after nlmsghdr (include/uapi/linux/rtnetlink.h, if_addr.h, neighbour.h)
_IFINFO = ("family", "pad", "ifi_type", "index", "ifi_flags", "ifi_change"), struct.Struct(
    "=BBHiII")
_IFADDR = ("family", "prefixlen", "ifa_flags", "scope", "index"), struct.Struct("=BBBBI")
_RTMSG = ("family", "dst_len", "src_len", "tos", "table", "protocol", "scope", "rtm_type",
          "rtm_flags"), struct.Struct("=BBBBBBBBI")
_NDMSG = ("family", "pad1", "pad2", "ifindex", "ndm_state", "ndm_flags", "ndm_type"), \
    struct.Struct("=BBHiHBB")
_FIXED = {**{t: _IFINFO for t in range(16, 20)}, **{t: _IFADDR for t in range(20, 24)},
          **{t: _RTMSG for t in range(24, 28)}, **{t: _NDMSG for t in range(28, 32)}}
RTA_NAMES = {1: "RTA_DST", 2: "RTA_SRC", 3: "RTA_IIF", 4: "RTA_OIF", 5: "RTA_GATEWAY",
             6: "RTA_PRIORITY", 7: "RTA_PREFSRC", 8: "RTA_METRICS", 9: "RTA_MULTIPATH",
             12: "RTA_CACHEINFO", 15: "RTA_TABLE", 16: "RTA_MARK", 20: "RTA_PREF",
             21: "RTA_ENCAP_TYPE", 22: "RTA_ENCAP", 25: "RTA_UID", 27: "RTA_IP_PROTO",
             30: "RTA_NH_ID"}
NDA_NAMES = {1: "NDA_DST", 2: "NDA_LLADDR", 3: "NDA_CACHEINFO", 4: "NDA_PROBES",
             5: "NDA_VLAN", 6: "NDA_PORT", 7: "NDA_VNI", 8: "NDA_IFINDEX", 9: "NDA_MASTER",
             13: "NDA_PROTOCOL", 14: "NDA_NH_ID", 15: "NDA_FDB_EXT_ATTRS", 16: "NDA_FLAGS_EXT"}
_ADDRESSY = {("IFA", 1), ("IFA", 2), ("IFA", 4), ("IFA", 5), ("IFA", 7), ("RTA", 1),
             ("RTA", 2), ("RTA", 5), ("RTA", 7), ("NDA", 1)}
_STRINGY = {("IFA", 3), ("IFLA", 3), ("IFLA", 6), ("IFLA", 20)}


def _family_of(mtype: int) -> tuple[str, dict[int, str]]:
    if 16 <= mtype < 20:
        return "IFLA", C.IFLA_NAMES
    if 20 <= mtype < 24:
        return "IFA", C.IFA_NAMES
    if 24 <= mtype < 28:
        return "RTA", RTA_NAMES
    if 28 <= mtype < 32:
        return "NDA", NDA_NAMES
    return "", {}


def _value(prefix: str, atype: int, payload: bytes) -> str:
    if (prefix, atype) in _ADDRESSY and len(payload) in (4, 16):
        return str(ipaddress.ip_address(payload))
    if (prefix, atype) in _STRINGY:
        return repr(payload.rstrip(b"\0").decode(errors="replace"))
    if len(payload) == 4:
        return str(struct.unpack("=I", payload)[0])
    if len(payload) in (1, 2):
        return str(int.from_bytes(payload, "little"))
    return payload.hex() or "(empty)"


def fields(raw: bytes) -> dict[str, str]:
    """The request as ``{field: decoded value}`` (header, fixed header, top-level attrs)."""
    if len(raw) < C.NLMSG_HDRLEN:
        return {"bytes": raw.hex()}
    n, mtype, flags = struct.unpack_from("=IHH", raw, 0)
    raw = raw[:min(n, len(raw))]
    out = {"type": C.MSG_TYPE_NAMES.get(mtype, str(mtype)),
           "flags": "|".join(flag_names(mtype, flags)) or "0"}
    names, st = _FIXED.get(mtype, ((), None))
    pos = C.NLMSG_HDRLEN
    if st is not None and len(raw) >= pos + st.size:
        for name, v in zip(names, st.unpack_from(raw, pos)):
            if not name.startswith("pad"):
                out[name] = str(v)
        pos += st.size
    elif len(raw) > pos:
        out["payload"] = raw[pos:].hex()
        return out
    prefix, anames = _family_of(mtype)
    seen: dict[str, int] = {}
    while len(raw) - pos >= 4:
        alen, atype = struct.unpack_from("=HH", raw, pos)
        if alen < 4 or alen > len(raw) - pos:
            out["trailing"] = raw[pos:].hex()
            break
        t = atype & C.NLA_TYPE_MASK
        name = anames.get(t, f"{prefix or 'attr'} {t}")
        seen[name] = seen.get(name, 0) + 1
        key = name if seen[name] == 1 else f"{name}#{seen[name]}"
        out[key] = _value(prefix, t, raw[pos + 4:pos + alen])
        pos += C.align4(alen)
    return out


def differences(live: bytes, recorded: bytes) -> list[str]:
    """What differs, one phrase each: ``IFA_LOCAL 198.51.100.9 != 198.51.100.1 (recorded)``;
    seq and port id are never a difference."""
    a, b = fields(live), fields(recorded)
    out = []
    for key in list(dict.fromkeys([*a, *b])):
        if a.get(key) != b.get(key):
            out.append(f"{key} {a.get(key, '(absent)')} != {b.get(key, '(absent)')}")
    return out


def closest(live: bytes, candidates: Iterable[bytes]) -> tuple[bytes, list[str]] | None:
    """The candidate with the fewest differences (same type preferred), and them."""
    best: tuple[int, bytes, list[str]] | None = None
    mtype = live[4:6]
    for cand in candidates:
        diff = differences(live, cand)
        score = len(diff) + (0 if cand[4:6] == mtype else 1000)
        if best is None or score < best[0]:
            best = (score, cand, diff)
    return None if best is None else (best[1], best[2])


def explain_unknown(live: bytes, candidates: Sequence[bytes], used: int = 0) -> str:
    """The error text for a request the trace does not hold (``used``: how many recorded
    copies of this very request were already answered)."""
    head = f"request not in the trace: {describe_request(live) or live[:16].hex()}"
    if used:
        return (f"{head}: the trace holds it {used} time(s), all already answered "
                f"(this is occurrence {used + 1})")
    near = closest(live, candidates)
    if near is None:
        return f"{head}; the trace holds no request at all"
    cand, diff = near
    if cand[4:6] != live[4:6]:
        kinds: dict[str, int] = {}
        for c in candidates:
            name = fields(c)["type"]
            kinds[name] = kinds.get(name, 0) + 1
        held = ", ".join(f"{k} x{v}" for k, v in kinds.items())
        return (f"{head}; the trace holds no {fields(live)['type']} request (it holds "
                f"{held}); closest recorded: {describe_request(cand)}")
    return (f"{head}; closest recorded: {describe_request(cand)}; differs in: "
            + "; ".join(diff))
