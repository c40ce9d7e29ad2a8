"""The cffi wrapper of csrc/dump.c ``nlc_dump_scan`` (see :func:`._pure_dump.dump_scan`, its
pure twin); same rules as ``_wrap_native``: the native call, the pure twin's exception."""

from __future__ import annotations

from array import array
from typing import Any, Callable

from . import _pure_dump
from ._pure_tlv import Buffer
from .errors import ParseError


def wrap(ffi: Any, lib: Any) -> dict[str, Callable[..., Any]]:
    """``{"dump_scan": ...}`` over the extension's ``nlc_dump_scan``."""
    fb, new = ffi.from_buffer, ffi.new
    cols = int(lib.NLC_DUMP_COLS)
    assert cols == _pure_dump.COLS

    def dump_scan(buf: Buffer, start: int, fixed: int, out: array[int]) -> tuple[int, int]:
        size = memoryview(buf).nbytes
        if not 0 <= start <= size or not 0 <= fixed <= 0xFFFF or size > 0xFFFFFFFF:
            return _pure_dump.dump_scan(buf, start, fixed, out)  # the same SpecError
        stop = new("size_t *")
        rc = lib.nlc_dump_scan(fb("uint8_t[]", buf), size, start, fixed,
                               fb("uint32_t[]", out, True), len(out) // cols, stop)
        if rc < 0:  # the pure twin words the reason; the offset is the C's
            try:
                _pure_dump.dump_scan(buf, int(stop[0]), fixed, array("I", bytes(4 * cols)))
            except ParseError as exc:
                if exc.offset == stop[0]:
                    raise
            raise ParseError("malformed netlink message", int(stop[0]))
        return int(rc), int(stop[0])

    return {"dump_scan": dump_scan}
