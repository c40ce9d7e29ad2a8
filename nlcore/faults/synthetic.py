"""Synthetic faults at the transport seam: :class:`FaultyTransport` carries out a
:class:`~nlcore.faults.plan.FaultPlan` around any transport (a NetlinkSocket, a FakeTransport).

For each message of a send the plan picks the actions. :class:`Error` answers with an
NLMSG_ERROR built exactly as the kernel's ``netlink_ack()``
(:func:`nlcore.codec.wire.encode_error_reply`) and the request never reaches the kernel;
:class:`Drop`, :class:`Delay`, :class:`Truncate`, :class:`Garble`, :class:`Enobufs` and
:class:`Foreign` change the reply (the synthetic one, or the kernel's when there is no Error).
Messages no rule fires on go to the inner transport, re-packed into one send.
:func:`faulty_conn` is a Conn over a FaultyTransport, by default around a FakeTransport
answered by :func:`~nlcore.faults.fakekernel.fake_kernel` (it describes a device and acks the
rest; importable from here too), so the apply engine's link look-ups work with no kernel at all.
"""

from __future__ import annotations

import errno as E
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

from ..codec import consts as C
from ..codec.errors import BufferOverrunError
from ..codec.wire import encode_error_reply
from ..net.conn import Conn
from ..net.fake import FakeTransport, Reply, deliver
from ..net.transport import Transport
from .actions import Action, Delay, Drop, Enobufs, Error, Foreign, Garble, Truncate
from .fakekernel import fake_kernel
from .plan import FaultPlan, Fired, Request, Rule, When


def _split(data: bytes) -> list[bytes] | None:
    out, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 16:
            return None
        n = C.NLMSGHDR.unpack_from(data, pos)[0]
        if n < 16 or n > len(data) - pos:
            return None
        out.append(data[pos:pos + n])
        pos += C.align4(n)
    return out


def _swap(item: Reply, data: bytes) -> Reply:
    if isinstance(item, tuple):
        return data, item[1]
    return data if isinstance(item, bytes) else item


def _pad(raw: bytes) -> bytes:
    return raw + bytes(-len(raw) % 4)


@dataclass
class _Pending:
    mods: tuple[Action, ...]
    sent: float
    final_on_first: bool  # no ACK, no DUMP: the first reply is the whole answer


class FaultyTransport:
    """A :class:`~nlcore.net.transport.Transport` applying ``plan`` around ``inner``.

    ``ext_ack``/``cap_ack`` shape synthetic errors like a socket with NETLINK_EXT_ACK /
    NETLINK_CAP_ACK; None reads them from ``inner.features`` (a NetlinkSocket), else assumes
    ext_ack on and cap_ack off. Synthetic replies carry ``inner.pid`` and are delivered before
    the kernel's replies to the same send (Conn matches by seq, so order is immaterial).
    """

    def __init__(self, inner: Transport, plan: FaultPlan, *, ext_ack: bool | None = None,
                 cap_ack: bool | None = None) -> None:
        self.inner = inner
        self.plan = plan
        feats = getattr(inner, "features", None)
        self.ext_ack = ext_ack if ext_ack is not None else (feats is None or "ext_ack" in feats)
        self.cap_ack = cap_ack if cap_ack is not None else (feats is not None
                                                             and "cap_ack" in feats)
        self.timeout: float | None = getattr(inner, "timeout", None)
        self._queue: deque[tuple[float, Reply]] = deque()
        self._pending: dict[int, _Pending] = {}
        self._tmp = bytearray(1 << 16)

    @property
    def pid(self) -> int:
        """The inner transport's port id."""
        return self.inner.pid

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Act on each message the plan picks; forward the rest in one send."""
        raw = bytes(data)
        msgs = _split(raw)
        if msgs is None:
            self.inner.send(raw)
            return
        forward, now = [], time.monotonic()
        for m in msgs:
            acts = self.plan.decide(m)
            if acts is None:
                forward.append(m)
                continue
            err = next((a for a in acts if isinstance(a, Error)), None)
            mods = tuple(a for a in acts if not isinstance(a, Error))
            if err is not None:
                reply = self._error_reply(m, err)
                if reply is not None:
                    self._queue.extend(self._modify(reply, mods, now))
                continue
            lost = next((a for a in mods if isinstance(a, (Drop, Enobufs))), None)
            if lost is not None and not lost.forward:
                self._queue.extend(self._modify(b"", mods, now))
                continue
            forward.append(m)
            if mods:
                _n, tp, flags, seq, _p = C.NLMSGHDR.unpack_from(m, 0)
                dump = flags & C.NLM_F_DUMP == C.NLM_F_DUMP and tp % 4 == 2  # RTM_GET*
                self._pending[seq] = _Pending(mods, now, not flags & C.NLM_F_ACK and not dump)
        if forward:
            self.inner.send(b"".join(_pad(m) for m in forward))

    def _error_reply(self, request: bytes, err: Error) -> bytes | None:
        flags = C.NLMSGHDR.unpack_from(request, 0)[2]
        if err.error == 0 and not flags & C.NLM_F_ACK:
            return None
        capped = self.cap_ack if err.capped is None else err.capped
        return encode_error_reply(request, err.error, self.pid, msg=err.msg,
                                  offset=err.offset, cookie=err.cookie, capped=capped,
                                  ext_ack=self.ext_ack)

    def _modify(self, reply: bytes, mods: tuple[Action, ...],
                sent: float) -> list[tuple[float, Reply]]:
        rng = self.plan.rng
        due = sent
        items: list[Reply] = [reply]
        for mod in mods:
            if isinstance(mod, Drop):
                items = []
            elif isinstance(mod, Enobufs):
                items = [BufferOverrunError("injected ENOBUFS")]
            elif isinstance(mod, Delay):
                due += mod.seconds
            elif isinstance(mod, Foreign):
                items = [(reply, mod.pid)] + ([] if mod.replace else items)
            elif isinstance(mod, (Truncate, Garble)):
                reply = self._mangle(reply, mod, rng)
                items = [_swap(i, reply) for i in items]
        return [(due, i) for i in items]

    @staticmethod
    def _mangle(reply: bytes, mod: Truncate | Garble, rng: random.Random) -> bytes:
        if not reply:
            return reply
        if isinstance(mod, Truncate):
            size = mod.size if mod.size is not None else rng.randrange(1, max(2, len(reply)))
            return reply[:size]
        buf = bytearray(reply)
        spots = list(mod.offsets) if mod.offsets is not None else \
            rng.sample(range(len(buf)), min(mod.count, len(buf)))
        for p in spots:
            if 0 <= p < len(buf):
                buf[p] ^= rng.randrange(1, 256)
        return bytes(buf)

    def _absorb(self, data: bytes, sender: int) -> None:
        """Queue one datagram of the inner transport, applying pending modifiers."""
        msgs = _split(data) if self._pending and sender == 0 else None
        if not msgs or not any(C.NLMSGHDR.unpack_from(m, 0)[3] in self._pending for m in msgs):
            self._queue.append((0.0, (data, sender)))
            return
        plain: list[bytes] = []
        for m in msgs:
            _n, tp, _f, seq, _p = C.NLMSGHDR.unpack_from(m, 0)
            pend = self._pending.get(seq)
            if pend is None:
                plain.append(_pad(m))
                continue
            if plain:
                self._queue.append((0.0, b"".join(plain)))
                plain = []
            self._queue.extend(self._modify(m, pend.mods, pend.sent))
            if pend.final_on_first or tp in (C.NLMSG_ERROR, C.NLMSG_DONE):
                del self._pending[seq]
        if plain:
            self._queue.append((0.0, b"".join(plain)))

    def _pop_due(self, now: float) -> Reply | None:
        for k, (due, item) in enumerate(self._queue):
            if due <= now:
                del self._queue[k]
                return item
        return None

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        """The next reply: synthetic ones first, then the inner transport's."""
        waited = 0.0
        if len(self._tmp) < len(buf):
            self._tmp = bytearray(len(buf))
        tmp = self._tmp
        while True:
            item = self._pop_due(time.monotonic())
            if item is not None:
                return deliver(item, buf)
            try:
                n, sender = self.inner.recv(tmp, False)
            except BlockingIOError:
                pass
            else:
                self._absorb(bytes(tmp[:n]), sender)
                continue
            if not block:
                raise BlockingIOError(E.EAGAIN, "nothing queued")
            if not self._queue:
                n, sender = self.inner.recv(tmp, True)
                self._absorb(bytes(tmp[:n]), sender)
                continue
            wait = min(d for d, _ in self._queue) - time.monotonic()
            if self.timeout is not None and waited + wait > self.timeout:
                time.sleep(max(0.0, self.timeout - waited))
                raise TimeoutError(E.ETIMEDOUT, f"no reply within {self.timeout} s")
            time.sleep(max(0.0, wait))
            waited += max(0.0, wait)

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


def faulty_conn(plan: FaultPlan | Iterable[Rule], inner: Transport | None = None, *,
                seed: int = 0, **conn_options: Any) -> Conn:
    """A Conn whose transport is ``FaultyTransport(inner, plan)``; ``inner`` defaults to a
    FakeTransport answered by :func:`fake_kernel` (no kernel, no privileges)."""
    p = plan if isinstance(plan, FaultPlan) else FaultPlan(plan, seed=seed)
    t = FaultyTransport(inner if inner is not None else FakeTransport(fake_kernel()), p)
    return Conn(t, **conn_options)


__all__ = ["Action", "Delay", "Drop", "Enobufs", "Error", "FaultPlan", "FaultyTransport",
           "Fired", "Foreign", "Garble", "Request", "Rule", "Truncate", "When", "fake_kernel",
           "faulty_conn"]
