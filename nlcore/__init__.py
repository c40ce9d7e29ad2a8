"""nlcore: rtnetlink spoken directly, exact to the byte, with typed errors.

``import nlcore`` loads only the codec; sockets, the apply engine, faults and the CLI load
on first use (``nlcore.Conn``, ``nlcore.apply``...).
"""

from __future__ import annotations

from typing import Any

from ._backend import BACKEND
from .errors import (
    BufferOverrunError,
    KernelError,
    NlcoreError,
    ParseError,
    ProtocolError,
    SpecError,
    TransportError,
)
from .spec import AddrSpec
from .wire import decode, encode_addr, encode_addrs, error_of

__version__ = "0.1.0"

_LAZY = {"Conn": "conn", "NetlinkSocket": "transport", "FakeTransport": "transport",
         "apply": "engine", "apply_one": "engine", "Result": "engine", "Report": "engine", "ThrowawayNetns": "netns",
         "open_socket": "netns"}

__all__ = ["BACKEND", "AddrSpec", "BufferOverrunError", "KernelError", "NlcoreError",
           "ParseError", "ProtocolError", "SpecError", "TransportError", "decode",
           "encode_addr", "encode_addrs", "error_of", *_LAZY]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'nlcore' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{mod}", __name__), name)
