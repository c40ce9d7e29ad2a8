"""nlcore: rtnetlink spoken directly, exact to the byte, with typed errors.

``import nlcore`` loads only the backend and the errors; everything else (the codec,
sockets, the apply engine) loads on first use (``nlcore.AddrSpec``, ``nlcore.apply``...).
Faults, the CLI and the pytest plugin are never imported by the package itself.
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

__version__ = "0.1.0"

# Loaded on first use, so that ``import nlcore`` costs only the backend and the errors.
_LAZY = {
    "AddrSpec": "spec", "decode": "wire", "encode_addr": "wire", "encode_addrs": "wire",
    "error_of": "wire", "wire": "", "Conn": "conn", "NetlinkSocket": "transport",
    "FakeTransport": "transport", "apply": "engine", "apply_one": "engine", "Result": "engine",
    "Report": "engine", "ThrowawayNetns": "netns", "open_socket": "netns",
}

__all__ = ["BACKEND", "BufferOverrunError", "KernelError", "NlcoreError", "ParseError",
           "ProtocolError", "SpecError", "TransportError", *_LAZY]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'nlcore' has no attribute {name!r}")
    from importlib import import_module

    if not mod:  # a submodule
        return import_module(f".{name}", __name__)
    value = getattr(import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value
