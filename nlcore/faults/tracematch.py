"""Answer live requests from a TRACE: the replay model shared by ``nlcore replay`` (seccomp)
and the in-process :class:`~nlcore.faults.replay.TraceTransport`.

Every request *message* the trace holds is an :class:`Exchange`. A live request matches the
first unanswered exchange with the same bytes once seq and port id are masked (one on the
same recorded socket first, then any). Every recorded received datagram is released by a
*gate*: a reply (same socket, its seq and port id) by the exchange it answers, a
notification the program caused by that request, any other datagram by the last request
sent before it was read (or, before any, by its socket's first use). Released datagrams get
the live seq and port ids (both ways: the echo in an NLMSGERR is the live request's header).

Rules (``RuleSet``-like: ``decide(raw)`` and ``rules[i].errno``) turn a step into a failure:
``error`` replaces its replies with the NLMSGERR the kernel would build, ``lose`` drops them,
``overrun`` makes the next receive fail ENOBUFS as a full receive queue does; notifications
the failed request caused are dropped too.
"""

from __future__ import annotations

import errno as _errno
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Hashable, Protocol, Sequence, Union

from ..codec import consts as C
from ..codec.errors import NlcoreError
from ..codec.wire import encode_error_reply
from .trace import Trace, messages
from .tracediff import explain_unknown

_HDR = C.NLMSGHDR
Delivery = Union[bytes, int]  # a datagram, or an errno the receive fails with
ACTIONS = ("error", "lose", "overrun")


class UnknownRequest(NlcoreError, LookupError):
    """A live request the trace does not hold; the text names the closest recorded one."""


class RuleLike(Protocol):
    """What the matcher needs of ``nlcore.faults.seccomp.rules.RuleSet``."""

    rules: Sequence[Any]

    def decide(self, raw: bytes) -> int | None: ...


@dataclass
class Exchange:
    """One recorded request message and where it stands."""

    index: int  # 1.. in trace order
    sock: int
    raw: bytes
    seq: int
    port: int
    used: bool = False


@dataclass
class Item:
    """One recorded received datagram (``data``), or failed receive (``err``)."""

    sock: int
    data: bytes
    err: int
    answers: int  # the exchange it is a reply to (0: none)
    cause: int  # the exchange of this program that caused it (a notification; 0: none)


def key_of(raw: bytes) -> bytes:
    """``raw`` with seq and port id masked (what matching compares)."""
    return raw[:8] + bytes(8) + raw[16:]


class Model:
    """A trace as exchanges and gated items (built once, read-only)."""

    def __init__(self, trace: Trace) -> None:
        self.ports = trace.ports()
        self.exchanges: list[Exchange] = []
        self.by_key: dict[bytes, list[Exchange]] = defaultdict(list)
        self.gated: dict[int, list[Item]] = defaultdict(list)  # 0: released at first use
        owner = {p: s for s, p in self.ports.items()}
        latest: dict[tuple[int, int], int] = {}  # (sock, seq) -> last exchange with it
        last = 0
        for ev in trace.events:
            sock = int(ev.get("sock", 0))
            if ev["ev"] == "send":
                data = ev["data"]
                for off, n in messages(data):
                    raw = data[off:off + n]
                    seq = _HDR.unpack_from(raw, 0)[3]
                    ex = Exchange(len(self.exchanges) + 1, sock, raw, seq, self.ports.get(sock, 0))
                    self.exchanges.append(ex)
                    self.by_key[key_of(raw)].append(ex)
                    latest[(sock, seq)] = last = ex.index
            elif ev["ev"] == "recv":
                data = ev.get("data", b"")
                err = 0 if "data" in ev else getattr(_errno, str(ev.get("errno")), _errno.EIO)
                answers = cause = 0
                if len(data) >= C.NLMSG_HDRLEN:
                    _n, _t, _f, seq, pid = _HDR.unpack_from(data, 0)
                    if pid and pid == self.ports.get(sock):
                        answers = latest.get((sock, seq), 0)
                    elif pid in owner:
                        cause = latest.get((owner[pid], seq), 0)
                gate = answers or cause or last
                self.gated[gate].append(Item(sock, data, err, answers, cause))


class Matcher:
    """Live side of a replay. ``attach`` a live socket (any hashable key) before its first
    request; ``request`` returns ``(live key, Delivery)`` pairs to queue, in order.

    ``unknown``: ``"error"`` raises :class:`UnknownRequest`; ``"eopnotsupp"`` answers such
    a request with NLMSGERR -EOPNOTSUPP and notes it in ``unknowns``.
    """

    def __init__(self, trace: Trace, rules: RuleLike | None = None, errno: int = _errno.EACCES,
                 extack: str | None = None, actions: Sequence[str] = (),
                 unknown: str = "error") -> None:
        self.model = Model(trace)
        self.rules, self.errno, self.extack = rules, errno, extack
        self.actions = list(actions)  # per rule; missing: "error"
        self.unknown = unknown
        self.unknowns: list[str] = []
        self.live: dict[Hashable, int] = {}  # live key -> recorded sock
        self.rec_live: dict[int, Hashable] = {}
        self.live_port: dict[Hashable, int] = {}
        self.portmap: dict[int, int] = {}  # recorded port -> live port
        self.seqmap: dict[tuple[int, int], tuple[int, int]] = {}
        self.backlog: dict[int, list[Item]] = defaultdict(list)  # for sockets not attached
        self.stats = {"matched": 0, "failed": 0, "unknown": 0, "delivered": 0}
        self.journal: list[Exchange] = []  # exchanges answered (a caller may undo them)

    # ------------------------------------------------------------------ sockets
    def attach(self, key: Hashable, port: int) -> list[tuple[Hashable, Delivery]]:
        """Map live socket ``key`` (port ``port``) to the next recorded socket; returns
        what that socket received before it sent anything."""
        if key in self.live:
            if port and not self.live_port.get(key):
                self.live_port[key] = port
                self._map_port(self.live[key], port)
            return []
        rec = len(self.live) + 1
        self.live[key], self.rec_live[rec], self.live_port[key] = rec, key, port
        self._map_port(rec, port)
        out: list[tuple[Hashable, Delivery]] = []
        items = [it for it in self.model.gated.get(0, ()) if it.sock == rec]
        for it in items + self.backlog.pop(rec, []):
            out.append((key, self._rewrite(it, None)))
        return out

    def _map_port(self, rec: int, port: int) -> None:
        rport = self.model.ports.get(rec)
        if rport and port:
            self.portmap[rport] = port

    # ------------------------------------------------------------------ requests
    def _find(self, raw: bytes, rec: int) -> Exchange | None:
        cands = [ex for ex in self.model.by_key.get(key_of(raw), ()) if not ex.used]
        same = [ex for ex in cands if ex.sock == rec]
        pick = same or cands
        return pick[0] if pick else None

    def request(self, key: Hashable, raw: bytes, ext_ack: bool = True, cap_ack: bool = False
                ) -> list[tuple[Hashable, Delivery]]:
        """Answer one live request message ``raw`` sent on live socket ``key``."""
        rec = self.live.get(key) or 0
        port = self.live_port.get(key, 0)
        rule = self.rules.decide(raw) if self.rules is not None else None
        ex = self._find(raw, rec)
        out: list[tuple[Hashable, Delivery]] = []
        if ex is None and rule is None:
            total = len(self.model.by_key.get(key_of(raw), ()))
            text = explain_unknown(raw, [e.raw for e in self.model.exchanges], total)
            self.stats["unknown"] += 1
            if self.unknown != "eopnotsupp":
                raise UnknownRequest(text)
            self.unknowns.append(text)
            return [(key, self._synthetic(raw, -_errno.EOPNOTSUPP, port, ext_ack, cap_ack,
                                          "not in the replay trace"))]
        action = "error"
        if rule is not None:
            self.stats["failed"] += 1
            action = self.actions[rule] if rule < len(self.actions) else "error"
        else:
            self.stats["matched"] += 1
        if ex is not None:
            ex.used = True
            self.journal.append(ex)
            seq = _HDR.unpack_from(raw, 0)[3]
            self.seqmap[(ex.port, ex.seq)] = (port, seq)
        failure: Delivery | None = None
        if rule is not None and action == "error":
            err = getattr(self.rules.rules[rule], "errno", None) or self.errno  # type: ignore
            failure = self._synthetic(raw, -err, port, ext_ack, cap_ack, self.extack)
        elif rule is not None and action == "overrun":
            failure = _errno.ENOBUFS
        if ex is None:
            return [(key, failure)] if failure is not None else []
        placed = False
        for it in self.model.gated.get(ex.index, ()):
            if rule is not None and it.answers == ex.index:
                if failure is not None and not placed:
                    out.append((key, failure))
                placed = True
                continue
            if rule is not None and it.cause == ex.index:
                continue  # a notification of a change that did not happen
            dest = self.rec_live.get(it.sock)
            if dest is None:
                self.backlog[it.sock].append(it)
            else:
                out.append((dest, self._rewrite(it, raw if it.answers == ex.index else None)))
        if failure is not None and not placed:
            out.append((key, failure))
        return out

    def _synthetic(self, raw: bytes, err: int, port: int, ext_ack: bool, cap_ack: bool,
                   msg: str | None) -> bytes:
        return encode_error_reply(raw, err, port, msg=msg if ext_ack else None,
                                  capped=cap_ack, ext_ack=ext_ack)

    # ------------------------------------------------------------------ rewriting
    def _rewrite(self, it: Item, live_req: bytes | None) -> Delivery:
        """``it`` with recorded seq/port ids replaced by the live ones."""
        if it.err:
            return it.err
        buf = bytearray(it.data)
        for off, n in messages(it.data):
            seq, pid = _HDR.unpack_from(buf, off)[3:5]
            new = self.seqmap.get((pid, seq))
            if new is not None:
                _HDR.pack_into(buf, off, *_HDR.unpack_from(buf, off)[:3], new[1], new[0])
            elif pid in self.portmap:
                _HDR.pack_into(buf, off, *_HDR.unpack_from(buf, off)[:4], self.portmap[pid])
            if live_req is not None and _HDR.unpack_from(buf, off)[1] == C.NLMSG_ERROR \
                    and n >= 36:
                buf[off + 20:off + 36] = live_req[:16]  # the echo is of the live request
        self.stats["delivered"] += 1
        return bytes(buf)

    def unused(self) -> list[Exchange]:
        """Recorded requests no live request matched (for a summary)."""
        return [ex for ex in self.model.exchanges if not ex.used]
