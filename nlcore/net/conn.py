"""Conn: sequence numbers, batches, reply collection and validation.

A Conn owns a transport. It stamps sequence numbers (wrapping at 2^32), sends whole batches
in one syscall, and matches every reply by seq — never by position, since the kernel may
answer a dump after later acks. Replies from any sender but the kernel (nl_pid 0) are
dropped and counted, as are replies whose seq was never sent or was already answered.
A Conn may be shared between threads: every exchange holds its lock.
"""

from __future__ import annotations

import struct
import threading
from array import array
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..codec import consts as C
from ..codec._backend import codec
from ..codec.decode import Message
from ..codec.errors import BufferOverrunError, ParseError, ProtocolError, TransportError
from .exchange import Exchange
from .transport import NetlinkSocket, Transport

PENDING = 1  # status of a request whose ack has not arrived (kernel errors are <= 0)
LOST = 4  # its ack will not come (ENOBUFS dropped it, or the wait timed out)
#: GET requests whose NLM_F_DUMP replies end with NLMSG_DONE (RTM_GETNEIGH is 30)
DUMP_TYPES = (C.RTM_GETLINK, C.RTM_GETADDR, C.RTM_GETROUTE, 30)
_HDR4 = struct.Struct("=IHHI")


@dataclass
class Stats:
    """Counters of what a Conn dropped or ignored (never silently)."""

    foreign: int = 0  # datagrams from a sender other than the kernel
    unknown_seq: int = 0  # replies for a seq that is not outstanding
    duplicates: int = 0  # second ack for an already answered request
    overruns: int = 0  # ENOBUFS seen
    truncated: int = 0  # datagrams larger than the receive buffer
    dump_retries: int = 0  # dumps restarted after NLM_F_DUMP_INTR
    malformed: int = 0  # replies that could not be parsed (their requests were re-read)


class AckWindow:
    """Outstanding requests ``first_seq .. first_seq+count-1`` and what came back for each.

    ``status[i]`` is PENDING, 0 (ack) or a negative errno; ``replies[i]`` holds the whole
    NLMSG_ERROR of a failure (or of a success ack that carries extack warnings).
    """

    __slots__ = ("count", "first_seq", "pending", "replies", "status")

    def __init__(self, first_seq: int, count: int) -> None:
        self.first_seq = first_seq
        self.count = count
        self.status = array("i", [PENDING]) * count
        self.replies: dict[int, bytes] = {}
        self.pending = count


class Conn:
    """A netlink connection. ``Conn()`` opens a NETLINK_ROUTE socket in this namespace;
    ``Conn(ns=...)`` opens it inside another (see :func:`nlcore.net.netns.open_socket`);
    ``Conn(transport)`` adopts any transport (a FakeTransport in tests)."""

    def __init__(self, transport: Transport | None = None, *, ns: object = None,
                 seq: int = 1, recv_size: int = 1 << 18, dump_retries: int = 5,
                 **socket_options: object) -> None:
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
        """Close the transport."""
        self.transport.close()

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send a buffer of already-stamped messages in one syscall."""
        self.transport.send(data)

    def recv(self, block: bool = True) -> memoryview:
        """The next datagram from the kernel (others are dropped and counted)."""
        while True:
            try:
                n, sender = self.transport.recv(self.buf, block)
            except TransportError as exc:
                if isinstance(exc, BufferOverrunError):
                    self.stats.overruns += 1
                elif exc.errno == 90:  # EMSGSIZE: a datagram was cut; grow for the next one
                    self.stats.truncated += 1
                    self.buf = bytearray(len(self.buf) * 2)
                raise
            if sender != 0:
                self.stats.foreign += 1
                continue
            return memoryview(self.buf)[:n]

    # ------------------------------------------------------------------ acks
    def collect(self, win: AckWindow, block: bool = True, stop_at: int = 0) -> None:
        """Receive until at most ``stop_at`` requests of ``win`` are unanswered.

        Raises BufferOverrunError (ENOBUFS: some acks were dropped by the kernel),
        TimeoutError, or BlockingIOError (``block=False`` and nothing more queued); ``win``
        keeps what did arrive, so the caller can tell exactly which requests are unknown.
        """
        batch = getattr(self.transport, "recv_batch", None)
        stats = self.stats
        bad: ParseError | None = None
        while win.pending > stop_at:
            try:
                if batch is not None:
                    n, foreign, trunc, overrun = batch(self.buf, block)
                    stats.foreign += foreign
                    stats.truncated += trunc
                    view = memoryview(self.buf)[:n]
                else:
                    view, overrun = self.recv(block), 0
            except (BlockingIOError, TimeoutError):
                if bad is not None:
                    raise bad from None
                raise
            try:
                self._match(win, view)
            except ParseError as exc:
                # skip it; what is still queued is read without waiting (netlink queues all
                # acks of a send before the send returns), then the caller hears of it
                stats.malformed += 1
                bad, block = exc, False
            if overrun:
                stats.overruns += 1
                raise BufferOverrunError()

    def _match(self, win: AckWindow, view: memoryview) -> None:
        pos, n = 0, len(view)
        while pos < n:
            part = view[pos:]
            try:
                stop, answered, outside, dups, nd = codec.acks_match(
                    part, n - pos, win.first_seq, win.status, win.count, PENDING,
                    self._detail)
            except ParseError as exc:
                # keep what was matched before the malformed message, then report it
                if exc.partial is not None:
                    _, answered, outside, dups, nd = exc.partial
                    self._account(win, part, answered, outside, dups, nd)
                exc.offset += pos
                raise
            self._account(win, part, answered, outside, dups, nd)
            pos += stop

    def _account(self, win: AckWindow, part: memoryview, answered: int, outside: int,
                 dups: int, nd: int) -> None:
        """Record one acks_match result: answered count, counters, kept replies."""
        detail, first, replies, stats = self._detail, win.first_seq, win.replies, self.stats
        win.pending -= answered
        stats.unknown_seq += outside
        stats.duplicates += dups
        for k in range(nd):
            o = detail[k]
            length, _t, _f, seq = _HDR4.unpack_from(part, o)
            replies[(seq - first) & 0xFFFFFFFF] = bytes(part[o:o + length])

    def drain(self, win: AckWindow) -> None:
        """After an overrun: take every reply still queued, without waiting."""
        while win.pending:
            try:
                self.collect(win, block=False)
            except BufferOverrunError:
                continue
            except (BlockingIOError, TimeoutError):
                return

    def mark_lost(self, win: AckWindow, sent: int) -> list[int]:
        """Mark every unanswered request among the first ``sent`` as LOST; returns them."""
        lost = [j for j in range(sent) if win.status[j] == PENDING]
        for j in lost:
            win.status[j] = LOST
        win.pending -= len(lost)
        return lost

    # ------------------------------------------------------------------ requests
    def request(self, msg: bytes | bytearray, requests: Mapping[int, bytes] | None = None
                ) -> list[Message]:
        """Send one request (its seq is stamped here) and return its replies.

        A dump (NLM_F_DUMP) returns every part up to NLMSG_DONE, restarting when the kernel
        flags NLM_F_DUMP_INTR (at most ``dump_retries`` times, then ProtocolError). A request
        with NLM_F_ACK returns the replies before its ack; a GET without it returns the one
        reply. A kernel error is raised as KernelError (PermissionError for EACCES, ...).
        """
        flags, is_dump = self.is_dump(msg)
        with self.lock:
            for _attempt in range(self.dump_retries + 1):
                out, interrupted = self._exchange(msg, flags, is_dump)
                if not interrupted:
                    return out
                self.stats.dump_retries += 1
        raise ProtocolError(f"dump interrupted (NLM_F_DUMP_INTR) {self.dump_retries + 1} "
                            f"times in a row; the kernel's table kept changing")

    def _exchange(self, msg: bytes | bytearray, flags: int,
                  is_dump: bool) -> tuple[list[Message], bool]:
        ex = Exchange(self, msg, flags, is_dump)
        while not ex.done:
            ex.feed()
        return ex.out, ex.interrupted

    @staticmethod
    def is_dump(msg: bytes | bytearray) -> tuple[int, bool]:
        """(nlmsg_flags, whether ``msg`` is a dump whose parts end with NLMSG_DONE)."""
        flags, mtype = struct.unpack_from("=H", msg, 6)[0], struct.unpack_from("=H", msg, 4)[0]
        return flags, flags & C.NLM_F_DUMP == C.NLM_F_DUMP and mtype in DUMP_TYPES
