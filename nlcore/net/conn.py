"""Conn: sequence numbers, batches, reply collection and validation.

A Conn owns a transport. It stamps sequence numbers (wrapping at 2^32), sends whole batches
in one syscall, and matches every reply by seq — never by position, since the kernel may
answer a dump after later acks. Replies from any sender but the kernel (nl_pid 0) are
dropped and counted, as are replies whose seq was never sent or was already answered.
A Conn may be shared between threads: every exchange holds its lock. One request and its
replies (``Conn.request``) is :mod:`nlcore.net.exchange`'s, shared with the asyncio form.
"""

from __future__ import annotations

import errno as E
import threading
from array import array
from typing import Callable, Mapping, Sequence

from ..codec.decode import Message
from ..codec.errors import (
    BufferOverrunError,
    ParseError,
    SpecError,
    TransportError,
)
from . import log as _log
from ._errors import ClosedError, ReplyTruncatedError
from .exchange import request as _request
from .transport import NetlinkSocket, Transport
from .window import LOST, PENDING, AckWindow, Stats, match_acks

__all__ = ["LOST", "PENDING", "AckWindow", "ClosedError", "Conn", "ReplyTruncatedError",
           "Stats"]

MIN_RECV = 4096  # the smallest receive buffer: a page, as the kernel's dump parts start
MAX_RECV = 1 << 26
_logging = _log.log.isEnabledFor


def _size(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"invalid {what} {value!r}: expected an integer {low}..{high}")
    return value


class Conn:
    """A netlink connection. ``Conn()`` opens a NETLINK_ROUTE socket in this namespace;
    ``Conn(ns=...)`` opens it inside another (see :func:`nlcore.net.netns.open_socket`);
    ``Conn(transport)`` adopts any transport (a FakeTransport in tests)."""

    def __init__(self, transport: Transport | None = None, *, ns: object = None,
                 seq: int = 1, recv_size: int = 1 << 18, dump_retries: int = 5,
                 **socket_options: object) -> None:
        _size(recv_size, "recv_size", MIN_RECV, MAX_RECV)
        _size(dump_retries, "dump_retries", 0, 1000)
        if transport is None:
            sock = None
            if ns is not None:
                from .netns import open_socket

                sock = open_socket(ns)  # type: ignore[arg-type]
            transport = NetlinkSocket(sock, **socket_options)  # type: ignore[arg-type]
        self.transport: Transport = transport
        self._seq = seq & 0xFFFFFFFF
        self.buf = bytearray(recv_size)
        self.stats = Stats()
        self.dump_retries = dump_retries
        self.lock = threading.RLock()
        self._detail = array("I", bytes(4 * 256))
        self.obuf = bytearray(4096)  # scratch for one outgoing request
        self.cbuf = bytearray(1 << 16)  # request + replies of a one-call exchange
        self.caller: Callable[[bytes, int, int], tuple[int, int, Sequence[int]]] | None = None
        self.closed = False

    # ------------------------------------------------------------------ basics
    @property
    def pid(self) -> int:
        """Local port id."""
        return self.transport.pid

    def take_seqs(self, n: int = 1) -> int:
        """Reserve ``n`` consecutive sequence numbers; returns the first (mod 2^32)."""
        with self.lock:
            first = self._seq
            self._seq = (first + n) & 0xFFFFFFFF
            return first

    def close(self) -> None:
        """Close the transport. Every later call raises :class:`ClosedError` (the prepared
        native caller is dropped with the socket, so nothing can reach a reused fd)."""
        self.closed = True
        self.caller = None
        self.transport.close()

    def check_open(self) -> None:
        """Raise :class:`ClosedError` after :meth:`close`."""
        if self.closed:
            raise ClosedError()

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send a buffer of already-stamped messages in one syscall."""
        if self.closed:
            raise ClosedError()
        if _logging(10):
            _log.sent(data, self.transport.pid)
        self.transport.send(data)

    def recv(self, block: bool = True) -> memoryview:
        """The next datagram from the kernel (others are dropped and counted). A datagram
        cut short raises ReplyTruncatedError after the buffer has grown to hold it."""
        if self.closed:
            raise ClosedError()
        while True:
            try:
                n, sender = self.transport.recv(self.buf, block)
            except TransportError as exc:
                if isinstance(exc, BufferOverrunError):
                    self.stats.overruns += 1
                elif exc.errno == E.EMSGSIZE:  # a datagram was cut: grow for the next one
                    raise self._truncated(getattr(exc, "size", 0)) from None
                raise
            if sender != 0:
                self.stats.foreign += 1
                continue
            view = memoryview(self.buf)[:n]
            if _logging(10):
                _log.received(view, sender)
            return view

    def _truncated(self, size: int) -> ReplyTruncatedError:
        self.stats.truncated += 1
        old = len(self.buf)
        new = min(MAX_RECV, max(2 * old, (size + 4095) & ~4095))
        self.buf = bytearray(new)
        return ReplyTruncatedError(f"a reply{f' of {size} bytes' if size else ''} did not "
                                   f"fit the receive buffer of {old} bytes and was lost (the "
                                   f"buffer is now {new} bytes)")

    # ------------------------------------------------------------------ acks
    def collect(self, win: AckWindow, block: bool = True, stop_at: int = 0,
                got: tuple[int, ...] | None = None) -> None:
        """Receive until at most ``stop_at`` requests of ``win`` are unanswered.

        Raises BufferOverrunError (ENOBUFS: some acks were dropped by the kernel),
        ReplyTruncatedError (a reply was cut short and lost), TimeoutError, or
        BlockingIOError (``block=False`` and nothing more queued); ``win`` keeps what did
        arrive, so the caller can tell exactly which requests are unknown. In ``ack_last``
        mode each batch whose final ack came is settled (never from a receive that saw an
        overrun, a cut reply or a malformed one: those batches are left to the caller).
        ``got``: a batched receive already in ``self.buf`` (what ``recv_batch`` returns),
        taken first, whatever ``stop_at`` says (the engine's native loop hands it over).
        """
        if self.closed:
            raise ClosedError()
        batch = getattr(self.transport, "recv_batch", None)
        stats = self.stats
        bad: ParseError | ReplyTruncatedError | None = None
        while win.pending > stop_at or got is not None:
            trunc = 0
            try:
                if got is not None:
                    (n, foreign, trunc, overrun), got = got, None
                    stats.foreign += foreign
                    view = memoryview(self.buf)[:n]
                elif batch is not None:
                    # at most one datagram per request still awaited (each is one ack, or
                    # its error): what is left queued is read by the next turn
                    n, foreign, trunc, overrun = batch(self.buf, block, win.pending - stop_at)
                    stats.foreign += foreign
                    view = memoryview(self.buf)[:n]
                    if _logging(10):
                        _log.received(view, 0)
                else:
                    view, overrun = self.recv(block), 0
            except ReplyTruncatedError as exc:  # recv(): the datagram is gone
                bad, block = exc, False
                win.unproven()
                continue
            except BufferOverrunError:  # recv(): replies were dropped before this one
                win.unproven()
                raise
            except (BlockingIOError, TimeoutError):
                if bad is not None:
                    raise bad from None
                raise
            if trunc:
                stats.truncated += trunc
                bad, block = ReplyTruncatedError(
                    f"{trunc} replies did not fit the receive slots and were lost"), False
            if overrun or trunc:
                win.unproven()
            try:
                self._match(win, view)
            except ParseError as exc:
                # skip it; what is still queued is read without waiting (netlink queues all
                # acks of a send before the send returns), then the caller hears of it
                stats.malformed += 1
                bad, block = exc, False
                win.unproven()
            if win.batches:
                stats.implicit += win.settle()
            if overrun:
                stats.overruns += 1
                raise BufferOverrunError()

    def _match(self, win: AckWindow, view: memoryview) -> None:
        match_acks(win, view, self._detail, self.stats)

    def drain(self, win: AckWindow) -> None:
        """After an overrun: take every reply still queued, without waiting."""
        while win.pending:
            try:
                self.collect(win, block=False)
            except (BufferOverrunError, ReplyTruncatedError, ParseError):
                continue
            except (BlockingIOError, TimeoutError):
                return

    def mark_lost(self, win: AckWindow, sent: int) -> list[int]:
        """Mark every unanswered request among the first ``sent`` as LOST; returns them."""
        return win.mark_lost(sent)

    # ------------------------------------------------------------------ requests
    def request(self, msg: bytes | bytearray, requests: Mapping[int, bytes] | None = None
                ) -> list[Message]:
        """Send one request (its seq is stamped here) and return its replies.

        A dump (NLM_F_DUMP) returns every part up to NLMSG_DONE, restarting when the kernel
        flags NLM_F_DUMP_INTR (at most ``dump_retries`` times, then ProtocolError). A request
        with NLM_F_ACK returns the replies before its ack; a GET without it returns the one
        reply. A kernel error is raised as KernelError (PermissionError for EACCES, ...).
        A reply cut short (a receive buffer too small for it) is never half-read: the rest
        of the exchange is read and dropped, the buffer grows, then a GET is sent again once
        and anything else raises one ReplyTruncatedError; the Conn stays usable.
        """
        return _request(self, msg)
