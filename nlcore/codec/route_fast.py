"""RouteSpec's fast constructor: the common route (dst, op, via of the route's family,
dev/index, metric) packed in one step, byte for byte what the full encoder in
:mod:`.route` makes (tests/test_route_fast.py); anything else goes to the full path."""

from __future__ import annotations

import builtins
import socket
import struct

from . import consts as C
from .route_words import OPS
from .specbase import check_dev

_TYPE = builtins.type
_PTON = socket.inet_pton
_AF4, _AF6 = socket.AF_INET, socket.AF_INET6
_RTA_DST, _RTA_OIF, _RTA_GATEWAY, _RTA_PRIORITY = 1, 4, 5, 6  # tables.RTA (test_route_fast)
_HEAD = struct.Struct("=IHHIIBBBBBBBBI")  # nlmsghdr + rtmsg
_A4, _A16 = struct.pack("=HH", 8, _RTA_DST), struct.pack("=HH", 20, _RTA_DST)
_G4, _G16 = struct.pack("=HH", 8, _RTA_GATEWAY), struct.pack("=HH", 20, _RTA_GATEWAY)
_U32 = struct.Struct("=HHI")
_DEVS_OK: set[str] = set()  # device names check_dev passed (bounded)
_PLEN4 = {str(i): i for i in range(33)}
_PLEN6 = {str(i): i for i in range(129)}


def fast(dst: str, op: str, family: int, via: str | None, dev: str | None, index: int,
          metric: int | None) -> tuple[bytes, int] | None:
    """(request, family) of the common route, or None for the full path to decide."""
    try:
        mtype, flags = OPS[op]
        addr, sep, plen_s = dst.partition("/")
        if ":" in addr:
            fam, raw, dhead = C.AF_INET6, _PTON(_AF6, addr), _A16
            plen = _PLEN6[plen_s] if sep else 128
        else:
            fam, raw, dhead = C.AF_INET, _PTON(_AF4, addr), _A4
            plen = _PLEN4[plen_s] if sep else 32
        if family and family != fam:
            return None
        body = dhead + raw
        if via is not None:
            if _TYPE(via) is not str or (":" in via) != (fam == C.AF_INET6):
                return None
            body += (_G16 if fam == C.AF_INET6 else _G4) + _PTON(
                _AF6 if fam == C.AF_INET6 else _AF4, via)
        if metric is not None:
            if _TYPE(metric) is not int or not 0 <= metric <= 0xFFFFFFFF:
                return None
            body += _U32.pack(8, _RTA_PRIORITY, metric)
        if not 0 <= index <= 0x7FFFFFFF:
            return None
        if dev is not None or index:
            if dev is not None and dev not in _DEVS_OK:
                check_dev(dev)
                if len(_DEVS_OK) < 4096:
                    _DEVS_OK.add(dev)
            body += _U32.pack(8, _RTA_OIF, index)
    except (LookupError, TypeError, ValueError, OSError):
        return None
    delete = mtype == C.RTM_DELROUTE
    if fam == C.AF_INET6:
        scope = C.RT_SCOPE_UNIVERSE
    else:
        scope = C.RT_SCOPE_NOWHERE if delete else \
            C.RT_SCOPE_LINK if via is None else C.RT_SCOPE_UNIVERSE
    head = _HEAD.pack(28 + len(body), mtype, flags, 0, 0, fam, plen, 0, 0, C.RT_TABLE_MAIN,
                      0 if delete else C.RTPROT_BOOT, scope, 0 if delete else C.RTN_UNICAST, 0)
    return head + body, fam
