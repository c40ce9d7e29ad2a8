"""Route and neighbour faults agents meet, on the real kernel (measured on Linux 6.x with
NETLINK_EXT_ACK on; the lab's device is interface index 2, up, with IPv6 on):

* ``ipv6-route-nexthop``: an IPv6 route via a device whose ``disable_ipv6`` is 1 -> -13
  EACCES "IPv6 is disabled on nexthop device" (Kata, after skipping the IPv6 addresses).
* ``route-eexist``: the same IPv4 route twice -> -17 EEXIST, no extack (Kata #2712, #2843).
* ``route-gateway-offlink``: ``198.51.100.0/24 via 198.18.0.1 dev 2`` with no route to the
  gateway -> -101 ENETUNREACH "Nexthop has invalid gateway".
* ``route6-gateway-offlink``: the IPv6 form -> -113 EHOSTUNREACH, no extack.
* ``route-dev-down``: an IPv4 route on a device that is down -> -100 ENETDOWN "Device for
  nexthop is not up".
* ``neigh-dev-down``: a permanent neighbour on a device that is down is *accepted* (an ack):
  agents that wait for the link first need not, and a test that expects an error is wrong.
* ``ipv6-neigh-disabled-dev``: an IPv6 neighbour on a device with ``disable_ipv6=1`` -> -22
  EINVAL (not EACCES) "IPv6 is disabled on this device".

The requests are built here byte for byte as ``ip`` sends them (main table, proto boot).
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any

from ..codec import consts as C
from ..codec.neigh import NeighSpec
from ..codec.route import RouteSpec
from ..ops.link import set_link
from .scenario import Scenario

DEV_INDEX = 2
ROUTE_MSG = "IPv6 is disabled on nexthop device"
RTMSG = struct.Struct("=BBBBBBBBI")  # family dst_len src_len tos table protocol scope type flags
NDMSG = struct.Struct("=BBHiHBB")  # family pad pad ifindex state flags type
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
NDA_DST, NDA_LLADDR = 1, 2
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST, NUD_PERMANENT = 254, 3, 1, 0x80
NEIGH_LLADDR = "02:00:00:00:00:09"
_ADD = C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL


def _attr(atype: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), atype) + payload + bytes(-len(payload) % 4)


def _family(addr: str) -> int:
    return C.AF_INET6 if ":" in addr else C.AF_INET


def encode_route(dst: str, oif: int, gateway: str | None = None, seq: int = 0,
                 pid: int = 0) -> bytes:
    """RTM_NEWROUTE as ``ip route add DST [via GW] dev OIF`` sends it (add: CREATE|EXCL)."""
    net, _, plen = dst.partition("/")
    fam = _family(net)
    bits = 128 if fam == C.AF_INET6 else 32
    prefix = int(plen) if plen else bits
    if not 0 <= prefix <= bits:
        raise ValueError(f"invalid prefix length in {dst!r}")
    scope = C.RT_SCOPE_UNIVERSE if gateway or fam == C.AF_INET6 else C.RT_SCOPE_LINK
    body = RTMSG.pack(fam, prefix, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST, 0)
    body += _attr(RTA_DST, socket.inet_pton(fam, net))
    if gateway is not None:
        body += _attr(RTA_GATEWAY, socket.inet_pton(fam, gateway))
    body += _attr(RTA_OIF, struct.pack("=I", oif))
    return C.NLMSGHDR.pack(16 + len(body), C.RTM_NEWROUTE, _ADD, seq, pid) + body


def encode_route6(dst: str, oif: int, seq: int = 0, pid: int = 0) -> bytes:
    """RTM_NEWROUTE ``ip -6 route add DST dev OIF`` (main table, proto boot, unicast)."""
    if ":" not in dst:
        raise ValueError(f"invalid IPv6 prefix length in {dst!r}")
    return encode_route(dst, oif, None, seq, pid)


def encode_neigh(address: str, index: int, lladdr: str = NEIGH_LLADDR, seq: int = 0,
                 pid: int = 0) -> bytes:
    """RTM_NEWNEIGH as ``ip neigh add ADDR lladdr LL dev INDEX`` sends it (nud permanent)."""
    fam = _family(address)
    body = NDMSG.pack(fam, 0, 0, index, NUD_PERMANENT, 0, 0)
    body += _attr(NDA_DST, socket.inet_pton(fam, address))
    body += _attr(NDA_LLADDR, bytes.fromhex(lladdr.replace(":", "")))
    return C.NLMSGHDR.pack(16 + len(body), 28, _ADD, seq, pid) + body  # RTM_NEWNEIGH


def route_request(seq: int = 19, index: int = DEV_INDEX) -> bytes:
    """The ipv6-route-nexthop request: 2001:db8::/64 via device ``index``."""
    return encode_route6("2001:db8::/64", index, seq)


def _dev6_off(lab: Any) -> None:
    lab.disable_ipv6(lab.dev)


def _route_there(lab: Any) -> None:
    reply = lab.exchange(encode_route("198.51.100.0/24", DEV_INDEX, seq=1))
    if C.NLMSGHDR.unpack_from(reply, 0)[1] != C.NLMSG_ERROR or reply[16:20] != bytes(4):
        raise OSError(errno.EIO, "could not add the route the scenario repeats")


def _down(lab: Any) -> None:
    set_link(lab.conn, lab.index, up=False)


def _nothing(lab: Any) -> None:
    return None


ROUTE_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("ipv6-route-nexthop", "IPv6 route 2001:db8::/64 via a device with "
             "disable_ipv6=1", _dev6_off, route_request, -errno.EACCES, ROUTE_MSG,
             RouteSpec("2001:db8::/64", index=DEV_INDEX), ("kernel", "synthetic", "caps")),
    Scenario("route-eexist", "IPv4 route 198.51.100.0/24 dev index 2 added twice",
             _route_there, lambda seq: encode_route("198.51.100.0/24", DEV_INDEX, seq=seq),
             -errno.EEXIST, None, RouteSpec("198.51.100.0/24", index=DEV_INDEX),
             ("kernel", "synthetic"), "inet"),
    Scenario("route-gateway-offlink", "IPv4 route via 198.18.0.1, a gateway not on link",
             _nothing, lambda seq: encode_route("203.0.113.0/24", DEV_INDEX, "198.18.0.1",
                                                seq=seq),
             -errno.ENETUNREACH, "Nexthop has invalid gateway",
             RouteSpec("203.0.113.0/24", via="198.18.0.1", index=DEV_INDEX),
             ("kernel", "synthetic"), "inet"),
    Scenario("route6-gateway-offlink", "IPv6 route via 2001:db8:9::1, a gateway not on link",
             _nothing, lambda seq: encode_route("2001:db8:3::/64", DEV_INDEX, "2001:db8:9::1",
                                                seq=seq),
             -errno.EHOSTUNREACH, None,
             RouteSpec("2001:db8:3::/64", via="2001:db8:9::1", index=DEV_INDEX),
             ("kernel", "synthetic")),
    Scenario("route-dev-down", "IPv4 route on a device that is down", _down,
             lambda seq: encode_route("198.18.0.0/24", DEV_INDEX, seq=seq), -errno.ENETDOWN,
             "Device for nexthop is not up", RouteSpec("198.18.0.0/24", index=DEV_INDEX),
             ("kernel", "synthetic"), "inet"),
    Scenario("neigh-dev-down", "permanent IPv4 neighbour on a device that is down: accepted",
             _down, lambda seq: encode_neigh("192.0.2.9", DEV_INDEX, seq=seq), 0, None,
             NeighSpec("192.0.2.9", lladdr=NEIGH_LLADDR, index=DEV_INDEX),
             ("kernel", "synthetic"), "inet"),
    Scenario("ipv6-neigh-disabled-dev", "IPv6 neighbour on a device with disable_ipv6=1: "
             "EINVAL, not EACCES", _dev6_off,
             lambda seq: encode_neigh("2001:db8::9", DEV_INDEX, seq=seq), -errno.EINVAL,
             "IPv6 is disabled on this device",
             NeighSpec("2001:db8::9", lladdr=NEIGH_LLADDR, index=DEV_INDEX),
             ("kernel", "synthetic")),
)
