"""The cffi wrapper of csrc/attrs.c ``nlc_tlv_walk`` (see :func:`._pure_tlv.tlv_walk`, its
pure twin), kept apart from :mod:`._backend` by concern; same rules as ``_wrap_native``."""

from __future__ import annotations

from array import array
from typing import Any, Callable

from . import _pure_tlv
from ._pure_tlv import Buffer
from .errors import ParseError


def wrap(ffi: Any, lib: Any) -> dict[str, Callable[..., Any]]:
    """``{"tlv_walk": ...}`` over the extension's ``nlc_tlv_walk``."""
    fb, new = ffi.from_buffer, ffi.new

    def tlv_walk(buf: Buffer, start: int, end: int, hdr: int,
                 out: array[int]) -> tuple[int, int]:
        stop = new("size_t *")
        size = memoryview(buf).nbytes
        if hdr not in (4, 8) or not 0 <= start <= end <= size:
            return _pure_tlv.tlv_walk(buf, start, end, hdr, out)  # the same SpecError
        rc = lib.nlc_tlv_walk(fb("uint8_t[]", buf), size, start, end, hdr,
                              fb("uint32_t[]", out), len(out) // 3, stop)
        if rc < 0:  # the pure twin words the reason; the offset is the C's
            try:
                _pure_tlv.tlv_walk(buf, start, end, hdr, array("I", bytes(len(out) * 4)))
            except ParseError as exc:
                if exc.offset == stop[0]:
                    raise
            raise ParseError("malformed record", int(stop[0]))
        return int(rc), int(stop[0])

    return {"tlv_walk": tlv_walk}
