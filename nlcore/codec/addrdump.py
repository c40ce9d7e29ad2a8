"""The address-dump fast path, kept under its first name: :func:`decode_fast` is
:func:`nlcore.codec.dumpscan.decode_dump` (address, route and neighbour dumps: one native
scan per datagram, typed messages whose attributes decode on first read; the same objects
and the same ParseError as :func:`nlcore.codec.decode.decode`)."""

from __future__ import annotations

from typing import Mapping

from .decode import Message
from .dumpscan import decode_dump


def decode_fast(buf: bytes | bytearray | memoryview,
                requests: Mapping[int, bytes] | None = None) -> list[Message]:
    """:func:`~nlcore.codec.decode.decode`, faster for dumps; same results."""
    return decode_dump(buf, requests)
