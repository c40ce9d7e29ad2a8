"""``ip route get`` words -> the RTM_GETROUTE ``ip`` sends (one route lookup, answered by an
RTM_NEWROUTE: the route the kernel would use, or the FIB entry with ``fibmatch``)."""

from __future__ import annotations

from typing import Any

from .consts import AF_INET, AF_INET6
from .iproute_words import (
    CommandError,
    Words,
    duparg2,
    get_addr,
    get_unsigned,
    invarg,
    matches,
    unsupported,
)

RTM_F_LOOKUP_TABLE, RTM_F_FIB_MATCH = 0x1000, 0x2000


def route_get_request(args: list[str], family: int = 0
                      ) -> tuple[int, str, str | None, str | None, int | None, bool]:
    """The words of ``ip route get`` -> (family, dst, src, dev, mark, fibmatch)."""
    dst = src = dev = None
    mark: int | None = None
    fib = False
    w = Words(args)
    for word in w:
        if word == "from":
            fam, src = get_addr(w.next(), family)
            family = family or fam
        elif word in ("oif", "dev"):
            dev = w.next()
        elif word == "mark":
            v = w.next()
            mark = get_unsigned(v)
            if mark is None:
                raise invarg('invalid mark value', v)
        elif word == "fibmatch":
            fib = True
        elif word in ("iif", "tos", "dsfield", "vrf", "uid", "ipproto", "sport", "dport",
                      "connected", "as") or matches(word, "dsfield"):
            raise unsupported("route get", word)
        else:
            if word == "to":
                word = w.next()
            if dst is not None:
                raise duparg2("to", word)
            fam, dst = get_addr(word, family)
            family = family or fam
    if dst is None or dst == "default":
        raise CommandError("need at least a destination address", bare=True)
    return family or AF_INET, dst, src, dev, mark, fib


def encode_route_get(family: int, dst: str, src: str | None = None, oif: int = 0,
                     mark: int | None = None, fibmatch: bool = False) -> bytes:
    """RTM_GETROUTE (NLM_F_REQUEST, no ack: the answer is an RTM_NEWROUTE) as ``ip route
    get`` sends it: rtm_dst_len full, RTM_F_LOOKUP_TABLE (and RTM_F_FIB_MATCH)."""
    import socket

    from .attrs import encode, nlmsg
    from .consts import NLM_F_REQUEST, RTM_GETROUTE
    from .tables import RTA, RTMSG

    fam = socket.AF_INET6 if family == AF_INET6 else socket.AF_INET
    bits = 128 if family == AF_INET6 else 32
    items: list[tuple[str, Any]] = [("RTA_DST", socket.inet_pton(fam, dst))]
    if src is not None:
        items.append(("RTA_SRC", socket.inet_pton(fam, src)))
    if oif:
        items.append(("RTA_OIF", oif))
    if mark is not None:
        items.append(("RTA_MARK", mark))
    # only IPv4 takes RTM_F_LOOKUP_TABLE (iproute2 sets it for AF_INET alone)
    flags = (RTM_F_LOOKUP_TABLE if family == AF_INET else 0) | (RTM_F_FIB_MATCH if fibmatch else 0)
    head = RTMSG.layout.pack(family, bits, bits if src else 0, 0, 0, 0, 0, 0, flags)
    return nlmsg(RTM_GETROUTE, NLM_F_REQUEST, head + encode(RTA, items))
