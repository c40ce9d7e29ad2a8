"""The ``nlcore`` logger: every request sent and every reply received, decoded, at DEBUG.

Off by default (no handler is installed; the library never configures logging). Callers guard
with ``log.isEnabledFor(DEBUG)`` before calling these, so a disabled logger costs one check
per syscall and nothing is decoded. Turn it on with ``logging.basicConfig(level=DEBUG)`` or
``logging.getLogger("nlcore").setLevel(logging.DEBUG)`` plus a handler.
"""

from __future__ import annotations

import logging

from ..codec.errors import ParseError

log = logging.getLogger("nlcore")
DEBUG = logging.DEBUG


def _lines(data: bytes | bytearray | memoryview) -> list[str]:
    from ..codec.decode import decode
    from ..codec.text import describe

    raw = bytes(data)
    try:
        return [describe(m) for m in decode(raw)]
    except ParseError as exc:
        return [f"{len(raw)} bytes, malformed: {exc}"]


def sent(data: bytes | bytearray | memoryview, pid: int) -> None:
    """Log one send (any number of messages)."""
    for line in _lines(data):
        log.debug("send pid %d: %s", pid, line)


def received(data: bytes | bytearray | memoryview, pid: int) -> None:
    """Log what one receive brought (any number of messages)."""
    for line in _lines(data):
        log.debug("recv pid %d: %s", pid, line)
