"""One address request, one ack: the lean path (one native call on a real socket)."""

from __future__ import annotations

import errno as E
from typing import Callable, Sequence

from ..codec import _pure
from ..codec._backend import codec
from ..codec.errors import KernelError, TransportError
from ..codec.spec import AddrSpec
from ..net import log as _log
from ..net.conn import LOST, PENDING, AckWindow, Conn
from ..net.transport import NetlinkSocket
from .batches import Run, collect
from .errors import request_error
from .resolve import resolve_lost
from .results import NOT_SENT, AckLostError

CallResult = tuple[int, int, Sequence[int]]  # (bytes received, status, out counters)
Caller = Callable[[bytes, int, int], CallResult]
One = tuple[int, "KernelError | AckLostError | None", "str | None", set[int]]


def fast_ok(conn: Conn, spec: AddrSpec) -> tuple[int, CallResult | OSError] | None:
    """The native exchange of apply_one: None when it was a plain ack (the common case),
    else (seq, what came back) for :func:`one` to finish."""
    seq = conn.take_seqs(1)
    try:
        first: CallResult | OSError = caller(conn)(spec.record, seq, PENDING)
    except OSError as exc:
        first = exc
    if not isinstance(first, OSError) and first[1] == 0:
        out = first[2]
        if not (out[0] or out[1] or out[2] or out[4] or out[5]) and out[6] == 0xFFFFFFFF:
            if _log.log.isEnabledFor(_log.DEBUG):
                _log.log.debug("call %s seq %d: ack", spec.text(), seq)
            return None
    return seq, first


def one(c: Conn, spec: AddrSpec, seq: int | None = None,
        first: CallResult | OSError | None = None) -> One:
    """(status, error, reason, resolved) of one request; ``first`` is the outcome of an
    exchange already made for ``seq`` (see apply_one)."""
    win = AckWindow(c.take_seqs(1) if seq is None else seq, 1)
    try:
        if first is not None or type(c.transport) is NetlinkSocket:
            _call(c, spec, win, first)
        else:  # any other transport keeps the seam: plain send, then collect
            nbytes, _ = codec.addr_emit(c.obuf, spec.record, win.first_seq, 0)
            c.send(memoryview(c.obuf)[:nbytes])
    except TransportError as exc:
        return NOT_SENT, None, f"not sent: {exc}", set()
    lost: dict[int, str] = {}
    if win.pending:
        collect(c, win, 1, 0, lost)
    st = win.status[0]
    resolved: set[int] = set()
    errors: dict[int, KernelError | AckLostError] = {}
    if st == LOST:
        lost.setdefault(0, "ENOBUFS overrun")
        resolve_lost(c, [spec], [0], 1, win, lost, errors, resolved)
        st = win.status[0]
    err: KernelError | AckLostError | None = errors.get(0)
    if st < 0:
        run = Run(0, 1, spec.record)
        err = request_error(c, spec, win.replies.get(0), st, win.first_seq,
                            run.request(0, win.first_seq), {})
    return st, err, None, resolved


def _call(c: Conn, spec: AddrSpec, win: AckWindow,
          first: CallResult | OSError | None = None) -> None:
    """The native one-call exchange; leaves ``win`` as collect() would."""
    try:
        if first is None:
            first = caller(c)(spec.record, win.first_seq, PENDING)
        elif isinstance(first, OSError):
            raise first
    except OSError as exc:
        if isinstance(exc, TransportError):
            raise
        stage = getattr(exc, "stage", "recv")
        raise TransportError(stage if stage == "send" else "recv", exc.errno or E.EIO,
                             str(exc)) from None
    _got, status, out = first
    win.status[0] = status
    st = c.stats
    st.foreign += out[0]
    st.truncated += out[1]
    st.unknown_seq += out[4]
    st.duplicates += out[5]
    win.pending -= out[3]
    if out[6] != 0xFFFFFFFF:
        o = _pure.CALL_RX + out[6]
        buf = c.cbuf
        win.replies[0] = bytes(buf[o:o + int.from_bytes(buf[o:o + 4], "little")])
    if out[2] or out[1]:
        st.overruns += 1 if out[2] else 0
        if win.pending:
            win.mark_lost(1)


def caller(c: Conn) -> Caller:
    """The Conn's prepared native caller (made on first use, dropped by close())."""
    c.check_open()
    call = c.caller
    if call is None:
        call = c.caller = codec.addr_caller(c.transport.sock, c.cbuf)  # type: ignore
    return call


__all__ = ["caller", "fast_ok", "one"]
