"""One request and its replies as a state machine: :class:`Exchange` sends on creation and
takes one datagram per :meth:`Exchange.feed`, so the same matching and validation serve the
blocking Conn (:func:`request`, which feeds in a loop: ``Conn.request``) and the asyncio
connection (which waits on the event loop's reader between feeds)."""

from __future__ import annotations

import struct
from typing import Any, Iterator

from ..codec import consts as C
from ..codec.decode import DoneMsg, ErrorMsg, Message
from ..codec.dumpscan import decode_dump
from ..codec.errors import ParseError, ProtocolError
from ..codec.wire import error_of
from ._errors import ReplyTruncatedError

_SEQ = struct.Struct("=I")


class Exchange:
    """``msg`` sent through ``conn`` (a Conn: take_seqs, send, recv, stats) with a fresh seq.

    ``done`` turns True when the reply is complete (``out``: the messages, ``interrupted``:
    the kernel flagged NLM_F_DUMP_INTR). ``feed`` raises the KernelError of a failed request,
    BlockingIOError (``block`` False, nothing queued), or the ParseError of a malformed reply
    once nothing more is queued. A reply cut short (ReplyTruncatedError from the Conn's
    receive) is never half-read: the rest of the exchange is read without waiting and dropped,
    then ``feed`` raises that one ReplyTruncatedError (the Conn's buffer has grown).
    """

    __slots__ = ("bad", "conn", "cut", "decode", "done", "flags", "interrupted", "is_dump", "out",
                 "req", "seq")

    def __init__(self, conn: Any, msg: bytes | bytearray, flags: int, is_dump: bool) -> None:
        self.conn = conn
        self.flags = flags
        self.is_dump = is_dump
        self.seq = conn.take_seqs()
        raw = bytearray(msg)
        _SEQ.pack_into(raw, 8, self.seq)
        self.req = bytes(raw)
        self.out: list[Message] = []
        self.interrupted = False
        self.done = False
        self.bad: ParseError | None = None
        self.cut: ReplyTruncatedError | None = None
        # every reply takes the dump scan (the objects decode() gives, see codec.dumpscan)
        self.decode = decode_dump
        conn.send(self.req)

    def feed(self, block: bool = True) -> None:
        """Receive one datagram (never waiting after a malformed or cut one) and take its
        messages."""
        seq = self.seq
        try:
            view = self.conn.recv(block=block and self.bad is None and self.cut is None)
            msgs = self.decode(view, {seq: self.req})
        except ParseError as exc:  # skip it, read on without waiting (see Conn.collect)
            self.conn.stats.malformed += 1
            self.bad = exc
            return
        except ReplyTruncatedError as exc:  # read the rest, then report once
            self.cut = self.cut or exc
            return
        except (BlockingIOError, TimeoutError):
            if self.cut is not None:
                raise self.cut from None
            if self.bad is not None:
                raise self.bad from None
            raise
        for m in msgs:
            if m.header.seq != seq:
                self.conn.stats.unknown_seq += 1
                continue
            if m.header.flags & C.NLM_F_DUMP_INTR:
                self.interrupted = True
            if isinstance(m, (ErrorMsg, DoneMsg)) and (self.is_dump or isinstance(m, ErrorMsg)):
                err = error_of(m, {seq: self.req})
                if self.cut is not None:
                    raise self.cut
                if err is not None:
                    raise err
                if isinstance(m, DoneMsg) or not self.is_dump:
                    self.done = True
                    return
                continue
            if self.cut is not None:
                continue
            self.out.append(m)
            if not self.is_dump and not self.flags & C.NLM_F_ACK:
                self.done = True
                return


def is_get(msg: bytes | bytearray) -> bool:
    """Whether ``msg`` is an rtnetlink GET (RTM_GETLINK and every fourth type after it)."""
    mtype: int = struct.unpack_from("=H", msg, 4)[0]
    return mtype >= C.RTM_GETLINK and mtype % 4 == 2


def dump_flags(msg: bytes | bytearray) -> tuple[int, bool]:
    """(nlmsg_flags, whether ``msg`` is a dump: a GET with NLM_F_DUMP, whose parts end with
    NLMSG_DONE)."""
    flags: int = struct.unpack_from("=H", msg, 6)[0]
    return flags, flags & C.NLM_F_DUMP == C.NLM_F_DUMP and is_get(msg)


class Attempts:
    """The retry policy of one request, shared by ``Conn.request`` and the asyncio
    ``AsyncConn.request`` (which differ only in how they wait): at most ``dump_retries`` + 1
    exchanges restarted by NLM_F_DUMP_INTR, and a GET whose reply was cut short sent again
    once (the buffer has grown); anything else cut short raises."""

    def __init__(self, conn: Any, msg: bytes | bytearray) -> None:
        self.conn, self.msg = conn, msg
        self.flags, self.is_dump = dump_flags(msg)
        self.retried_cut = not is_get(msg)
        self.attempt = 0

    def __iter__(self) -> Iterator[Exchange]:
        """Each exchange in turn (its request sent), until the restarts are spent."""
        while self.attempt <= self.conn.dump_retries:
            yield Exchange(self.conn, self.msg, self.flags, self.is_dump)

    def cut(self, exc: ReplyTruncatedError) -> None:
        """A reply was cut short: re-raise ``exc`` unless this is a GET's first time."""
        if self.retried_cut:
            raise exc
        self.retried_cut = True

    def finished(self, ex: Exchange) -> list[Message] | None:
        """``ex``'s replies, or None when the kernel interrupted the dump (restart)."""
        if not ex.interrupted:
            return ex.out
        self.conn.stats.dump_retries += 1
        self.attempt += 1
        return None

    def spent(self) -> ProtocolError:
        """The error once every restart met NLM_F_DUMP_INTR."""
        return ProtocolError(f"dump interrupted (NLM_F_DUMP_INTR) {self.conn.dump_retries + 1}"
                             f" times in a row; the kernel's table kept changing")


def request(conn: Any, msg: bytes | bytearray) -> list[Message]:
    """The blocking exchange behind ``Conn.request`` (see its contract), under the
    :class:`Attempts` policy; replies decode through the dump scan. Holds the Conn's lock."""
    with conn.lock:
        tries = Attempts(conn, msg)
        for ex in tries:
            try:
                while not ex.done:
                    ex.feed()
            except ReplyTruncatedError as exc:
                tries.cut(exc)
                continue
            out = tries.finished(ex)
            if out is not None:
                return out
    raise tries.spent()
