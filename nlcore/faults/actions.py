"""What a fault rule does to a request: the actions of :mod:`nlcore.faults.plan`.

:class:`Error` answers instead of the kernel; :class:`Drop`, :class:`Delay`, :class:`Truncate`,
:class:`Garble`, :class:`Enobufs` and :class:`Foreign` change the reply (the synthetic one, or
the kernel's). :class:`~nlcore.faults.synthetic.FaultyTransport` carries them out.
"""

from __future__ import annotations

import errno as E
from dataclasses import dataclass
from typing import Union

from ._repr import short_repr


@dataclass(frozen=True)
class Error:
    """Answer with NLMSG_ERROR ``-errno`` (a number of either sign, or a name like "EACCES").

    ``msg``/``offset`` (an int, or an attribute name such as "IFA_LOCAL")/``cookie`` become
    extack TLVs when the socket has NETLINK_EXT_ACK; ``capped`` None follows NETLINK_CAP_ACK.
    ``Error(0)`` is a success ack (sent only when the request asked for one).
    """

    errno: int | str
    msg: str | None = None
    offset: int | str | None = None
    capped: bool | None = None
    cookie: bytes | None = None

    @property
    def error(self) -> int:
        """The NLMSGERR error field: 0 or a negative errno."""
        if isinstance(self.errno, str):
            num = getattr(E, self.errno.upper(), None)
            if not isinstance(num, int):
                raise ValueError(f"unknown errno name {self.errno!r}")
            return -num
        return -abs(self.errno)


@dataclass(frozen=True)
class Drop:
    """Lose the reply (the caller's timeout path). ``forward``: the request still reaches the
    kernel (its change happens, its ack is lost); False loses the request too."""

    forward: bool = True


@dataclass(frozen=True)
class Delay:
    """Deliver the reply ``seconds`` after the send."""

    seconds: float


@dataclass(frozen=True)
class Truncate:
    """Cut the reply datagram to ``size`` bytes (None: a length from the plan's rng); its
    nlmsg_len still claims the full length, so decoding it fails with ParseError."""

    size: int | None = None


@dataclass(frozen=True)
class Garble:
    """XOR ``count`` bytes of the reply (at ``offsets``, else at rng-chosen positions) with
    rng-chosen non-zero values."""

    count: int = 1
    offsets: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Enobufs:
    """The reply is lost to a receive-buffer overrun: the next recv raises ENOBUFS
    (BufferOverrunError). ``forward`` as for :class:`Drop`."""

    forward: bool = True


@dataclass(frozen=True)
class Foreign:
    """Also deliver a copy of the reply from port id ``pid`` (not the kernel), before the
    real one; ``replace`` delivers only the foreign copy."""

    pid: int = 0x4242
    replace: bool = False


Action = Union[Error, Drop, Delay, Truncate, Garble, Enobufs, Foreign]


for _cls in (Error, Drop, Delay, Truncate, Garble, Enobufs, Foreign):
    _cls.__repr__ = short_repr  # type: ignore[method-assign]

__all__ = ["Action", "Delay", "Drop", "Enobufs", "Error", "Foreign", "Garble", "Truncate"]
