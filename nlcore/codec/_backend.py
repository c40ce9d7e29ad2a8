"""Pick the codec backend: the cffi extension ``nlcore._native`` or the pure-Python twin.

``NLCORE_PURE=1`` forces the pure backend; so does a missing extension (for instance
when ``nlcore/`` is copied alone into another project), silently, or one that fails to
load, with one RuntimeWarning. ``NLCORE_REQUIRE_NATIVE=1`` makes either an ImportError.
``BACKEND`` says which one is in use; :func:`load` returns either by name, for tests that
run both side by side.
"""

from __future__ import annotations

import os
from array import array
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, cast

from . import _cffi_dump, _cffi_tlv, _cffi_window, _pure, _pure_batch, _pure_dump, _pure_tlv
from ._load import find_native
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
                  max_dgrams: int, names: bool = True) -> tuple[int, int, int, int]: ...

    def acks_match(self, buf: _pure.Buffer, length: int, first_seq: int, status: array[int],
                   count: int, pending: int,
                   detail: array[int]) -> tuple[int, int, int, int, int]: ...

    def addr_call(self, sock: socket.socket, buf: _pure.WBuffer, rec: _pure.Buffer, seq: int,
                  status: array[int], pending: int) -> tuple[int, tuple[int, ...]]: ...

    def addr_caller(self, sock: socket.socket, buf: bytearray
                    ) -> Callable[[_pure.Buffer, int, int], tuple[int, int, Sequence[int]]]: ...

    def tlv_walk(self, buf: _pure.Buffer, start: int, end: int, hdr: int,
                 out: array[int]) -> tuple[int, int]: ...

    def dump_scan(self, buf: _pure.Buffer, start: int, fixed: int,
                  out: array[int]) -> tuple[int, int]: ...

    def msgs_copy(self, buf: _pure.WBuffer, src: _pure.Buffer, max_msgs: int,
                  seq: int) -> tuple[int, int, int]: ...

    def msgs_index(self, src: _pure.Buffer, count: int) -> tuple[array[int], int] | None: ...

    def msgs_acks(self, buf: _pure.WBuffer, length: int) -> int: ...

    def status_fill(self, status: array[int], start: int, end: int, old: int,
                    new: int) -> int: ...

    def status_scan(self, status: array[int], count: int, ok: int) -> list[int]: ...

    # the engine's window loop in C (csrc/window.c); None in the pure backend, whose twin is
    # the engine's own loop in Python (nlcore.ops.batches.run_window)
    window_run: Callable[..., None] | None


_EINVAL = 22
_EBADMSG = 74


def _wrap_native(mod: ModuleType) -> Codec:
    """Python signatures around ``nlcore._native``.

    Two rules keep this safe. Out-parameters are allocated per call (the C runs without the
    GIL, so shared ones would be clobbered by another thread). ``from_buffer`` results are
    never kept in a local: they are temporaries of the call, released when it returns, so an
    exception raised afterwards cannot hold an exported buffer inside a reference cycle
    (collecting such a cycle frees the memoryview before its export: a use-after-free).
    """
    ffi: Any = mod.ffi
    lib: Any = mod.lib
    fb = ffi.from_buffer
    new = ffi.new
    null = ffi.NULL
    rec_size = _pure.ADDR_REC.size

    def addr_emit(buf: _pure.WBuffer, recs: _pure.Buffer, seq: int,
                  pid: int) -> tuple[int, int]:
        n, rest = divmod(memoryview(recs).nbytes, rec_size)
        if rest:
            raise SpecError(f"record buffer of {memoryview(recs).nbytes} bytes is not a "
                            f"multiple of {rec_size}")
        emitted = new("size_t *")
        rc = lib.nlc_addr_emit(fb("uint8_t[]", buf, True), memoryview(buf).nbytes,
                               fb("struct nlc_addr[]", recs), n, seq & 0xFFFFFFFF,
                               pid & 0xFFFFFFFF, emitted)
        if rc < 0:
            raise SpecError(f"invalid address record {emitted[0]}")
        return int(rc), int(emitted[0])

    def acks_scan(buf: _pure.Buffer, length: int, seq: array[int], err: array[int],
                  off: array[int], tf: array[int], ext: array[int] | None = None) -> int:
        cap = min(len(seq), len(err), len(off), len(tf))
        if ext is not None:
            cap = min(cap, len(ext) // 3)
        used = max(0, min(length, memoryview(buf).nbytes))
        stop = new("size_t *")
        rc = lib.nlc_acks_scan(fb("uint8_t[]", buf), used, fb("uint32_t[]", seq),
                               fb("int32_t[]", err), fb("uint32_t[]", off),
                               fb("uint32_t[]", tf), cap, stop,
                               null if ext is None else fb("uint32_t[]", ext))
        if rc < 0:
            # the pure twin words the reason; the offset is the C's
            try:
                _pure.acks_scan(buf, length, seq, err, off, tf, ext)
            except ParseError as exc:
                if exc.offset == stop[0]:
                    raise
            raise ParseError("malformed netlink message", int(stop[0]))
        return int(rc)

    def sock_recv(sock: socket.socket, buf: _pure.WBuffer, room: int,
                  max_dgrams: int, names: bool = True) -> tuple[int, int, int, int]:
        counts = new("uint32_t[3]")
        rc = lib.nlc_sock_recv(sock.fileno(), fb("uint8_t[]", buf, True),
                               memoryview(buf).nbytes, room, max_dgrams, 1 if names else 0,
                               counts)
        if rc < 0:
            if rc == -11:
                raise BlockingIOError(11, os.strerror(11))
            raise OSError(-rc, os.strerror(-rc))
        return int(rc), int(counts[0]), int(counts[1]), int(counts[2])

    def acks_match(buf: _pure.Buffer, length: int, first_seq: int, status: array[int],
                   count: int, pending: int,
                   detail: array[int]) -> tuple[int, int, int, int, int]:
        c = new("uint32_t[4]")
        used = max(0, min(length, memoryview(buf).nbytes))
        rc = lib.nlc_acks_match(fb("uint8_t[]", buf), used, first_seq & 0xFFFFFFFF,
                                fb("int32_t[]", status), min(count, len(status)), pending,
                                fb("uint32_t[]", detail), len(detail), c)
        if rc < 0:
            # the pure twin words the error and finds its offset; it runs on copies, since the
            # C already recorded what came before the malformed message, which `partial` says
            try:
                _pure.acks_match(buf, length, first_seq, array("i", status), count, pending,
                                 array("I", bytes(4 * len(detail))))
            except ParseError as exc:
                exc.partial = (exc.offset, int(c[0]), int(c[1]), int(c[2]), int(c[3]))
                raise
            raise ParseError("malformed netlink message", 0)  # unreachable: pure agrees
        return int(rc), int(c[0]), int(c[1]), int(c[2]), int(c[3])

    def _call_error(rc: int, out: Any, size: int) -> Exception:
        if out[7]:
            exc = OSError(-rc, os.strerror(-rc))
            exc.stage = "send" if out[7] == 1 else "recv"  # type: ignore[attr-defined]
            return exc
        if rc == -_EBADMSG:
            return ParseError("malformed netlink message in the reply", 0)
        return SpecError("invalid address record 0" if rc == -_EINVAL
                         else f"buffer of {size} bytes is too small for addr_call")

    def addr_caller(sock: socket.socket, buf: bytearray
                    ) -> Callable[[_pure.Buffer, int, int], tuple[int, int, Sequence[int]]]:
        # ``buf`` is a bytearray owned by the caller for good: keeping its export in this
        # closure is safe (a bytearray takes no part in cycle collection)
        # the fd is read from the socket at every call: a closed socket reads -1 (EBADF),
        # never the number of another socket that reused it
        cbuf, size = fb("uint8_t[]", buf, True), len(buf)
        st, out, f, fileno = new("int32_t[1]"), new("uint32_t[8]"), lib.nlc_addr_call, \
            sock.fileno

        def call(rec: _pure.Buffer, seq: int, pending: int) -> tuple[int, int, Sequence[int]]:
            st[0] = pending
            rc = f(fileno(), fb("struct nlc_addr[]", rec), seq & 0xFFFFFFFF, cbuf, size, st,
                   pending, out)
            if rc < 0:
                raise _call_error(rc, out, size)
            return rc, st[0], out

        return call

    def addr_call(sock: socket.socket, buf: _pure.WBuffer, rec: _pure.Buffer, seq: int,
                  status: array[int], pending: int) -> tuple[int, tuple[int, ...]]:
        out = new("uint32_t[8]")
        rc = lib.nlc_addr_call(sock.fileno(), fb("struct nlc_addr[]", rec), seq & 0xFFFFFFFF,
                               fb("uint8_t[]", buf, True), memoryview(buf).nbytes,
                               fb("int32_t[]", status), pending, out)
        if rc < 0:
            raise _call_error(rc, out, memoryview(buf).nbytes)
        return int(rc), tuple(out)

    batch = _wrap_batch(ffi, lib)
    return cast(Codec, SimpleNamespace(NAME="native", addr_emit=addr_emit,
                                       acks_scan=acks_scan, sock_recv=sock_recv,
                                       acks_match=acks_match, addr_call=addr_call,
                                       addr_caller=addr_caller,
                                       **batch, **_cffi_tlv.wrap(ffi, lib),
                                       **_cffi_dump.wrap(ffi, lib),
                                       **_cffi_window.wrap(ffi, lib)))


def _wrap_batch(ffi: Any, lib: Any) -> dict[str, Callable[..., Any]]:
    """The csrc/batch.c functions (same rules as :func:`_wrap_native`)."""
    fb, new = ffi.from_buffer, ffi.new

    def msgs_copy(buf: _pure.WBuffer, src: _pure.Buffer, max_msgs: int,
                  seq: int) -> tuple[int, int, int]:
        used, emitted = new("size_t *"), new("size_t *")
        rc = lib.nlc_msgs_copy(fb("uint8_t[]", buf, True), memoryview(buf).nbytes,
                               fb("uint8_t[]", src), memoryview(src).nbytes, max(0, max_msgs),
                               seq & 0xFFFFFFFF, used, emitted)
        if rc < 0:
            _pure_batch.msgs_copy(bytearray(memoryview(buf).nbytes), src, max_msgs, seq)
            raise ParseError("malformed netlink message", 0)  # unreachable: pure agrees
        return int(rc), int(used[0]), int(emitted[0])

    def msgs_index(src: _pure.Buffer, count: int) -> tuple[array[int], int] | None:
        count = max(0, count)
        offs = array("Q", bytes(8 * (count + 1)))
        big = new("uint32_t *")
        rc = lib.nlc_msgs_index(fb("uint8_t[]", src), memoryview(src).nbytes, count,
                                fb("uint64_t[]", offs), big)
        return None if rc < 0 else (offs, int(big[0]))

    def msgs_acks(buf: _pure.WBuffer, length: int) -> int:
        used = max(0, min(length, memoryview(buf).nbytes))
        rc = lib.nlc_msgs_acks(fb("uint8_t[]", buf, True), used)
        if rc < 0:
            _pure_batch.msgs_acks(bytearray(memoryview(buf)[:used]), used)
            raise ParseError("malformed netlink message", 0)  # unreachable: pure agrees
        return int(rc)

    def status_fill(status: array[int], start: int, end: int, old: int, new_: int) -> int:
        end = min(end, len(status))
        start = max(0, start)
        if start >= end:
            return 0
        return int(lib.nlc_status_fill(fb("int32_t[]", status), start, end, old, new_))

    def status_scan(status: array[int], count: int, ok: int) -> list[int]:
        count = max(0, min(count, len(status)))
        idx = array("I", bytes(4 * 64))
        found = int(lib.nlc_status_scan(fb("int32_t[]", status), count, ok,
                                        fb("uint32_t[]", idx), len(idx)))
        if found > len(idx):
            idx = array("I", bytes(4 * found))
            lib.nlc_status_scan(fb("int32_t[]", status), count, ok, fb("uint32_t[]", idx),
                                len(idx))
        return idx[:found].tolist()

    return {"msgs_copy": msgs_copy, "msgs_index": msgs_index, "msgs_acks": msgs_acks,
            "status_fill": status_fill, "status_scan": status_scan}


def _pure_codec() -> Codec:
    names = ("NAME", "addr_emit", "acks_scan", "sock_recv", "acks_match", "addr_call",
             "addr_caller")
    ns = {n: getattr(_pure, n) for n in names}
    for n in ("msgs_copy", "msgs_index", "msgs_acks", "status_fill", "status_scan"):
        ns[n] = getattr(_pure_batch, n)
    ns["tlv_walk"] = _pure_tlv.tlv_walk
    ns["dump_scan"] = _pure_dump.dump_scan
    ns["window_run"] = None
    return cast(Codec, SimpleNamespace(**ns))


PURE: Codec = _pure_codec()


def _try_native() -> Codec | None:
    """The native backend, or None for the pure one (the rules: :mod:`._load`)."""
    mod = find_native()
    return _wrap_native(mod) if mod is not None else None


_NATIVE: Codec | None = _try_native()
codec: Codec = _NATIVE if _NATIVE is not None else PURE
BACKEND: str = codec.NAME


def load(name: str) -> Codec:
    """Return the backend called ``name`` ("native" or "pure"); ImportError if unavailable."""
    if name == "pure":
        return PURE
    if name == "native":
        native = _NATIVE
        if native is None:
            from .. import _native
            native = _wrap_native(_native)
        return native
    raise ValueError(f"unknown backend {name!r} (expected 'native' or 'pure')")
