"""In-memory transports: :class:`FakeTransport` answers each request from a Python
function, so a real :class:`~nlcore.net.conn.Conn` runs with no kernel; :func:`deliver` is
the one queued-reply delivery the non-socket transports share (FakeTransport, the faults'
FaultyTransport and TraceTransport)."""

from __future__ import annotations

import errno
from collections import deque
from typing import Callable, Iterable, Union

from ..codec.errors import TransportError

Reply = Union[bytes, tuple[bytes, int], BaseException]
Handler = Callable[[bytes], Iterable[Reply]]


class FakeTransport:
    """A transport answered by ``handler``: request message bytes -> replies.

    Each reply is the bytes of one datagram (from the kernel, pid 0), a ``(bytes, pid)``
    pair for a datagram from another sender, or an exception instance that the matching
    ``recv`` raises (``BufferOverrunError()`` for ENOBUFS). ``split`` > 0 cuts every reply
    of more than one message into datagrams of at most ``split`` messages, so replies cross
    receives the way dump parts do.
    """

    def __init__(self, handler: Handler, pid: int = 0x4E4C, split: int = 0) -> None:
        self.handler = handler
        self._pid = pid
        self.split = split
        self.queue: deque[Reply] = deque()
        self.sent: list[bytes] = []  # every request message, in order
        self.sends = 0  # send calls
        self.closed = False

    @property
    def pid(self) -> int:
        """The fake port id."""
        return self._pid

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Split ``data`` into messages and queue the handler's replies to each."""
        if self.closed:
            raise TransportError("send", errno.EBADF, "transport closed")
        from ..codec.decode import iter_messages

        self.sends += 1
        for msg in iter_messages(bytes(data)):
            self.sent.append(msg.raw)
            for reply in self.handler(msg.raw):
                self.queue.extend(self._split(reply))

    def _split(self, reply: Reply) -> list[Reply]:
        if self.split <= 0 or not isinstance(reply, bytes):
            return [reply]
        from ..codec.decode import iter_messages

        msgs = [m.raw + bytes(-len(m.raw) % 4) for m in iter_messages(reply)]
        return [b"".join(msgs[i:i + self.split]) for i in range(0, len(msgs), self.split)]

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        """Pop the next queued reply."""
        if not self.queue:
            if block:
                raise TimeoutError(errno.ETIMEDOUT, "no reply (fake transport queue empty)")
            raise BlockingIOError(errno.EAGAIN, "nothing queued")
        return deliver(self.queue.popleft(), buf)

    def close(self) -> None:
        """Mark closed."""
        self.closed = True


def deliver(item: Reply, buf: bytearray) -> tuple[int, int]:
    """One queued reply of a transport that is not a socket into ``buf``: ``(length, sender
    pid)``. An exception item is raised; a datagram longer than ``buf`` raises the EMSGSIZE
    TransportError a socket's MSG_TRUNC gives, with its ``size`` (so the Conn grows to fit)."""
    if isinstance(item, BaseException):
        raise item
    data, pid = item if isinstance(item, tuple) else (item, 0)
    if len(data) > len(buf):
        exc = TransportError("recv", errno.EMSGSIZE,
                             f"datagram of {len(data)} bytes truncated to {len(buf)}")
        exc.size = len(data)  # type: ignore[attr-defined]
        raise exc
    buf[:len(data)] = data
    return len(data), pid


def ack_all(request: bytes) -> list[Reply]:
    """A FakeTransport handler that acks every request (error 0), as the kernel would."""
    from ..codec.wire import encode_error_reply

    return [encode_error_reply(request, 0, 0)]


__all__ = ["FakeTransport", "Handler", "Reply", "ack_all", "deliver"]
