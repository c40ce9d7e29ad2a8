"""The asyncio connection: a Conn whose waits happen on the event loop's reader.

:class:`AsyncConn` owns a Conn on a non-blocking socket (opened in the namespace through
:func:`nlcore.net.netns.open_socket`) and never blocks the loop: a request is sent, then each
reply datagram is read when ``loop.add_reader`` says the socket is readable. The matching and
validation are the blocking Conn's own (:class:`nlcore.net.exchange.Exchange`).

rtnetlink answers a request inside the ``sendmsg`` that carried it (its acks are queued before
the call returns; a dump's next part is made by the ``recvmsg`` of the previous one), so the
engine, driven from here, never has to wait: its Conn has a zero wait, and an ack missing
after the send returned is one the kernel dropped, resolved by the engine's own dump.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..codec.decode import Message
from ..net.conn import Conn, ReplyTruncatedError
from ..net.exchange import Attempts
from ..net.transport import NetlinkSocket


async def wait_readable(fd: int) -> None:
    """Until ``fd`` is readable, on the running loop's reader (no thread)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


class AsyncConn:
    """An asyncio netlink connection in ``ns`` (None: this namespace), or around ``conn``.

    One exchange at a time (an asyncio.Lock); tasks of one loop may share it, threads may
    not. ``timeout`` bounds each wait for a reply. ``last_report`` is the Report of the last
    :func:`nlcore.aio.apply` on it, also when that was cancelled.
    """

    def __init__(self, conn: Conn | None = None, *, ns: object = None,
                 timeout: float = 10.0, **socket_options: Any) -> None:
        if conn is None:
            sock = None
            if ns is not None:
                from ..net.netns import open_socket

                sock = open_socket(ns)  # type: ignore[arg-type]
            transport = NetlinkSocket(sock, **socket_options)
            transport.timeout = 0.0  # never wait inside the engine: see the module docstring
            conn = Conn(transport)
        self.conn = conn
        self.timeout = timeout
        self._lock: asyncio.Lock | None = None  # made in the loop that first uses it
        self.last_report: Any = None
        fileno = getattr(conn.transport, "fileno", None)
        self.fd: int | None = fileno() if callable(fileno) else None

    @property
    def lock(self) -> asyncio.Lock:
        """The one-exchange-at-a-time lock, created on first use: CPython 3.9 binds a Lock to
        the thread's current loop when it is made, and there may be none yet."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def readable(self) -> None:
        """Wait (at most ``timeout``) until a reply is queued; TimeoutError otherwise."""
        if self.fd is None:  # a FakeTransport: its replies are queued at send
            raise TimeoutError("no reply queued (fake transport)")
        await asyncio.wait_for(wait_readable(self.fd), self.timeout)

    async def request(self, msg: bytes | bytearray) -> list[Message]:
        """As :meth:`nlcore.net.conn.Conn.request`: one request (a dump: every part), its
        replies; KernelError for a failure; the same retry policy
        (:class:`nlcore.net.exchange.Attempts`), the waits on the loop."""
        async with self.lock:
            tries = Attempts(self.conn, msg)
            for ex in tries:
                try:
                    while not ex.done:
                        try:
                            ex.feed(block=False)
                        except BlockingIOError:
                            await self.readable()
                except ReplyTruncatedError as exc:
                    tries.cut(exc)
                    continue
                out = tries.finished(ex)
                if out is not None:
                    return out
        raise tries.spent()

    dump = request

    def close(self) -> None:
        """Close the socket."""
        self.conn.close()

    async def __aenter__(self) -> AsyncConn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
