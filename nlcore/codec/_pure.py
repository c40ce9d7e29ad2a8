"""Pure-Python twin of the native API (csrc/nlcore.h): same signatures, same results.

This is the reference: every native function has one here (or in the modules it gathers:
:mod:`._pure_addr` the address records, :mod:`._pure_acks` the ack walkers; the batch and
attribute-walk twins are :mod:`._pure_batch` and :mod:`._pure_tlv`), and the tests assert
identical bytes and identical exceptions over both. This module holds the socket side:
the batched receive and the one-request call.
"""

from __future__ import annotations

import errno as _errno
import os as _os
from array import array
from typing import TYPE_CHECKING, Callable

from ._pure_acks import acks_match, acks_scan
from ._pure_addr import (
    A_ADDRESS_FIRST,
    A_ALL,
    A_BRD_LATE,
    A_BROADCAST,
    A_CACHEINFO,
    A_LABEL,
    A_LOCAL,
    A_PEER,
    A_PRIORITY,
    A_PROTO,
    ADDR_REC,
    Buffer,
    WBuffer,
    addr_emit,
)
from .consts import NLMSG_HDRLEN
from .errors import SpecError

__all__ = [
    "A_ADDRESS_FIRST", "A_ALL", "A_BROADCAST", "A_BRD_LATE", "A_CACHEINFO", "A_LABEL",
    "A_LOCAL", "A_PEER", "A_PRIORITY", "A_PROTO", "ADDR_REC", "CALL_RX", "NAME", "Buffer",
    "WBuffer", "acks_match", "acks_scan", "addr_call", "addr_caller", "addr_emit",
    "sock_recv",
]

NAME = "pure"

if TYPE_CHECKING:
    import socket

_MSG_DONTWAIT = 0x40  # linux: MSG_DONTWAIT
_MSG_TRUNC = 0x20  # MSG_TRUNC


def sock_recv(sock: socket.socket, buf: WBuffer, room: int, max_dgrams: int,
              names: bool = True) -> tuple[int, int, int, int]:
    """Drain queued datagrams into ``buf`` back to back (see nlc_sock_recv; the sender is
    always checked here, as recvmsg returns it anyway, so ``names`` changes nothing).

    Returns ``(nbytes, foreign, truncated, overrun)``; raises BlockingIOError when nothing
    was queued, OSError for another failure of the first receive.
    """
    pos = got = foreign = truncated = overrun = overruns = 0
    view = memoryview(buf)
    cap = len(view)
    if cap < NLMSG_HDRLEN or max_dgrams < 1:  # never a 0 without a receive
        raise OSError(_errno.EINVAL, _os.strerror(_errno.EINVAL))
    room = min((max(room, NLMSG_HDRLEN) + 3) & ~3, cap & ~3)  # the first receive happens
    while got < max_dgrams and cap - pos >= room:
        try:
            n, _anc, flags, addr = sock.recvmsg_into([view[pos:]], 0, _MSG_DONTWAIT)
        except InterruptedError:
            continue
        except OSError as exc:
            if exc.errno == _errno.ENOBUFS and overruns < max_dgrams:
                overruns += 1
                overrun = 1
                continue
            if got == 0 and not overrun:
                raise
            break
        got += 1
        if (addr[0] if isinstance(addr, tuple) else 0) != 0:  # no name: as pid 0, like C
            foreign += 1
        elif flags & _MSG_TRUNC:
            truncated += 1
        else:
            pos = min(cap, pos + ((n + 3) & ~3))
    return pos, foreign, truncated, overrun


CALL_RX = 256  # NLC_CALL_RX


def addr_call(sock: socket.socket, buf: WBuffer, rec: Buffer, seq: int, status: array[int],
              pending: int) -> tuple[int, tuple[int, ...]]:
    """One request, one ack (see nlc_addr_call): emit, send, drain, match.

    Returns ``(bytes_received, out)`` with ``out`` as in csrc/nlcore.h. Raises SpecError for
    a bad record, ``OSError`` with ``out``-style stage in ``exc.args`` for a failed syscall
    (``exc.stage`` is "send" or "recv"), ParseError for malformed replies.
    """
    view = memoryview(buf)
    if len(view) < CALL_RX + 4096:
        raise SpecError(f"buffer of {len(view)} bytes is too small for addr_call")
    n, emitted = addr_emit(view[:CALL_RX], rec, seq, 0)
    if emitted != 1:
        raise SpecError("the record does not fit in one request")
    try:
        sent = sock.sendto(view[:n], (0, 0))
    except OSError as exc:
        exc.stage = "send"  # type: ignore[attr-defined]
        raise
    if sent != n:
        err = OSError(_errno.EMSGSIZE, "short send")
        err.stage = "send"  # type: ignore[attr-defined]
        raise err
    try:
        got, foreign, trunc, overrun = sock_recv(sock, view[CALL_RX:], 1 << 12, 64)
    except BlockingIOError:
        return 0, (0, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0)
    except OSError as exc:
        exc.stage = "recv"  # type: ignore[attr-defined]
        raise
    detail = array("I", [0])
    _stop, answered, outside, dups, nd = acks_match(view[CALL_RX:], got, seq, status, 1,
                                                    pending, detail)
    return got, (foreign, trunc, overrun, answered, outside, dups,
                 detail[0] if nd else 0xFFFFFFFF, 0)


def addr_caller(sock: socket.socket, buf: bytearray
                ) -> Callable[[Buffer, int, int], tuple[int, int, list[int]]]:
    """A prepared :func:`addr_call` on ``sock`` and ``buf``: ``call(rec, seq, pending)`` ->
    ``(bytes received, status, out)``."""
    def call(rec: Buffer, seq: int, pending: int) -> tuple[int, int, list[int]]:
        status = array("i", [pending])
        got, out = addr_call(sock, buf, rec, seq, status, pending)
        return got, status[0], list(out)

    return call
