"""nlcore: rtnetlink spoken directly, exact to the byte, with typed errors.

``import nlcore`` loads only the backend and the errors; everything else (the codec,
sockets, the apply engine) loads on first use (``nlcore.AddrSpec``, ``nlcore.apply``...).
Faults, the CLI and the pytest plugin are never imported by the package itself.
"""

from __future__ import annotations

from typing import Any

from .codec._backend import BACKEND
from .codec.errors import (
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
    "AddrSpec": "codec.spec", "decode": "codec.wire", "encode_addr": "codec.wire",
    "encode_addrs": "codec.wire", "error_of": "codec.wire", "wire": "codec.wire",
    "Conn": "net.conn", "NetlinkSocket": "net.transport", "FakeTransport": "net.fake",
    "ThrowawayNetns": "net.netns", "open_socket": "net.netns",
    "apply": "ops.engine", "apply_one": "ops.engine", "Result": "ops.engine",
    "Report": "ops.engine", "AckLostError": "ops.results", "ClosedError": "net.conn",
}

__all__ = ["BACKEND", "BufferOverrunError", "KernelError", "NlcoreError", "ParseError",
           "ProtocolError", "SpecError", "TransportError", *_LAZY]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'nlcore' has no attribute {name!r}")
    from importlib import import_module

    module = import_module(f".{mod}", __name__)
    value = module if mod.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value
