"""A kernel with one device, for tests and demos with no kernel at all: :func:`fake_kernel`
is a :class:`~nlcore.net.fake.FakeTransport` handler that describes a device (its index,
name, MTU and IPv6 state) and acks the rest, so the apply engine's link look-ups and its IPv6
policies work unprivileged."""

from __future__ import annotations

from typing import Callable

from ..codec import consts as C
from ..codec.wire import encode_error_reply
from ..net.fake import Reply


def _link_reply(request: bytes, index: int, name: str, mtu: int,
                disable_ipv6: bool | None) -> bytes:
    """RTM_NEWLINK for a device, its IPv6 devconf holding ``disable_ipv6`` (None: no IPv6)."""
    seq = C.NLMSGHDR.unpack_from(request, 0)[3]
    raw = name.encode() + b"\0"
    body = C.IFINFOMSG.pack(0, 1, index, C.IFF_UP | C.IFF_BROADCAST | C.IFF_MULTICAST, 0)
    body += C.NLATTR.pack(4 + len(raw), C.IFLA_IFNAME) + raw + bytes(-len(raw) % 4)
    body += C.NLATTR.pack(8, C.IFLA_MTU) + mtu.to_bytes(4, "little")
    if disable_ipv6 is not None:
        conf = bytearray(4 * 27)
        conf[4 * 26] = int(disable_ipv6)  # DEVCONF_DISABLE_IPV6
        inet6 = C.NLATTR.pack(4 + len(conf), 2) + conf  # IFLA_INET6_CONF
        af = C.NLATTR.pack(4 + len(inet6), C.AF_INET6) + inet6
        body += C.NLATTR.pack(4 + len(af), 26) + af  # IFLA_AF_SPEC
    return C.NLMSGHDR.pack(16 + len(body), C.RTM_NEWLINK, 0, seq, 0) + body


def fake_kernel(*, name: str = "v1", mtu: int = 1500, disable_ipv6: bool | None = False
                ) -> Callable[[bytes], list[Reply]]:
    """A FakeTransport handler: every RTM_GETLINK is answered with one device (asked-for
    index, ``name``, ``mtu``, ``disable_ipv6``; None means no IPv6 state, as with MTU < 1280),
    dumps end with an empty NLMSG_DONE, and every other request is acked when it asks."""

    def handler(request: bytes) -> list[Reply]:
        _n, tp, flags, seq, _p = C.NLMSGHDR.unpack_from(request, 0)
        dump = flags & C.NLM_F_DUMP == C.NLM_F_DUMP
        if tp == C.RTM_GETLINK:
            index = C.IFINFOMSG.unpack_from(request, 16)[2] if len(request) >= 32 else 0
            link = _link_reply(request, index or 2, name, mtu, disable_ipv6)
            if not dump:
                return [link]
            done = C.NLMSGHDR.pack(20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, 0) + bytes(4)
            return [link, done]
        if dump:
            return [C.NLMSGHDR.pack(20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, 0) + bytes(4)]
        if flags & C.NLM_F_ACK:
            return [encode_error_reply(request, 0, 0)]
        return []

    return handler


__all__ = ["fake_kernel"]
