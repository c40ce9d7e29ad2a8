"""The KernelError of a failed request: details decoded lazily from the kept reply, the
device named, and the IPv6-disabled hint where it applies."""

from __future__ import annotations

import errno as E
from functools import partial
from typing import Any

from ..codec.decode import ErrorMsg, decode
from ..codec.errors import KernelError, NlcoreError, ParseError, kernel_error
from ..codec.values import Extack
from ..codec.wire import error_of
from ..net.conn import Conn
from .kinds import ipv6_devices
from .link import Ipv6State, ipv6_state


def error_for(st: int, seq: int, raw: bytes | None, request: bytes | None,
              dev: tuple[int, str] | None = None) -> KernelError:
    """The KernelError for status ``st`` (a negative errno) of request ``seq``; its details
    (request text, extack with the attribute its offset points at) are decoded from the
    kept reply ``raw`` and the original ``request`` only when first read. ``dev`` (index,
    name) names the device in the request text."""
    return kernel_error(-st, seq=seq, detail=partial(_detail, st, seq, raw, request, dev))


def _detail(st: int, seq: int, raw: bytes | None, request: bytes | None,
            dev: tuple[int, str] | None) -> tuple[bytes, str, Extack | None, bool]:
    from ..codec.text import describe_request

    known = {seq: request} if request is not None else None
    err: KernelError | None = None
    if raw is not None:
        try:
            (m,) = decode(raw, known)
        except ParseError:  # kept replies passed the scan; a bad extack TLV stays unread
            m = None
        if isinstance(m, ErrorMsg):
            err = error_of(m, known)
    if err is not None:
        out = (err.request, err.request_text, err.extack, err.capped)
    else:
        req = request or b""
        try:
            text = describe_request(req) if req else ""
        except ParseError:
            text = ""
        out = (req, text, None, False)
    if dev is not None:
        out = (out[0], out[1].replace(f"dev index {dev[0]}", f"dev {dev[1]}"), out[2], out[3])
    return out


def request_error(c: Conn, spec: Any, raw: bytes | None, st: int, seq: int, request: bytes,
                  states: dict[int, Ipv6State]) -> KernelError:
    """The KernelError of a failed request, with the IPv6-disabled hint where it applies."""
    dev = getattr(spec, "dev", None)
    err = error_for(st, seq, raw, request, (spec.index, dev) if dev else None)
    # EACCES (addresses, routes) or EINVAL (neighbours) from a device with IPv6 disabled
    for index in ipv6_devices(spec) if st in (-E.EACCES, -E.EINVAL) else ():
        st6 = states.get(index)
        if st6 is None:
            try:
                st6 = states[index] = ipv6_state(c, index)
            except NlcoreError:  # the hint is best effort; the error itself stands
                st6 = None
        if st6 is not None and st6.blocked:
            err.hint = st6.reason()
            break
    return err
