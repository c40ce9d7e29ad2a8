"""The errors of a Conn's own making (both are TransportErrors: nothing reached the kernel,
or a reply of the kernel was lost on the way)."""

from __future__ import annotations

import errno as E

from ..codec.errors import TransportError


class ClosedError(TransportError):
    """A call on a Conn after :meth:`Conn.close` (EBADF): nothing was sent."""

    def __init__(self) -> None:
        super().__init__("send", E.EBADF, "the Conn is closed")


class ReplyTruncatedError(TransportError):
    """A reply did not fit the receive buffer and was lost (EMSGSIZE). The Conn grew its
    buffer and read the rest of that exchange, so it stays usable."""

    def __init__(self, detail: str) -> None:
        super().__init__("recv", E.EMSGSIZE, detail)
