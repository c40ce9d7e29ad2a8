"""The causes we know for a netlink error, as ``nlcore decode`` prints them after the error.

:func:`diagnose` takes the errno, the request (its type, family and interface index from the
echoed header or the whole echo) and the extack message, and returns lines of advice: what
the kernel most likely meant, what to check, how to reproduce it. An errno we know nothing
specific about gets one generic line; the function never guesses past what the bytes say.
"""

from __future__ import annotations

import errno as E
import struct
from dataclasses import dataclass

from ..codec import consts as C

_ADDR = (C.RTM_NEWADDR, C.RTM_DELADDR)
_ROUTE = (C.RTM_NEWROUTE, C.RTM_DELROUTE)


@dataclass
class Request:
    """What the echoed request says about itself (None: the echo did not reach that far)."""

    type: int | None = None
    family: int | None = None
    index: int | None = None
    flags: int = 0


def request_of(echo: bytes) -> Request:
    """Type, flags, family and ifindex from an echoed request (header, or whole)."""
    if len(echo) < C.NLMSG_HDRLEN:
        return Request()
    _, tp, flags = struct.unpack_from("=IHH", echo)
    r = Request(tp, flags=flags)
    if len(echo) >= 17 and (tp in _ADDR or tp in _ROUTE or tp == C.RTM_NEWLINK):
        r.family = echo[16]
    if len(echo) >= 24 and tp in _ADDR:
        r.index = struct.unpack_from("=I", echo, 20)[0]
    elif len(echo) >= 24 and tp in (C.RTM_NEWLINK, C.RTM_SETLINK, C.RTM_DELLINK):
        r.index = struct.unpack_from("=i", echo, 20)[0]
    return r


def _dev(r: Request) -> str:
    return f"the device with index {r.index}" if r.index else "the device"


def _eacces(r: Request, msg: str | None) -> list[str]:
    if r.family == C.AF_INET6 and (r.type in _ADDR or r.type in _ROUTE):
        what = "address" if r.type in _ADDR else "route"
        return [f"IPv6 is disabled on {_dev(r)}, so the kernel refuses an IPv6 {what} "
                f"(the Kata agent's kata-containers#11200).",
                "check: sysctl net.ipv6.conf.DEV.disable_ipv6 (1 = disabled; also .all and "
                ".default), e.g. `ip -o link | grep '^"
                + (f"{r.index}:" if r.index else "N:") + "'` names DEV",
                "fix: sysctl -w net.ipv6.conf.DEV.disable_ipv6=0 before adding IPv6, or skip "
                "IPv6 there (apply(..., ipv6_disabled=\"skip\"))",
                "reproduce: .venv/bin/nlcore repro kata-11200"]
    return ["permission denied by a policy check (not a capability): an LSM, or a sysctl that "
            "forbids this change" + (f"; the kernel says: {msg}" if msg else "")]


def _eexist(r: Request, msg: str | None) -> list[str]:
    what = "address" if r.type in _ADDR else "route" if r.type in _ROUTE else "object"
    excl = " (the request set NLM_F_EXCL: create only)" if r.flags & 0x200 else ""
    return [f"the {what} already exists{excl}.",
            "fix: treat it as done (apply(..., exist_ok=True)), or send a replace "
            "(NLM_F_REPLACE: `nlcore addr replace ...`)"]


def _enodev(r: Request, msg: str | None) -> list[str]:
    return [f"no device with index {r.index} in the namespace the request went to"
            if r.index else "no such device in the namespace the request went to",
            "check: the device was deleted or renamed, or the socket is in another network "
            "namespace (ip -n NS link; nlcore -n NS addr show)"]


def _eperm(r: Request, msg: str | None) -> list[str]:
    return ["the sender lacks CAP_NET_ADMIN in the user namespace that owns this network "
            "namespace.",
            "check: grep Cap /proc/PID/status (CapEff must include cap_net_admin, bit 12); in a "
            "container, its capability set; run as root or grant the capability",
            "reproduce: .venv/bin/nlcore repro --list (the caps layer drops it per thread)"]


def _eaddrnotavail(r: Request, msg: str | None) -> list[str]:
    if r.type == C.RTM_DELADDR:
        return ["the address is not on that device (already removed?).",
                "fix: apply(..., missing_ok=True) treats a delete of an absent address as done"]
    return ["the address is not available here: a route's preferred source (prefsrc) or a "
            "local address that no device in this namespace holds"]


def _enetunreach(r: Request, msg: str | None) -> list[str]:
    return ["the route's gateway is not reachable through any route of this table.",
            "fix: add the connected route (the gateway's subnet) first, or mark the "
            "gateway onlink"]


def _einval(r: Request, msg: str | None) -> list[str]:
    if msg:
        return [f"the kernel rejected a value: {msg}"]
    return ["the kernel rejected a value without saying which: request extended acks "
            "(NETLINK_EXT_ACK, on by default in nlcore and ip) to get the message and the "
            "attribute"]


_KNOWN = {E.EACCES: _eacces, E.EEXIST: _eexist, E.ENODEV: _enodev, E.EPERM: _eperm,
          E.EADDRNOTAVAIL: _eaddrnotavail, E.ENETUNREACH: _enetunreach, E.EINVAL: _einval}
_SHORT = {
    E.EOPNOTSUPP: "the kernel does not support this operation or attribute here (a missing "
                  "module or a too-old kernel)",
    E.EAFNOSUPPORT: "the address family is not available: IPv6 disabled at boot "
                    "(ipv6.disable=1) or not built",
    E.ENOBUFS: "a receive buffer overflowed: replies were lost; raise the socket's rcvbuf "
               "or send fewer requests at once",
    E.ERANGE: "a value is out of range (e.g. prefix length or MTU)",
    E.EBUSY: "the object is in use (e.g. a device that must be down first)",
    E.ENOENT: "no such object (address, route or table)",
    E.ESRCH: "no such object (route or neighbour)",
}


def diagnose(errno: int, echo: bytes, msg: str | None = None) -> list[str]:
    """Advice lines for a kernel refusal of ``echo`` with ``errno`` (positive)."""
    r = request_of(echo)
    fn = _KNOWN.get(errno)
    if fn is not None:
        return fn(r, msg)
    if errno in _SHORT:
        return [_SHORT[errno] + (f"; the kernel says: {msg}" if msg else "")]
    return [f"no known cause for {E.errorcode.get(errno, errno)} here"
            + (f"; the kernel says: {msg}" if msg else "")]
