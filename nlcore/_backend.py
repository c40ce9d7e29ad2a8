"""Pick the codec backend: the cffi extension ``nlcore._native`` or the pure-Python twin.

``NLCORE_PURE=1`` forces the pure backend; so does a missing or unloadable extension (for
instance when ``nlcore/`` is copied alone into another project). ``BACKEND`` says which one
is in use; :func:`load` returns either by name, for tests that run both side by side.
"""

from __future__ import annotations

import os
from array import array
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol, cast

from . import _pure
from .errors import ParseError, SpecError

if TYPE_CHECKING:
    import socket


class Codec(Protocol):
    """What a backend provides (see csrc/nlcore.h for the contract)."""

    NAME: str

    def addr_emit(self, buf: _pure.WBuffer, recs: _pure.Buffer, seq: int,
                  pid: int) -> tuple[int, int]: ...

    def acks_scan(self, buf: _pure.Buffer, length: int, seq: array[int], err: array[int],
                  off: array[int], tf: array[int], ext: array[int] | None = None) -> int: ...

    def sock_recv(self, sock: socket.socket, buf: _pure.WBuffer, room: int,
                  max_dgrams: int) -> tuple[int, int, int, int]: ...

    def acks_match(self, buf: _pure.Buffer, length: int, first_seq: int, status: array[int],
                   count: int, pending: int,
                   detail: array[int]) -> tuple[int, int, int, int, int]: ...

    def addr_call(self, sock: socket.socket, buf: _pure.WBuffer, rec: _pure.Buffer, seq: int,
                  status: array[int], pending: int) -> tuple[int, tuple[int, ...]]: ...


_EINVAL = 22
_EBADMSG = 74


def _wrap_native(mod: ModuleType) -> Codec:
    ffi: Any = mod.ffi
    lib: Any = mod.lib
    from_buffer = ffi.from_buffer
    emitted = ffi.new("size_t *")
    stop = ffi.new("size_t *")
    rec_size = _pure.ADDR_REC.size

    def addr_emit(buf: _pure.WBuffer, recs: _pure.Buffer, seq: int,
                  pid: int) -> tuple[int, int]:
        n, rest = divmod(memoryview(recs).nbytes, rec_size)
        if rest:
            raise SpecError(f"record buffer of {memoryview(recs).nbytes} bytes is not a "
                            f"multiple of {rec_size}")
        out = from_buffer(buf, require_writable=True)
        rc = lib.nlc_addr_emit(out, len(out), from_buffer("struct nlc_addr[]", recs), n,
                               seq & 0xFFFFFFFF, pid & 0xFFFFFFFF, emitted)
        if rc < 0:
            raise SpecError(f"invalid address record {emitted[0]}")
        return int(rc), int(emitted[0])

    null = ffi.NULL

    def acks_scan(buf: _pure.Buffer, length: int, seq: array[int], err: array[int],
                  off: array[int], tf: array[int], ext: array[int] | None = None) -> int:
        src = from_buffer(buf)
        cap = min(len(seq), len(err), len(off), len(tf))
        if ext is not None:
            cap = min(cap, len(ext) // 3)
        used = max(0, min(length, len(src)))
        rc = lib.nlc_acks_scan(src, used, from_buffer("uint32_t[]", seq),
                               from_buffer("int32_t[]", err), from_buffer("uint32_t[]", off),
                               from_buffer("uint32_t[]", tf), cap, stop,
                               null if ext is None else from_buffer("uint32_t[]", ext))
        if rc < 0:
            # the pure twin words the reason; the offset is the C's
            try:
                _pure.acks_scan(buf, length, seq, err, off, tf, ext)
            except ParseError as exc:
                if exc.offset == stop[0]:
                    raise
            raise ParseError("malformed netlink message", int(stop[0]))
        return int(rc)

    rcounts = ffi.new("uint32_t[3]")
    mcounts = ffi.new("uint32_t[4]")

    def sock_recv(sock: socket.socket, buf: _pure.WBuffer, room: int,
                  max_dgrams: int) -> tuple[int, int, int, int]:
        out = from_buffer(buf, require_writable=True)
        rcounts[0] = rcounts[1] = rcounts[2] = 0
        rc = lib.nlc_sock_recv(sock.fileno(), out, len(out), room, max_dgrams, rcounts)
        if rc < 0:
            raise OSError(-rc, os.strerror(-rc)) if rc != -11 else BlockingIOError(
                11, os.strerror(11))
        return int(rc), int(rcounts[0]), int(rcounts[1]), int(rcounts[2])

    def acks_match(buf: _pure.Buffer, length: int, first_seq: int, status: array[int],
                   count: int, pending: int,
                   detail: array[int]) -> tuple[int, int, int, int, int]:
        src = from_buffer(buf)
        mcounts[0] = mcounts[1] = mcounts[2] = mcounts[3] = 0
        rc = lib.nlc_acks_match(src, max(0, min(length, len(src))), first_seq & 0xFFFFFFFF,
                                from_buffer("int32_t[]", status), min(count, len(status)),
                                pending, from_buffer("uint32_t[]", detail), len(detail),
                                mcounts)
        if rc < 0:
            return _pure.acks_match(buf, length, first_seq, status, count, pending, detail)
        return (int(rc), int(mcounts[0]), int(mcounts[1]), int(mcounts[2]), int(mcounts[3]))

    cout = ffi.new("uint32_t[8]")

    def addr_call(sock: socket.socket, buf: _pure.WBuffer, rec: _pure.Buffer, seq: int,
                  status: array[int], pending: int) -> tuple[int, tuple[int, ...]]:
        rc = lib.nlc_addr_call(sock.fileno(), from_buffer("struct nlc_addr[]", rec),
                               seq & 0xFFFFFFFF, from_buffer("uint8_t[]", buf, True),
                               len(buf), from_buffer("int32_t[]", status), pending, cout)
        if rc < 0:
            if cout[7]:
                exc = OSError(-rc, os.strerror(-rc))
                exc.stage = "send" if cout[7] == 1 else "recv"  # type: ignore[attr-defined]
                raise exc
            if rc == -_EBADMSG:
                raise ParseError("malformed netlink message in the reply", 0)
            raise SpecError("invalid address record 0" if rc == -_EINVAL
                            else f"buffer of {len(buf)} bytes is too small for addr_call")
        return int(rc), tuple(cout)

    return cast(Codec, SimpleNamespace(NAME="native", addr_emit=addr_emit,
                                       acks_scan=acks_scan, sock_recv=sock_recv,
                                       acks_match=acks_match, addr_call=addr_call))


def _try_native() -> Codec | None:
    if os.environ.get("NLCORE_PURE", "") not in ("", "0"):
        return None
    try:
        from . import _native
    except ImportError:
        return None
    return _wrap_native(_native)


_NATIVE: Codec | None = _try_native()
codec: Codec = _NATIVE if _NATIVE is not None else cast(Codec, _pure)
BACKEND: str = codec.NAME


def load(name: str) -> Codec:
    """Return the backend called ``name`` ("native" or "pure"); ImportError if unavailable."""
    if name == "pure":
        return cast(Codec, _pure)
    if name == "native":
        native = _NATIVE
        if native is None:
            from . import _native
            native = _wrap_native(_native)
        return native
    raise ValueError(f"unknown backend {name!r} (expected 'native' or 'pure')")
