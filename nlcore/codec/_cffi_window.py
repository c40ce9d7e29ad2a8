"""The cffi wrapper of csrc/window.c ``nlc_window_run``, the engine's window loop in C.

It has no pure twin in the codec: the pure backend (and any transport but a real socket)
runs the same loop in Python, :func:`nlcore.ops.batches.run_window`, which this one only
shortens; the tests hold the two to the same results on the kernel. Same rules as
``_wrap_native``: out-parameters belong to the caller, buffers are call temporaries.
"""

from __future__ import annotations

from array import array
from typing import Any, Callable

from ._pure_tlv import Buffer

# struct nlc_win, one uint32 each, in order (csrc/nlcore.h)
FIELDS = ("first_seq", "count", "batch", "window", "ack_last", "names", "quota", "pending",
          "sent", "settled", "stop", "err", "rlen", "foreign", "truncated", "overrun",
          "implicit")
STOPS = ("DONE", "SEND", "RECV", "WAIT", "QUOTA", "EMIT")  # NLC_WIN_*, by value


def wrap(ffi: Any, lib: Any) -> dict[str, Callable[..., Any]]:
    """``{"window_run": ...}`` over the extension's ``nlc_window_run``."""
    fb, null = ffi.from_buffer, ffi.NULL
    assert ffi.sizeof("struct nlc_win") == 4 * len(FIELDS)
    assert [getattr(lib, f"NLC_WIN_{s}") for s in STOPS] == list(range(len(STOPS)))

    def window_run(fd: int, state: array[int], status: array[int], pend: int, lost: int,
                   src: Buffer, offs: array[int] | None, sbuf: bytearray,
                   rbuf: bytearray) -> None:
        """Run the window ``state`` (an ``array("I")`` of FIELDS) on ``fd``: see
        ``nlc_window_run``. ValueError when the arguments contradict each other."""
        if state.typecode != "I" or len(state) != len(FIELDS) or status.typecode != "i" or \
                (offs is not None and offs.typecode != "Q"):
            raise ValueError("window_run: state array('I') of FIELDS, status array('i'), "
                             "offs array('Q') or None")
        rc = lib.nlc_window_run(fd, fb("struct nlc_win *", state, True),
                                fb("int32_t[]", status, True), len(status), pend, lost,
                                fb("uint8_t[]", src), memoryview(src).nbytes,
                                null if offs is None else fb("uint64_t[]", offs),
                                0 if offs is None else len(offs), fb("uint8_t[]", sbuf, True),
                                len(sbuf), fb("uint8_t[]", rbuf, True), len(rbuf))
        if rc < 0:
            raise ValueError("window_run: a window that does not fit its arguments")

    return {"window_run": window_run}
