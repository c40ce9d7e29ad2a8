"""The in-process twin of ``nlcore record`` / ``nlcore replay``: transports that write and
read the same TRACE files (docs/record-replay.md).

:class:`TraceRecordingTransport` wraps a real transport (a NetlinkSocket) and writes a
one-socket TRACE; :class:`TraceTransport` answers a Conn from any TRACE -- one recorded by
the CLI from another program, or by the recording transport -- through the same
:class:`~nlcore.faults.tracematch.Matcher` and the same ``--match`` rules as
``nlcore replay``. No socket, no privilege.
"""

from __future__ import annotations

import errno as _errno
from collections import deque
from typing import Any, Sequence

from ..codec import consts as C
from ..codec.errors import BufferOverrunError, TransportError
from ..net.fake import deliver
from ..net.transport import Transport
from .trace import PathOrFile, Trace, TraceWriter, messages, read_trace
from .tracematch import Delivery, Matcher

_FEATURE_OPTS = {"ext_ack": C.NETLINK_EXT_ACK, "cap_ack": C.NETLINK_CAP_ACK,
                 "strict": C.NETLINK_GET_STRICT_CHK}
_KEY = "conn"


class TraceRecordingTransport:
    """Pass every call to ``inner`` and write it to the TRACE ``out`` (socket 1)."""

    def __init__(self, inner: Transport, out: PathOrFile, **header: Any) -> None:
        self.inner = inner
        self.writer = TraceWriter(out, source="nlcore in-process", **header)
        self.sock = self.writer.sock(_KEY)
        feats = getattr(inner, "features", None) or set()
        self.writer.options(self.sock, inner.pid, [],
                            {opt: int(name in feats) for name, opt in _FEATURE_OPTS.items()})

    @property
    def pid(self) -> int:
        """The inner transport's port id."""
        return self.inner.pid

    @property
    def features(self) -> set[str]:
        """The inner transport's socket options."""
        return set(getattr(self.inner, "features", None) or ())

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send through ``inner``; the datagram is written once the kernel took it."""
        self.inner.send(data)
        self.writer.send(self.sock, bytes(data))

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        """Receive through ``inner``; datagrams from the kernel and ENOBUFS are written."""
        try:
            n, pid = self.inner.recv(buf, block)
        except BufferOverrunError:
            self.writer.recv(self.sock, err=_errno.ENOBUFS)
            raise
        if pid == 0:
            self.writer.recv(self.sock, bytes(buf[:n]))
        return n, pid

    def close(self) -> None:
        """Close ``inner`` and the TRACE."""
        try:
            self.inner.close()
        finally:
            self.writer.close()


class TraceTransport:
    """A transport answered from a TRACE (see the module docstring).

    ``rules`` are ``--match`` strings (``action=error|lose|overrun`` allowed) or a ready
    ``matcher``; a request the trace does not hold raises
    :class:`~nlcore.faults.tracematch.UnknownRequest` from ``send`` (``unknown="eopnotsupp"``:
    answered NLMSGERR EOPNOTSUPP). ``sock`` picks which recorded socket this Conn plays
    (1: the first the recorded program used).
    """

    def __init__(self, src: PathOrFile | Trace, rules: Sequence[str] = (), *,
                 errno: int | str = "EACCES", extack: str | None = None,
                 action: str = "error", unknown: str = "error", pid: int = 0x4E4C,
                 sock: int = 1, matcher: Matcher | None = None) -> None:
        trace = src if isinstance(src, Trace) else read_trace(src)
        if matcher is None:
            from .seccomp.replayer import matcher_for

            matcher = matcher_for(trace, list(rules), errno, extack, action, unknown)
        self.matcher = matcher
        self._pid = pid
        opts = trace.options(sock)
        self.features = {name for name, opt in _FEATURE_OPTS.items()
                         if opts.get(f"NETLINK_{name.upper()}" if name != "strict"
                                     else "NETLINK_GET_STRICT_CHK")}
        self.queue: deque[Delivery] = deque()
        for s in range(1, sock):  # earlier recorded sockets stand for nothing here
            self.matcher.attach(("unused", s), 0)
        self._take(self.matcher.attach(_KEY, pid))
        self.closed = False

    @property
    def pid(self) -> int:
        """This transport's (fake) port id; replies carry it."""
        return self._pid

    def _take(self, out: list[tuple[object, Delivery]]) -> None:
        self.queue.extend(d for key, d in out if key == _KEY)

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Answer each message of ``data`` from the trace."""
        if self.closed:
            raise TransportError("send", _errno.EBADF, "transport closed")
        raw = bytes(data)
        for off, n in messages(raw):
            self._take(self.matcher.request(_KEY, raw[off:off + n], "ext_ack" in self.features,
                                            "cap_ack" in self.features))

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        """The next reply; ENOBUFS for a recorded or injected overrun."""
        if not self.queue:
            if block:
                raise TimeoutError(_errno.ETIMEDOUT, "no reply (the trace holds no more)")
            raise BlockingIOError(_errno.EAGAIN, "nothing queued")
        item = self.queue.popleft()
        if isinstance(item, int):
            if item == _errno.ENOBUFS:
                raise BufferOverrunError("replayed ENOBUFS")
            raise TransportError("recv", item, "replayed")
        return deliver(item, buf)

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
