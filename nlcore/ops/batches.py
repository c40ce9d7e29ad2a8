"""Send a run of requests in batches and collect their acks in a window.

Requests come as runs of one form: address records (emitted by ``codec.addr_emit``) or
pre-encoded messages (copied by ``codec.msgs_copy`` with nlmsg_seq patched); a batch may span
runs. Each batch goes out in one syscall. With ``ack_last`` (``acks="errors"``) one native
pass leaves NLM_F_ACK only on the last message of the batch.
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from itertools import accumulate
from operator import attrgetter, sub
from typing import AbstractSet as Set
from typing import Any, Sequence

from ..codec import _cffi_window
from ..codec._backend import codec
from ..codec.errors import BufferOverrunError, ParseError, SpecError, TransportError
from ..codec.spec import AddrSpec
from ..codec.wire import MAX_ADDR_MSG
from ..net import log as _log
from ..net.conn import LOST, PENDING, AckWindow, Conn, ReplyTruncatedError
from ..net.transport import NetlinkSocket

_logging = _log.log.isEnabledFor

REC = AddrSpec.RECORD_SIZE
_RECORD = attrgetter("record")
_MESSAGE = attrgetter("message")


@dataclass
class Run:
    """Requests ``start..end-1`` of the window, all records or all messages: ``blob`` holds
    them back to back, ``offs`` (messages) the byte offset of each (and the end)."""

    start: int
    end: int
    blob: bytes
    offs: Sequence[int] | None = None
    biggest: int = 0  # the largest message's size (messages)

    def request(self, j: int, seq: int) -> bytes:
        """Request ``j`` (window index) as sent with ``seq``."""
        buf = bytearray(self.size(j))
        n = emit_range(self, buf, j, j + 1, seq, False)[0]
        return bytes(buf[:n])

    def size(self, j: int) -> int:
        """Room needed for request ``j``."""
        if self.offs is None:
            return MAX_ADDR_MSG
        return self.offs[j - self.start + 1] - self.offs[j - self.start]


def make_runs(specs: Sequence[Any], types: Set[type] | None = None) -> list[Run]:
    """Split ``specs`` (already resolved) into runs of records and runs of messages;
    ``types``: the set of their types when the caller has it (one pass saved)."""
    n = len(specs)
    if types is None and n:
        types = set(map(type, specs))
    if n and types == {AddrSpec}:  # one run, packed with no Python per spec
        return [Run(0, n, b"".join(map(_RECORD, specs)))]
    if n and types is not None and len(types) == 1 and not hasattr(specs[0], "record"):
        return [_message_run(0, n, specs)]  # one kind of message: no Python per spec
    runs: list[Run] = []
    i = 0
    while i < n:
        rec = hasattr(specs[i], "record")
        j = i + 1
        while j < n and hasattr(specs[j], "record") == rec:
            j += 1
        part = specs[i:j]
        if rec:
            runs.append(Run(i, j, b"".join(map(_RECORD, part))))
        else:
            runs.append(_message_run(i, j, part))
        i = j
    return runs


def bulk_run(bulk: Any) -> Run:
    """The one run of a bulk input, sent as it is: its address records (AddrBulk) or its
    messages with their offsets (RouteBulk)."""
    records = getattr(bulk, "records", None)
    if records is not None:
        return Run(0, len(bulk), records)
    run = Run(0, len(bulk), bulk.messages, bulk.offsets)
    run.biggest = bulk.biggest
    return run


def _message_run(i: int, j: int, part: Sequence[Any]) -> Run:
    """A run of pre-encoded messages: joined, then indexed by one native walk (no Python
    per message) when every length is a multiple of 4, as RouteSpec's, NeighSpec's and
    LinkSpec's always are; otherwise each is padded to 4 bytes here."""
    blob = b"".join(map(_MESSAGE, part))
    index = codec.msgs_index(blob, j - i)
    if index is not None:
        run = Run(i, j, blob, index[0])
        run.biggest = index[1]
        return run
    msgs = [m + bytes(-len(m) % 4) for m in map(_MESSAGE, part)]
    lens = list(map(len, msgs))
    run = Run(i, j, b"".join(msgs), [0, *accumulate(lens)])
    run.biggest = max(lens, default=0)
    return run


def emit_range(run: Run, view: Any, a: int, b: int, seq: int,
               _ack_last: bool) -> tuple[int, int]:
    """Emit requests a..b-1 of ``run`` into ``view`` (seq of request a = ``seq``);
    returns (bytes, requests) written."""
    if run.offs is None:
        lo, hi = (a - run.start) * REC, (b - run.start) * REC
        return codec.addr_emit(view, memoryview(run.blob)[lo:hi], seq, 0)
    lo, hi = run.offs[a - run.start], run.offs[b - run.start]
    nbytes, _used, k = codec.msgs_copy(view, memoryview(run.blob)[lo:hi], b - a, seq)
    return nbytes, k


def room(runs: list[Run], batch: int) -> int:
    """Bytes of send buffer for ``batch`` requests of the largest kind."""
    big = MAX_ADDR_MSG
    for r in runs:
        if r.offs is not None:
            big = max(big, r.biggest or max(map(sub, r.offs[1:], r.offs), default=0))
    return big * batch


def run_window(c: Conn, win: AckWindow, runs: list[Run], batch: int, window: int,
               lost: dict[int, str]) -> tuple[int, TransportError | None]:
    """Send every request in batches; returns (requests sent, the error that stopped it).
    ``lost`` gets window index -> cause for every request whose ack was lost. On a kernel
    socket with the native backend one run is sent by the native loop, which hands back
    only what needs this one (a failure, an empty queue, a send error)."""
    view = memoryview(bytearray(room(runs, batch)))
    window = max(window, batch)
    sent = 0
    if len(runs) == 1 and codec.window_run is not None and \
            type(c.transport) is NetlinkSocket and not _logging(10):
        sent, failure, finished = _native_window(c, win, runs[0], view, batch, window, lost)
        if finished:
            return sent, failure
    r = next((i for i, run in enumerate(runs) if run.start <= sent < run.end), len(runs))
    while sent < win.count:
        k = min(batch, win.count - sent)
        nbytes = done = 0
        while done < k:  # the batch may span runs
            run, a = runs[r], sent + done
            b = min(run.end, sent + k)
            n, m = emit_range(run, view[nbytes:], a, b, win.first_seq + a, False)
            nbytes += n
            done += m
            if a + m >= run.end:
                r += 1
            if m < b - a:
                break  # the buffer is full
        if not done:
            raise SpecError(f"request {sent} does not fit a send buffer of {len(view)} bytes")
        if win.ack_last:
            codec.msgs_acks(view, nbytes)
        try:
            c.send(view[:nbytes])
        except TransportError as exc:
            collect(c, win, sent, win.count - sent, lost)
            return sent, exc
        win.sent_batch(sent, sent + done)
        sent += done
        # netlink is synchronous: the acks of all that was sent are queued by now
        collect(c, win, sent, _target(win.count - sent, batch, window), lost)
    return sent, None


def _target(unsent: int, batch: int, window: int) -> int:
    """How many requests may stay pending (unsent ones count) after a batch: at most
    ``window - batch`` unanswered while more remain, none at the end (csrc/window.c keeps
    the same rule)."""
    return unsent + (window - batch if unsent else 0)


QUOTA = 4096  # requests per native call: signal handlers run between calls (~10 ms apart)
_W = {name: i for i, name in enumerate(_cffi_window.FIELDS)}
_PEND, _SENT, _SETTLED, _STOP, _ERR = (_W[k] for k in ("pending", "sent", "settled", "stop",
                                                      "err"))
_RLEN, _FOREIGN, _IMPLICIT = _W["rlen"], _W["foreign"], _W["implicit"]
_DONE, _SEND, _RECV, _WAIT, _QUOTA, _EMIT = map(_cffi_window.STOPS.index,
                                                ("DONE", "SEND", "RECV", "WAIT", "QUOTA",
                                                 "EMIT"))


def _native_window(c: Conn, win: AckWindow, run: Run, view: memoryview, batch: int,
                   window: int, lost: dict[int, str]
                   ) -> tuple[int, TransportError | None, bool]:
    """The window by the native loop (csrc/window.c) from its start: (sent, the error that
    stopped it, finished). What the loop hands back is dealt with here as the loop above
    deals with it (the same collect), then the loop goes on; not finished: the loop above
    goes on from ``sent`` (a batch the native loop could not emit: it says why)."""
    assert codec.window_run is not None
    sock = c.transport
    assert isinstance(sock, NetlinkSocket)
    offs = run.offs
    if offs is not None and not (isinstance(offs, array) and offs.typecode == "Q"):
        offs = array("Q", offs)
    state = array("I", bytes(4 * len(_W)))
    state[0:8] = array("I", [win.first_seq, win.count, batch, window, win.ack_last,
                             not sock.kernel_only, QUOTA, win.pending])
    sbuf = view.obj
    assert isinstance(sbuf, bytearray)
    try:
        # its own reference to the socket: a close by another thread cannot make the loop
        # write to whatever reuses the number
        fd = os.dup(sock.fileno())
    except OSError:
        return 0, None, False
    sent = 0
    try:
        while True:
            codec.window_run(fd, state, win.status, PENDING, LOST, run.blob, offs, sbuf, c.buf)
            sent, stop = state[_SENT], state[_STOP]
            win.pending = state[_PEND]
            c.stats.implicit += state[_IMPLICIT]
            if win.ack_last:
                win.batches = [(s, min(s + batch, sent)) for s in
                               range(state[_SETTLED], sent, batch)]
            if stop == _DONE:
                return sent, None, True
            if stop == _EMIT:
                return sent, None, False
            if stop == _SEND:
                err = state[_ERR]
                collect(c, win, sent, win.count - sent, lost)
                return sent, TransportError("send", err, os.strerror(err)), True
            if stop in (_RECV, _WAIT):
                got = tuple(state[_RLEN:_FOREIGN + 3]) if stop == _RECV else None
                collect(c, win, sent, _target(win.count - sent, batch, window), lost, got)
            state[_PEND] = win.pending
            state[_SETTLED] = win.batches[0][0] if win.batches else sent
    finally:
        os.close(fd)


def collect(c: Conn, win: AckWindow, sent: int, target: int, lost: dict[int, str],
            got: tuple[int, ...] | None = None) -> None:
    """Receive until at most ``target`` requests are pending (unsent ones count); acks that
    the kernel dropped (ENOBUFS), cut short, malformed or that never came (timeout) are
    marked LOST, with the cause in ``lost``. ``got``: a receive already in the Conn's
    buffer, to take first (as :meth:`Conn.collect`)."""
    cause = None
    try:
        c.collect(win, stop_at=target, got=got)
    except BufferOverrunError:
        win.unproven()  # before the drain: no batch is settled by what follows an overrun
        c.drain(win)
        cause = "ENOBUFS overrun"
    except ReplyTruncatedError:
        win.unproven()
        c.drain(win)
        cause = "reply cut short"
    except TimeoutError:
        cause = "timeout"
    except ParseError:  # replies we could not read: those requests are read back instead
        cause = "malformed reply"
    if cause is not None:
        win.unproven()
        for j in win.mark_lost(sent):
            lost[j] = cause
