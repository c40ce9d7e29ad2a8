"""Record a session's exchanges with the kernel; replay them later with no privileges.

TRACE files (``nlcore record``, docs/record-replay.md) are read and written here too:
``replay_conn(TRACE)`` and ``recording_conn(..., trace=True)`` use
:mod:`nlcore.faults.tracetransport`.

A recording is JSON lines: a header ``{"nlcore": "recording", "version": 1, "pid": P,
"features": [...]}``, then one object per transport call, in order::

    {"op": "send", "hex": "40000000140005051300..."}
    {"op": "recv", "hex": "5400000002000000...", "pid": 0}
    {"op": "recv", "raise": "BlockingIOError", "errno": 11}

:class:`RecordingTransport` wraps any transport and writes; :class:`ReplayTransport` reads,
checks that every send is byte-identical to the recorded one (``ignore_seq=True``: equal
but for sequence numbers, and replies are re-stamped with the live ones) and hands back the
recorded replies and exceptions. A divergence raises :class:`ReplayMismatch`.
"""

from __future__ import annotations

import errno as E
import json
import os
import struct
from typing import IO, Any, Iterator, Sequence, Union

from ..codec import consts as C
from ..codec.errors import BufferOverrunError, NlcoreError, TransportError
from ..net.conn import Conn
from ..net.transport import NetlinkSocket, Transport

PathOrFile = Union[str, "os.PathLike[str]", IO[str]]
_SEQ = struct.Struct("=I")


class ReplayMismatch(NlcoreError, AssertionError):
    """The replayed code did something other than what was recorded."""


def _exc_record(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"raise": type(exc).__name__, "errno": getattr(exc, "errno", None)}
    if isinstance(exc, TransportError):
        out["raise"] = "BufferOverrunError" if isinstance(exc, BufferOverrunError) \
            else "TransportError"
        out["transport_op"] = exc.op
        out["detail"] = str(exc)
    return out


def _exc_from(rec: dict[str, Any]) -> BaseException:
    kind, err = rec["raise"], rec.get("errno") or E.EIO
    if kind == "BufferOverrunError":
        return BufferOverrunError("replayed ENOBUFS")
    if kind == "TransportError":
        return TransportError(rec.get("transport_op", "recv"), err, "replayed")
    if kind == "TimeoutError":
        return TimeoutError(err, "recv timed out (replayed)")
    if kind == "BlockingIOError":
        return BlockingIOError(err, "nothing queued (replayed)")
    return OSError(err, f"{kind} (replayed)")


class RecordingTransport:
    """Pass every call to ``inner`` and append it to ``out`` (a path or a text file)."""

    def __init__(self, inner: Transport, out: PathOrFile) -> None:
        self.inner = inner
        self._own = isinstance(out, (str, os.PathLike))
        self._file: IO[str] = open(out, "w") if isinstance(out, (str, os.PathLike)) else out
        feats = getattr(inner, "features", None)
        self._write({"nlcore": "recording", "version": 1, "pid": inner.pid,
                     "features": sorted(feats) if feats is not None else None})

    def _write(self, obj: dict[str, Any]) -> None:
        self._file.write(json.dumps(obj) + "\n")
        self._file.flush()

    @property
    def pid(self) -> int:
        """The inner transport's port id."""
        return self.inner.pid

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send through ``inner`` and record the bytes (and the error, if it failed)."""
        rec: dict[str, Any] = {"op": "send", "hex": bytes(data).hex()}
        try:
            self.inner.send(data)
        except TransportError as exc:
            self._write({**rec, **_exc_record(exc)})
            raise
        self._write(rec)

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        """Receive through ``inner`` and record the datagram or the exception."""
        try:
            n, pid = self.inner.recv(buf, block)
        except OSError as exc:
            self._write({"op": "recv", **_exc_record(exc)})
            raise
        self._write({"op": "recv", "hex": bytes(buf[:n]).hex(), "pid": pid})
        return n, pid

    def close(self) -> None:
        """Close ``inner`` (and the file, if this opened it)."""
        try:
            self.inner.close()
        finally:
            if self._own:
                self._file.close()


def read_recording(src: PathOrFile) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(header, entries)`` of a recording; ValueError if it is not one."""
    if isinstance(src, (str, os.PathLike)):
        with open(src) as f:
            lines = f.read().splitlines()
    else:
        lines = src.read().splitlines()
    objs = [json.loads(line) for line in lines if line.strip()]
    if objs and "nlcore_trace" in objs[0]:
        raise ValueError(f"{src!r} is a TRACE, not a recording: replay it with "
                         f"replay_conn() or nlcore.faults.tracetransport.TraceTransport")
    if not objs or objs[0].get("nlcore") != "recording":
        raise ValueError(f"{src!r} is not an nlcore recording (no header line)")
    return objs[0], objs[1:]


def _messages(data: bytes) -> Iterator[int]:
    """Offsets of the messages in ``data`` (stops at the first malformed one)."""
    pos = 0
    while len(data) - pos >= C.NLMSG_HDRLEN:
        n = C.NLMSGHDR.unpack_from(data, pos)[0]
        if n < C.NLMSG_HDRLEN or n > len(data) - pos:
            return
        yield pos
        pos += C.align4(n)


class ReplayTransport:
    """A transport that plays a recording back (no socket, no privileges).

    ``ignore_seq``: requests need only match with their sequence numbers masked; the
    recorded replies get the live seq of the request they answer.
    """

    def __init__(self, src: PathOrFile, *, ignore_seq: bool = False) -> None:
        self.header, self.entries = read_recording(src)
        self.ignore_seq = ignore_seq
        self.features = set(self.header.get("features") or ())
        self.pos = 0
        self._seqmap: dict[int, int] = {}  # recorded seq -> live seq
        self.closed = False

    @property
    def pid(self) -> int:
        """The port id of the recorded socket."""
        return int(self.header["pid"])

    @property
    def remaining(self) -> int:
        """Recorded calls not replayed yet."""
        return len(self.entries) - self.pos

    def _next(self, op: str, what: str) -> dict[str, Any]:
        if self.pos >= len(self.entries):
            raise ReplayMismatch(f"{what}, but the recording ended after {self.pos} calls")
        rec = self.entries[self.pos]
        if rec.get("op") != op:
            raise ReplayMismatch(f"call {self.pos + 1}: {what}, but the recording has a "
                                 f"{rec.get('op')} there")
        self.pos += 1
        return rec

    def _masked(self, data: bytes) -> bytes:
        buf = bytearray(data)
        for pos in _messages(data):
            _SEQ.pack_into(buf, pos + 8, 0)
        return bytes(buf)

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Check ``data`` against the next recorded send (or raise its recorded error)."""
        live = bytes(data)
        rec = self._next("send", f"send of {len(live)} bytes")
        want = bytes.fromhex(rec["hex"])
        same = live == want
        if not same and self.ignore_seq:
            same = self._masked(live) == self._masked(want)
        if not same:
            raise ReplayMismatch(f"call {self.pos}: sent {live.hex()} but the recording has "
                                 f"{want.hex()}")
        if self.ignore_seq:
            for a, b in zip(_messages(want), _messages(live)):
                self._seqmap[_SEQ.unpack_from(want, a + 8)[0]] = _SEQ.unpack_from(live, b + 8)[0]
        if "raise" in rec:
            raise _exc_from(rec)

    def _restamp(self, data: bytes) -> bytes:
        buf = bytearray(data)
        for pos in _messages(data):
            seq = _SEQ.unpack_from(buf, pos + 8)[0]
            new = self._seqmap.get(seq, seq)
            _SEQ.pack_into(buf, pos + 8, new)
            if C.NLMSGHDR.unpack_from(buf, pos)[1] == C.NLMSG_ERROR and len(buf) - pos >= 36:
                _SEQ.pack_into(buf, pos + 28, new)  # the echoed request header's seq
        return bytes(buf)

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        """The next recorded datagram (or raise the recorded exception)."""
        rec = self._next("recv", f"recv(block={block})")
        if "raise" in rec:
            raise _exc_from(rec)
        data = bytes.fromhex(rec["hex"])
        if self.ignore_seq:
            data = self._restamp(data)
        if len(data) > len(buf):
            raise TransportError("recv", E.EMSGSIZE,
                                 f"datagram of {len(data)} bytes truncated to {len(buf)}")
        buf[:len(data)] = data
        return len(data), int(rec.get("pid", 0))

    def close(self) -> None:
        """Mark closed (the recording stays readable)."""
        self.closed = True


def recording_conn(out: PathOrFile, ns: object = None, *, trace: bool = False,
                   **socket_options: Any) -> Conn:
    """A Conn on a real socket (in ``ns`` if given) that records to ``out``; ``trace``
    writes a TRACE (the ``nlcore record`` format) instead of the call-by-call recording."""
    sock = None
    if ns is not None:
        from ..net.netns import open_socket

        sock = open_socket(ns)  # type: ignore[arg-type]
    inner = NetlinkSocket(sock, **socket_options)
    if trace:
        from .tracetransport import TraceRecordingTransport

        return Conn(TraceRecordingTransport(inner, out))
    return Conn(RecordingTransport(inner, out))


def _is_trace(src: PathOrFile) -> bool:
    from .trace import is_trace

    if isinstance(src, (str, os.PathLike)):
        with open(src) as f:
            return is_trace(f.readline())
    return False


def replay_conn(src: PathOrFile, *, ignore_seq: bool = False, rules: Sequence[str] = (),
                **conn_options: Any) -> Conn:
    """A Conn that replays ``src``: a recording, or a TRACE (from ``nlcore record`` or
    ``recording_conn(trace=True)``; matched by content, ``rules`` as ``nlcore replay``)."""
    if rules or _is_trace(src):
        from .tracetransport import TraceTransport

        return Conn(TraceTransport(src, rules), **conn_options)
    return Conn(ReplayTransport(src, ignore_seq=ignore_seq), **conn_options)


__all__ = ["RecordingTransport", "ReplayMismatch", "ReplayTransport", "read_recording",
           "recording_conn", "replay_conn"]
