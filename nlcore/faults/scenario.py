"""A scenario of ``nlcore repro``: how to set the kernel up, what to send, what must come back.

Kept apart from :mod:`.kernel` (the lab) so that scenario families (addresses in
:mod:`.kernel`, routes and neighbours in :mod:`.route_faults`) are declared side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..codec.errors import errno_name


@dataclass(frozen=True)
class Scenario:
    """A refusal (or, with ``error`` 0, an acceptance agents do not expect).

    ``setup(lab)`` arranges a :class:`~nlcore.faults.kernel.KernelLab`; ``request(seq)``
    is the request (ifindex 2); ``error``/``extack`` are what the kernel answers (measured on
    Linux 6.x, NETLINK_EXT_ACK on); ``spec`` is the same request as an apply() spec, for the
    engine's policies (None: none); ``layers`` are the layers that reproduce it, first the
    default; ``family`` is the family the synthetic layer's rule matches.
    """

    name: str
    summary: str
    setup: Callable[[Any], None]
    request: Callable[[int], bytes]
    error: int
    extack: str | None
    spec: Any
    layers: tuple[str, ...] = ("kernel", "synthetic", "caps")
    family: str = "inet6"

    @property
    def default_layer(self) -> str:
        """The layer ``nlcore repro`` uses without ``--layer``."""
        return self.layers[0]

    @property
    def errno_name(self) -> str:
        """EACCES, EPERM... ("ack" for an accepted request)."""
        return errno_name(-self.error) if self.error else "ack"
