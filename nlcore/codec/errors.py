"""The nlcore error tree.

::

    NlcoreError
      SpecError(NlcoreError, ValueError)       a request spec is invalid; nothing was written
      ParseError(NlcoreError, ValueError)      malformed bytes; carries the offset
      TransportError(NlcoreError, OSError)     a syscall failed (op="send"/"recv"/"socket"...)
        BufferOverrunError(TransportError)     ENOBUFS: the kernel dropped replies
      KernelError(NlcoreError, OSError)        an NLMSGERR (or a dump's NLMSG_DONE) with errno
         + the matching OSError subclass, so that ``except PermissionError`` catches a
           netlink EPERM/EACCES, ``except FileExistsError`` catches EEXIST, and so on
      ProtocolError(NlcoreError)               wrong sender, unknown seq, dump interrupted

Errors are always raised (or handed back as a result by the apply engine), never stored inside
a message object.
"""

from __future__ import annotations

import errno as _errno
import functools
import os
from typing import TYPE_CHECKING, Any, Callable

from .consts import ERRNO_KERNEL_NAMES

if TYPE_CHECKING:
    from .values import Extack


class NlcoreError(Exception):
    """Base class of every error nlcore raises."""


class SpecError(NlcoreError, ValueError):
    """A request spec (address, prefix length, label, flag, lifetime...) is invalid.

    Raised before any byte is written; the message names the offending value.
    """


class ParseError(NlcoreError, ValueError):
    """Bytes that are not well-formed netlink; ``offset`` is where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.reason = message
        self.offset = offset
        # acks_match only: (stop, answered, outside, duplicates, ndetail) of what it matched
        # before the malformed message, so that nothing already matched is lost
        self.partial: tuple[int, int, int, int, int] | None = None


class TransportError(NlcoreError, OSError):
    """A socket syscall failed. ``op`` names it ("socket", "bind", "send", "recv", "setns")."""

    def __init__(self, op: str, err: int, detail: str = "") -> None:
        text = f"{op}: {strerror_of(err)}" + (f" ({detail})" if detail else "")
        OSError.__init__(self, err, text)
        self.op = op


class BufferOverrunError(TransportError):
    """ENOBUFS on receive: the kernel dropped replies because the receive buffer was full."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("recv", _errno.ENOBUFS, detail or "receive buffer overrun")


class ProtocolError(NlcoreError):
    """The peer broke the protocol: a reply we cannot accept, or a dump that kept changing."""


@functools.lru_cache(maxsize=256)
def strerror_of(err: int) -> str:
    """``os.strerror`` for any integer (a forged reply may carry -2^31)."""
    try:
        return os.strerror(err)
    except (OverflowError, ValueError):
        return f"Unknown error {err}"


def errno_name(err: int) -> str:
    """The kernel's name for a positive errno (``EOPNOTSUPP`` for 95, not Python's ``ENOTSUP``)."""
    err = abs(err)
    return ERRNO_KERNEL_NAMES.get(err) or _errno.errorcode.get(err, f"E{err}")


class KernelError(NlcoreError, OSError):
    """The kernel refused a request: an NLMSG_ERROR with a negative error, or a failed dump.

    Instances are created through :func:`kernel_error`, which picks the OSError subclass
    matching ``errno`` (PermissionError for EPERM/EACCES, FileExistsError for EEXIST, ...),
    so callers can catch the builtin exception they already know.

    Attributes: ``errno``, ``seq``, ``request`` (the echoed bytes: the 16-byte header when the
    kernel capped the ack, else the whole request), ``request_text`` (the request, decoded, as
    a line), ``extack`` (:class:`nlcore.codec.wire.Extack` or None) and the shortcuts ``msg``,
    ``offset``, ``attr`` (the attribute name the offset points at, e.g. ``IFA_LOCAL``),
    ``cookie``, ``policy``, ``miss_type``.

    ``detail`` (instead of ``request``, ``request_text``, ``extack`` and ``capped``) is a
    function returning those four: it runs the first time one of them is read, so an error
    that nobody looks at costs no decoding (``apply()`` builds its errors that way).
    """

    errno: int
    # class-level defaults: an instance stores only what differs (a lazy error: seq, detail)
    _detail: Callable[[], tuple[bytes, str, Extack | None, bool]] | None = None
    _request: bytes = b""
    _request_text: str = ""
    _extack: Extack | None = None
    _capped: bool = False
    hint: str | None = None  # what nlcore found out about the cause, if anything

    def __init__(self, err: int, *, seq: int = 0, request: bytes = b"", request_text: str = "",
                 extack: Extack | None = None, capped: bool = False,
                 detail: Callable[[], tuple[bytes, str, Extack | None, bool]] | None = None
                 ) -> None:
        OSError.__init__(self, err, strerror_of(err))
        self.seq = seq
        if detail is not None:
            self._detail = detail
        if request or request_text or extack is not None or capped:
            self._request, self._request_text, self._extack, self._capped = (
                request, request_text, extack, capped)

    def _resolved(self) -> KernelError:
        if self._detail is not None:
            detail, self._detail = self._detail, None
            self._request, self._request_text, self._extack, self._capped = detail()
        return self

    @property
    def request(self) -> bytes:
        """The echoed request (its 16-byte header when the kernel capped the ack)."""
        return self._resolved()._request

    @request.setter
    def request(self, value: bytes) -> None:
        self._resolved()._request = value

    @property
    def request_text(self) -> str:
        """The request, decoded, as one line (``RTM_NEWADDR fe80::1/64 dev index 2``)."""
        return self._resolved()._request_text

    @request_text.setter
    def request_text(self, value: str) -> None:
        self._resolved()._request_text = value

    @property
    def extack(self) -> Extack | None:
        """The decoded extended ack, or None."""
        return self._resolved()._extack

    @extack.setter
    def extack(self, value: Extack | None) -> None:
        self._resolved()._extack = value

    @property
    def capped(self) -> bool:
        """Whether the kernel echoed only the request's header (NETLINK_CAP_ACK)."""
        return self._resolved()._capped

    @capped.setter
    def capped(self, value: bool) -> None:
        self._resolved()._capped = value

    @property
    def msg(self) -> str | None:
        """The kernel's extended-ack message, if any."""
        return self.extack.msg if self.extack else None

    @property
    def offset(self) -> int | None:
        """Byte offset into the original request that the kernel pointed at, if any."""
        return self.extack.offset if self.extack else None

    @property
    def attr(self) -> str | None:
        """Name of the attribute the extack offset points at (e.g. ``IFA_LOCAL``), if known."""
        return self.extack.attr if self.extack else None

    @property
    def cookie(self) -> bytes | None:
        """The extack cookie, if any."""
        return self.extack.cookie if self.extack else None

    @property
    def errno_name(self) -> str:
        """The kernel's name of the errno (``EACCES``)."""
        return errno_name(self.errno)

    def __str__(self) -> str:
        head = f"{self.request_text}: " if self.request_text else ""
        text = f"{head}[Errno {self.errno}] {self.strerror}"
        if self.extack is not None:
            if self.extack.msg:
                text += f": {self.extack.msg}"
            if self.extack.attr:
                text += f" (at {self.extack.attr})"
            elif self.extack.offset is not None:
                text += f" (at offset {self.extack.offset})"
        text += f" (seq {self.seq})"
        return text + (f"; {self.hint}" if self.hint else "")

    def __reduce__(self) -> tuple[Any, ...]:
        return (kernel_error, (self.errno,), {"seq": self.seq, "request": self.request,
                                               "request_text": self.request_text,
                                               "extack": self.extack, "capped": self.capped})

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        for key, value in (state or {}).items():
            setattr(self, key, value)


_OS_CLASSES: dict[int, type[OSError]] = {
    _errno.EPERM: PermissionError, _errno.EACCES: PermissionError,
    _errno.EEXIST: FileExistsError, _errno.ENOENT: FileNotFoundError,
    _errno.ENODEV: FileNotFoundError, _errno.EADDRNOTAVAIL: OSError,
    _errno.EINTR: InterruptedError, _errno.EAGAIN: BlockingIOError,
    _errno.ETIMEDOUT: TimeoutError, _errno.ECONNREFUSED: ConnectionRefusedError,
    _errno.EBUSY: OSError, _errno.ENOTDIR: NotADirectoryError, _errno.EISDIR: IsADirectoryError,
}
_CLASS_CACHE: dict[type[OSError], type[KernelError]] = {}


def _class_for(err: int) -> type[KernelError]:
    base = _OS_CLASSES.get(err, OSError)
    if base is OSError:
        return KernelError
    cls = _CLASS_CACHE.get(base)
    if cls is None:
        cls = type(f"Kernel{base.__name__}", (KernelError, base), {"__module__": __name__})
        _CLASS_CACHE[base] = cls
    return cls


def kernel_error(err: int, **kw: Any) -> KernelError:
    """Build the KernelError for a positive ``err``; subclasses the matching OSError type."""
    return _class_for(err)(err, **kw)


__all__ = ["BufferOverrunError", "KernelError", "NlcoreError", "ParseError", "ProtocolError",
           "SpecError", "TransportError", "errno_name", "kernel_error"]
