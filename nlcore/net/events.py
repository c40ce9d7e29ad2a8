"""Kernel events: rtnetlink multicast groups on a socket of their own, as typed events.

:class:`EventSocket` joins the link, address, route and neighbour groups (IPv4 and IPv6) of
one namespace and yields an :class:`Event` for every message the kernel multicasts. When the
socket's receive buffer overflows, the kernel drops events and says so only with ENOBUFS on
the next receive: that becomes an explicit ``RESYNC`` event (``resync`` True), never a silent
loss; whoever keeps state from events must then re-read it (a dump) and go on.

Not thread-safe (one reader); fork: the child must not read a parent's EventSocket (the
socket and its groups are shared). ``nlcore.aio.Events`` is the async iterator form.
"""

from __future__ import annotations

import errno as E
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..codec import consts as C
from ..codec.decode import Message, decode
from ..codec.errors import BufferOverrunError, SpecError
from .transport import NetlinkSocket

# include/uapi/linux/rtnetlink.h, enum rtnetlink_groups
RTNLGRP_LINK = 1
RTNLGRP_NEIGH = 3
RTNLGRP_IPV4_IFADDR = 5
RTNLGRP_IPV4_ROUTE = 7
RTNLGRP_IPV6_IFADDR = 9
RTNLGRP_IPV6_ROUTE = 11
#: the groups of each kind of object
GROUPS: dict[str, tuple[int, ...]] = {
    "link": (RTNLGRP_LINK,), "addr": (RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR),
    "route": (RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE), "neigh": (RTNLGRP_NEIGH,)}
KINDS = {C.RTM_NEWLINK: "link", C.RTM_DELLINK: "link", C.RTM_NEWADDR: "addr",
         C.RTM_DELADDR: "addr", C.RTM_NEWROUTE: "route", C.RTM_DELROUTE: "route",
         28: "neigh", 29: "neigh"}  # RTM_NEWNEIGH, RTM_DELNEIGH
RESYNC = "RESYNC"
_NAMES = {28: "RTM_NEWNEIGH", 29: "RTM_DELNEIGH"}  # until the codec's table has them


def _name(m: Message) -> str:
    return C.MSG_TYPE_NAMES.get(m.header.type) or _NAMES.get(m.header.type, m.type_name)


@dataclass(frozen=True)
class Event:
    """One kernel event: ``event`` is the message type's name (``RTM_NEWADDR``...) and
    ``message`` the decoded message (AddrMsg, LinkMsg...). ``event == "RESYNC"`` (``resync``
    True, ``message`` None) means the kernel dropped events (ENOBUFS): re-read the state."""

    event: str
    message: Message | None = None

    @property
    def resync(self) -> bool:
        """True for the overrun event."""
        return self.event == RESYNC

    @property
    def kind(self) -> str | None:
        """``link``, ``addr``, ``route`` or ``neigh`` (None for RESYNC and other messages)."""
        return None if self.message is None else KINDS.get(self.message.header.type)

    @property
    def deleted(self) -> bool:
        """True for RTM_DEL* events."""
        return self.event.startswith("RTM_DEL")


def groups_of(kinds: Iterable[str]) -> list[int]:
    """The multicast groups of ``kinds`` (``["addr"]`` -> IPv4 and IPv6 address groups)."""
    out: list[int] = []
    for k in kinds:
        if k not in GROUPS:
            raise SpecError(f"unknown event kind {k!r}: expected one of {', '.join(GROUPS)}")
        out += [g for g in GROUPS[k] if g not in out]
    return out


class EventSocket:
    """A socket joined to the groups of ``kinds`` in namespace ``ns`` (None: this one).

    ``rcvbuf``: the receive buffer asked for (a burst larger than it ends in RESYNC).
    Iterate for events (blocking); :meth:`read` takes what one receive returns.
    """

    def __init__(self, kinds: Iterable[str] = tuple(GROUPS), *, ns: object = None,
                 rcvbuf: int = 1 << 20) -> None:
        groups = groups_of(kinds)
        sock = None
        if ns is not None:
            from .netns import open_socket

            sock = open_socket(ns, proto=C.NETLINK_ROUTE)  # type: ignore[arg-type]
        self.transport = NetlinkSocket(sock, rcvbuf=rcvbuf, timeout=None)
        self.transport.kernel_only = False  # a group member: other senders can reach it
        try:
            for g in groups:
                self.transport.sock.setsockopt(C.SOL_NETLINK, C.NETLINK_ADD_MEMBERSHIP, g)
        except OSError:
            self.transport.close()
            raise
        self.groups = groups
        self.buf = bytearray(1 << 16)
        self.overruns = 0
        self.foreign = 0

    def fileno(self) -> int:
        """The socket's fd (for select, or an event loop's reader)."""
        return self.transport.fileno()

    def read(self, block: bool = True) -> list[Event]:
        """The events of one datagram (``[RESYNC]`` after an overrun). With ``block`` False,
        BlockingIOError when nothing is queued."""
        while True:
            try:
                n, sender = self.transport.recv(self.buf, block)
            except BufferOverrunError:
                self.overruns += 1
                return [Event(RESYNC)]
            except OSError as exc:
                if exc.errno == E.EMSGSIZE:  # a datagram larger than buf was cut: events lost
                    self.buf = bytearray(len(self.buf) * 2)
                    self.overruns += 1
                    return [Event(RESYNC)]
                raise
            if sender != 0:  # only the kernel multicasts on rtnetlink groups
                self.foreign += 1
                continue
            return [Event(_name(m), m) for m in decode(memoryview(self.buf)[:n])]

    def __iter__(self) -> Iterator[Event]:
        while True:
            yield from self.read()

    def close(self) -> None:
        """Leave the groups and close the socket."""
        self.transport.close()

    def __enter__(self) -> EventSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

