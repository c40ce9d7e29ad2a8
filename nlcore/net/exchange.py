"""One request and its replies as a state machine: :class:`Exchange` sends on creation and
takes one datagram per :meth:`Exchange.feed`, so the same matching and validation serve the
blocking Conn (which feeds in a loop) and the asyncio connection (which waits on the event
loop's reader between feeds)."""

from __future__ import annotations

import struct
from typing import Any

from ..codec import consts as C
from ..codec.decode import DoneMsg, ErrorMsg, Message
from ..codec.dumpscan import decode_dump
from ..codec.errors import ParseError
from ..codec.wire import error_of

_SEQ = struct.Struct("=I")


class Exchange:
    """``msg`` sent through ``conn`` (a Conn: take_seqs, send, recv, stats) with a fresh seq.

    ``done`` turns True when the reply is complete (``out``: the messages, ``interrupted``:
    the kernel flagged NLM_F_DUMP_INTR). ``feed`` raises the KernelError of a failed request,
    BlockingIOError (``block`` False, nothing queued), or the ParseError of a malformed reply
    once nothing more is queued.
    """

    __slots__ = ("bad", "conn", "decode", "done", "flags", "interrupted", "is_dump", "out", "req",
                 "seq")

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
        # every reply takes the dump scan (the objects decode() gives, see codec.dumpscan)
        self.decode = decode_dump
        conn.send(self.req)

    def feed(self, block: bool = True) -> None:
        """Receive one datagram (never waiting after a malformed one) and take its messages."""
        seq = self.seq
        try:
            msgs = self.decode(self.conn.recv(block=block and self.bad is None), {seq: self.req})
        except ParseError as exc:  # skip it, read on without waiting (see Conn.collect)
            self.conn.stats.malformed += 1
            self.bad = exc
            return
        except (BlockingIOError, TimeoutError):
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
                if err is not None:
                    raise err
                if isinstance(m, DoneMsg) or not self.is_dump:
                    self.done = True
                    return
                continue
            self.out.append(m)
            if not self.is_dump and not self.flags & C.NLM_F_ACK:
                self.done = True
                return


#: GET requests whose NLM_F_DUMP replies end with NLMSG_DONE (RTM_GETNEIGH is 30)
DUMP_TYPES = (C.RTM_GETLINK, C.RTM_GETADDR, C.RTM_GETROUTE, 30)


def dump_flags(msg: bytes | bytearray) -> tuple[int, bool]:
    """(nlmsg_flags, whether ``msg`` is a dump whose parts end with NLMSG_DONE)."""
    flags, mtype = struct.unpack_from("=H", msg, 6)[0], struct.unpack_from("=H", msg, 4)[0]
    return flags, flags & C.NLM_F_DUMP == C.NLM_F_DUMP and mtype in DUMP_TYPES


def request(conn: Any, msg: bytes | bytearray) -> list[Message]:
    """Conn.request's contract (bounded NLM_F_DUMP_INTR restarts, KernelError), through an
    Exchange: replies decode through the dump scan. Holds the Conn's lock."""
    from ..codec.errors import ProtocolError

    flags, is_dump = dump_flags(msg)
    with conn.lock:
        for _attempt in range(conn.dump_retries + 1):
            ex = Exchange(conn, msg, flags, is_dump)
            while not ex.done:
                ex.feed()
            if not ex.interrupted:
                return ex.out
            conn.stats.dump_retries += 1
    raise ProtocolError(f"dump interrupted (NLM_F_DUMP_INTR) {conn.dump_retries + 1} "
                        f"times in a row; the kernel's table kept changing")
