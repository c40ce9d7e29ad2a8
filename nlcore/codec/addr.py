"""Addresses through the tables: the declaration-driven twin of the address fast path.

The fast path (csrc/wire.c ``nlc_addr_emit`` and its pure twin ``_pure_addr.addr_emit``) emits
``struct nlc_addr`` records with hand-ordered code; :func:`addr_message` builds the same
message from the same record with the generic encoder over :data:`tables.IFA`.
tests/test_codec_tables.py asserts with hypothesis that all three agree byte for byte (and
refuse the same invalid records), so the fast path stays an optimisation of the declaration,
never a second definition of the address message.
"""

from __future__ import annotations

import struct
from typing import Any

from . import _pure_addr as P
from .attrs import encode, nlmsg
from .consts import AF_INET, AF_INET6, RTM_DELADDR, RTM_NEWADDR
from .errors import SpecError
from .tables import IFA, IFADDRMSG


def addr_items(rec: bytes) -> tuple[tuple[Any, ...], list[tuple[str, Any]]]:
    """(ifaddrmsg fields, IFA_* attribute pairs in iproute2's order) of one packed record;
    SpecError for a record the fast path would refuse."""
    (tp, nlflags, family, plen, scope, proto, index, ifa_flags, present, prio, valid, pref,
     local, address, brd, label) = P.ADDR_REC.unpack(rec)
    alen = {AF_INET: 4, AF_INET6: 16}.get(family, 0)
    if (tp not in (RTM_NEWADDR, RTM_DELADDR) or present & ~P.A_ALL or not alen
            or plen > alen * 8 or not present & (P.A_LOCAL | P.A_PEER)
            or (present & P.A_LABEL and b"\0" not in label)):
        raise SpecError("invalid address record")
    loc, peer, bcast = local[:alen], address[:alen], brd[:alen]
    has = present.__and__
    items: list[tuple[str, Any]] = []
    if has(P.A_ADDRESS_FIRST):
        items.append(("IFA_ADDRESS", peer if has(P.A_PEER) else loc))
        items += [("IFA_LOCAL", loc)] if has(P.A_LOCAL) else []
    else:
        items += [("IFA_LOCAL", loc)] if has(P.A_LOCAL) else []
        items += [("IFA_ADDRESS", peer)] if has(P.A_PEER) else []
    if has(P.A_BROADCAST) and not has(P.A_BRD_LATE):
        items.append(("IFA_BROADCAST", bcast))
    if has(P.A_LABEL):
        items.append(("IFA_LABEL", label[:label.index(b"\0") + 1]))
    items += [("IFA_RT_PRIORITY", prio)] if has(P.A_PRIORITY) else []
    items += [("IFA_PROTO", proto)] if has(P.A_PROTO) else []
    if ifa_flags > 0xFF:
        items.append(("IFA_FLAGS", ifa_flags))
    if has(P.A_LOCAL) and not has(P.A_PEER | P.A_ADDRESS_FIRST):
        items.append(("IFA_ADDRESS", loc))
    if has(P.A_BROADCAST) and has(P.A_BRD_LATE):
        items.append(("IFA_BROADCAST", bcast))
    if has(P.A_CACHEINFO):
        items.append(("IFA_CACHEINFO", struct.pack("=IIII", pref, valid, 0, 0)))
    header = (tp, nlflags, family, plen, 0 if ifa_flags > 0xFF else ifa_flags, scope, index)
    return header, items


def addr_message(rec: bytes, seq: int = 0, pid: int = 0) -> bytes:
    """The RTM_NEWADDR / RTM_DELADDR of one ``struct nlc_addr`` record, from the tables."""
    (tp, nlflags, family, plen, hflags, scope, index), items = addr_items(rec)
    body = IFADDRMSG.layout.pack(family, plen, hflags, scope, index) + encode(IFA, items)
    return nlmsg(tp, nlflags, body, seq, pid)
