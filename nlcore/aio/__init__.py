"""asyncio forms of nlcore: ``await nlcore.aio.apply(specs, ns=...)`` returns the same Report
as :func:`nlcore.apply`; ``request``/``dump``/``sync`` and the :class:`Events` async
iterator likewise; :class:`AsyncConn` is the connection they share. No threads: every wait is
on the running loop's reader."""

from __future__ import annotations

from .conn import AsyncConn, wait_readable
from .engine import apply, dump, request, sync
from .events import Events

__all__ = ["AsyncConn", "Events", "apply", "dump", "request", "sync", "wait_readable"]
