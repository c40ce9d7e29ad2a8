"""Kernel events as an async iterator, on the loop's reader (see :mod:`nlcore.net.events`)."""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from ..net.events import GROUPS, Event, EventSocket
from .conn import wait_readable


class Events:
    """``async for ev in Events(["addr"], ns=...)``: the typed events of :class:`EventSocket`
    (RESYNC after an overrun), read when the loop says the socket is readable."""

    def __init__(self, kinds: Iterable[str] = tuple(GROUPS), *, ns: object = None,
                 **options: Any) -> None:
        self.sock = EventSocket(kinds, ns=ns, **options)
        self._queue: deque[Event] = deque()

    def __aiter__(self) -> Events:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            try:
                self._queue.extend(self.sock.read(block=False))
            except BlockingIOError:
                await wait_readable(self.sock.fileno())
        return self._queue.popleft()

    def close(self) -> None:
        """Close the event socket."""
        self.sock.close()

    async def __aenter__(self) -> Events:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
