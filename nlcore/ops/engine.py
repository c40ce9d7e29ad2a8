"""The address-apply engine: any number of specs, one result per spec, in order.

Specs are encoded straight into the send buffer by one backend call per batch, each batch
goes out in one syscall, and every ack is matched by seq. A request whose ack was lost
(ENOBUFS, timeout) is resolved by re-reading the kernel's addresses; a batch that could
not be sent is reported "not-sent" with the reason. Nothing is lost and nothing is
reported twice.
"""

from __future__ import annotations

import errno as E
from functools import partial
from typing import Callable, Iterable, Iterator, Literal, NamedTuple, Sequence, overload

from ..codec import _pure
from ..codec import consts as C
from ..codec._backend import codec
from ..codec.decode import AddrMsg, ErrorMsg, decode
from ..codec.errors import (
    BufferOverrunError,
    KernelError,
    NlcoreError,
    ParseError,
    SpecError,
    TransportError,
    kernel_error,
)
from ..codec.spec import AddrSpec
from ..codec.values import Extack
from ..codec.wire import MAX_ADDR_MSG, encode_getaddr, error_of, pack_records
from ..net.conn import LOST, PENDING, AckWindow, Conn
from ..net.transport import NetlinkSocket
from .link import Ipv6State, ipv6_state

CallResult = tuple[int, int, Sequence[int]]  # (bytes received, status, out counters)
Caller = Callable[[bytes, int, int], CallResult]
Ipv6Policy = Literal["strict", "skip", "preflight-error"]
Status = Literal["ok", "exists", "absent", "failed", "skipped", "not-sent"]
_OK_STATUSES = ("ok", "exists", "absent")
_SKIPPED = 2  # internal status codes beside PENDING (1), 0 (ack) and -errno
_NOT_SENT = 3


class Result(NamedTuple):
    """The outcome of one spec (an immutable tuple, cheap to build).

    ``status``: "ok"; "exists" (idempotent add of an address that was there); "absent"
    (idempotent delete of an address that was not); "failed" (``error`` is the KernelError
    with its extack); "skipped" (policy, ``reason`` says why); "not-sent" (a transport
    error stopped the run before this spec was sent; ``reason``). ``resolved`` is True when
    the ack was lost and the outcome was read back from the kernel's state.
    """

    spec: AddrSpec
    status: Status
    error: KernelError | None = None
    reason: str | None = None
    resolved: bool = False

    @property
    def ok(self) -> bool:
        """True for ok, exists and absent."""
        return self.status in _OK_STATUSES


class Ipv6DisabledError(SpecError):
    """Raised by the ``preflight-error`` policy before anything is sent."""


class Report(Sequence[Result]):
    """One :class:`Result` per spec, in order; built lazily from a status array so that a
    100k-address run creates no Python object for an address that simply succeeded."""

    def __init__(self, specs: Sequence[AddrSpec], status: Sequence[int],
                 errors: dict[int, KernelError], reasons: dict[int, str],
                 resolved: set[int], exist_ok: bool, missing_ok: bool) -> None:
        self.specs = specs
        self.status = status
        self.errors = errors
        self.reasons = reasons
        self.resolved = resolved
        self._exist_ok = exist_ok
        self._missing_ok = missing_ok

    def __len__(self) -> int:
        return len(self.specs)

    @overload
    def __getitem__(self, i: int) -> Result: ...
    @overload
    def __getitem__(self, i: slice) -> list[Result]: ...

    def __getitem__(self, i: int | slice) -> Result | list[Result]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        st = self.status[i]
        spec = self.specs[i]
        res = i in self.resolved
        if st == 0:
            return Result(spec, "ok", resolved=res)
        if st == _SKIPPED:
            return Result(spec, "skipped", reason=self.reasons.get(i))
        if st == _NOT_SENT or st == PENDING:
            return Result(spec, "not-sent", reason=self.reasons.get(i, "not sent"))
        if st == -E.EEXIST and self._exist_ok and spec.op == "add":
            return Result(spec, "exists", self.errors.get(i), resolved=res)
        if st == -E.EADDRNOTAVAIL and self._missing_ok and spec.op == "del":
            return Result(spec, "absent", self.errors.get(i), resolved=res)
        return Result(spec, "failed", self.errors.get(i), self.reasons.get(i), res)

    def __iter__(self) -> Iterator[Result]:
        resolved, new = self.resolved, tuple.__new__
        for i, (spec, st) in enumerate(zip(self.specs, self.status)):
            # the common case inline: a success is its tuple (Result._make's way), no more
            yield new(Result, (spec, "ok", None, None, i in resolved)) if st == 0 else self[i]

    @property
    def ok(self) -> bool:
        """True when every spec's result is ok/exists/absent."""
        return all(st == 0 for st in self.status) or all(r.ok for r in self)

    def failures(self) -> list[tuple[int, Result]]:
        """(index, result) of every spec that is not ok."""
        return [(i, self[i]) for i, st in enumerate(self.status) if st != 0
                and not self[i].ok]

    def counts(self) -> dict[str, int]:
        """How many results of each status."""
        out: dict[str, int] = {}
        for r in self:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def apply(specs: Iterable[AddrSpec], conn: Conn | None = None, *, ns: object = None,
          exist_ok: bool = False, missing_ok: bool = False,
          ipv6_disabled: Ipv6Policy = "strict", batch: int = 512,
          window: int | None = None) -> Report:
    """Apply address specs through ``conn`` (or a new Conn, in ``ns`` if given).

    ``exist_ok``: an add that meets EEXIST is "exists" (ok). ``missing_ok``: a delete that
    meets EADDRNOTAVAIL is "absent" (ok). ``ipv6_disabled``: for AF_INET6 adds on a device
    whose own ``disable_ipv6`` is set (the Kata / GKE case), "strict" sends anyway and the
    EACCES result names the device and sysctl; "skip" does not send them ("skipped");
    "preflight-error" raises :class:`Ipv6DisabledError` before anything is sent.
    ``batch`` is the number of messages per sendmsg, ``window`` the number of requests in
    flight (default: two batches, bounded by the receive buffer).
    """
    # a bulk input (codec.bulk.AddrBulk) is taken as a whole: its records are sent as they
    # are and its items become AddrSpecs only where a result needs one
    seq: Sequence[AddrSpec] = specs if isinstance(specs, list) or hasattr(specs, "records") \
        else list(specs)  # type: ignore[assignment]
    own = conn is None
    c = Conn(ns=ns) if conn is None else conn
    try:
        with c.lock:
            if len(seq) == 1 and ipv6_disabled == "strict":
                return _one_report(c, seq, exist_ok, missing_ok)
            return _apply(c, seq, exist_ok, missing_ok, ipv6_disabled, batch, window)
    finally:
        if own:
            c.close()


def _apply(c: Conn, specs: Sequence[AddrSpec], exist_ok: bool, missing_ok: bool,
           policy: Ipv6Policy, batch: int, window: int | None) -> Report:
    if policy not in ("strict", "skip", "preflight-error"):
        raise SpecError(f"invalid ipv6_disabled policy {policy!r}: expected strict, skip "
                        f"or preflight-error")
    if batch < 1:
        raise SpecError(f"invalid batch {batch!r}: expected >= 1")
    n = len(specs)
    reasons: dict[int, str] = {}
    errors: dict[int, KernelError] = {}
    todo = list(range(n))
    status = [0] * n
    states: dict[int, Ipv6State] = {}
    if policy != "strict":
        todo = _preflight(c, specs, policy, status, reasons, states)
    if len(todo) != n:
        recs = pack_records(specs[i] for i in todo)
    else:
        recs = getattr(specs, "records", None) or pack_records(specs)
    win = AckWindow(c.take_seqs(len(todo)), len(todo))
    sent, failure = _run(c, win, recs, batch, window or 2 * batch)
    for j in range(sent, win.count):
        reasons[todo[j]] = f"not sent: {failure}"
    resolved: set[int] = set()
    lost = [j for j in range(sent) if win.status[j] == LOST]
    if lost:
        _resolve(c, specs, todo, lost, win, resolved)
    for j, i in enumerate(todo):
        st = win.status[j]
        status[i] = _NOT_SENT if st in (PENDING, LOST) else st
        if st < 0:
            raw = win.replies.get(j)
            errors[i] = _error(c, specs[i], raw, st, win.first_seq + j, recs, j, states)
        elif st == 0 and i in reasons:
            del reasons[i]
    resolved = {todo[j] for j in resolved}
    return Report(specs, status, errors, reasons, resolved, exist_ok, missing_ok)


def apply_one(spec: AddrSpec, conn: Conn, *, exist_ok: bool = False,
              missing_ok: bool = False) -> Result:
    """One request, wait for its ack: the lean path (one native call on a real socket).

    Same outcome as ``apply([spec], conn, ...)[0]``, with the ``strict`` IPv6 policy.
    """
    with conn.lock:
        if type(conn.transport) is NetlinkSocket:
            seq = conn.take_seqs(1)
            try:
                first: CallResult | OSError = _caller(conn)(spec.record, seq, PENDING)
            except OSError as exc:
                first = exc
            if not isinstance(first, OSError) and first[1] == 0:
                out = first[2]
                if not (out[0] or out[1] or out[2] or out[4] or out[5]) and \
                        out[6] == 0xFFFFFFFF:
                    return Result(spec, "ok")  # the common case: nothing else to look at
            st, err, reason, resolved = _one(conn, spec, seq, first)
        else:
            st, err, reason, resolved = _one(conn, spec)
    return Report([spec], [st], {0: err} if err else {}, {0: reason} if reason else {},
                  resolved, exist_ok, missing_ok)[0]


def _one_report(c: Conn, specs: Sequence[AddrSpec], exist_ok: bool, missing_ok: bool) -> Report:
    st, err, reason, resolved = _one(c, specs[0])
    return Report(specs, [st], {0: err} if err else {}, {0: reason} if reason else {},
                  resolved, exist_ok, missing_ok)


def _one(c: Conn, spec: AddrSpec, seq: int | None = None,
         first: CallResult | OSError | None = None
         ) -> tuple[int, KernelError | None, str | None, set[int]]:
    """(status, error, reason, resolved) of one request; ``first`` is the outcome of an
    exchange already made for ``seq`` (see apply_one)."""
    win = AckWindow(c.take_seqs(1) if seq is None else seq, 1)
    try:
        if first is not None or type(c.transport) is NetlinkSocket:
            _call(c, spec, win, first)
        else:  # any other transport keeps the seam: plain send, then collect
            nbytes, _ = codec.addr_emit(c.obuf, spec.record, win.first_seq, 0)
            c.send(memoryview(c.obuf)[:nbytes])
    except TransportError as exc:
        return _NOT_SENT, None, f"not sent: {exc}", set()
    if win.pending:
        _collect(c, win, 1, 0)
    st = win.status[0]
    resolved: set[int] = set()
    if st == LOST:
        _resolve(c, [spec], [0], [0], win, resolved)
        st = win.status[0]
    err = None
    if st < 0:
        err = _error(c, spec, win.replies.get(0), st, win.first_seq, spec.record, 0, {})
    return st, err, None, resolved


def _call(c: Conn, spec: AddrSpec, win: AckWindow,
          first: CallResult | OSError | None = None) -> None:
    """The native one-call exchange; leaves ``win`` as collect() would."""
    try:
        if first is None:
            first = _caller(c)(spec.record, win.first_seq, PENDING)
        elif isinstance(first, OSError):
            raise first
    except OSError as exc:
        stage = getattr(exc, "stage", "recv")
        if stage == "send":
            raise TransportError("send", exc.errno or E.EIO, str(exc)) from None
        raise TransportError("recv", exc.errno or E.EIO, str(exc)) from None
    _got, status, out = first
    win.status[0] = status
    st = c.stats
    st.foreign += out[0]
    st.truncated += out[1]
    st.unknown_seq += out[4]
    st.duplicates += out[5]
    win.pending -= out[3]
    if out[6] != 0xFFFFFFFF:
        o = _pure.CALL_RX + out[6]
        buf = c.cbuf
        win.replies[0] = bytes(buf[o:o + int.from_bytes(buf[o:o + 4], "little")])
    if out[2]:
        st.overruns += 1
        if win.pending:
            c.mark_lost(win, 1)


def _caller(c: Conn) -> Caller:
    call = c.caller
    if call is None:
        call = c.caller = codec.addr_caller(c.transport.sock, c.cbuf)  # type: ignore
    return call


def _preflight(c: Conn, specs: Sequence[AddrSpec], policy: Ipv6Policy, status: list[int],
               reasons: dict[int, str], states: dict[int, Ipv6State]) -> list[int]:
    todo = []
    for i, s in enumerate(specs):
        if s.family == C.AF_INET6 and s.op != "del":
            st = states.get(s.index)
            if st is None:
                st = states[s.index] = ipv6_state(c, s.index)
            if st.blocked:
                if policy == "preflight-error":
                    raise Ipv6DisabledError(f"{s.text()}: {st.reason()}; nothing was sent")
                status[i] = _SKIPPED
                reasons[i] = f"skipped: {st.reason()}"
                continue
        todo.append(i)
    return todo


def _run(c: Conn, win: AckWindow, recs: bytes, batch: int,
         window: int) -> tuple[int, TransportError | None]:
    """Send all records in batches; returns (messages sent, the error that stopped it)."""
    size = AddrSpec.RECORD_SIZE
    view = memoryview(bytearray(MAX_ADDR_MSG * batch))
    rview = memoryview(recs)
    sent = 0
    window = max(window, batch)
    while sent < win.count:
        k = min(batch, win.count - sent)
        # requests carry nlmsg_pid 0, as iproute2's do; the kernel answers our port id
        nbytes, k = codec.addr_emit(view, rview[sent * size:(sent + k) * size],
                                    win.first_seq + sent, 0)
        try:
            c.send(view[:nbytes])
        except TransportError as exc:
            _collect(c, win, sent, win.count - sent)
            return sent, exc
        sent += k
        # netlink is synchronous: the acks of all that was sent are queued by now. Keep at
        # most `window - batch` unanswered while more remain, none at the end.
        unsent = win.count - sent
        _collect(c, win, sent, unsent + (window - batch if unsent else 0))
    return sent, None


def _collect(c: Conn, win: AckWindow, sent: int, target: int) -> None:
    """Receive until at most ``target`` requests are pending (unsent ones count); acks
    that the kernel dropped (ENOBUFS) or that never came (timeout) are marked LOST."""
    try:
        c.collect(win, stop_at=target)
    except BufferOverrunError:
        c.drain(win)
        c.mark_lost(win, sent)
    except TimeoutError:
        c.mark_lost(win, sent)
    except ParseError:  # replies we could not read: those requests are read back instead
        c.mark_lost(win, sent)


def _resolve(c: Conn, specs: Sequence[AddrSpec], todo: list[int], lost: list[int],
             win: AckWindow, resolved: set[int]) -> None:
    """Decide lost acks from the kernel's state: is each address there or not?"""
    families = {specs[todo[j]].family for j in lost}
    present: set[tuple[int, int, str, int]] = set()
    for fam in families:
        for m in c.request(encode_getaddr(fam)):
            if isinstance(m, AddrMsg) and m.local:
                present.add((m.index, m.family, m.local, m.prefixlen))
    for j in lost:
        s = specs[todo[j]]
        key = (s.index, s.family, _canon(s), s.prefixlen)
        there = key in present
        if s.op == "del":
            win.status[j] = 0 if not there else -E.EADDRNOTAVAIL
        else:
            win.status[j] = 0 if there else -E.ENOBUFS
        resolved.add(j)


def _canon(s: AddrSpec) -> str:
    import socket

    fam = socket.AF_INET if s.family == C.AF_INET else socket.AF_INET6
    return socket.inet_ntop(fam, socket.inet_pton(fam, s.address.partition("/")[0]))


def error_for(st: int, seq: int, raw: bytes | None, request: bytes | None,
              dev: tuple[int, str] | None = None) -> KernelError:
    """The KernelError for status ``st`` (a negative errno) of request ``seq``; its details
    (request text, extack with the attribute its offset points at) are decoded from the
    kept reply ``raw`` and the original ``request`` only when first read. ``dev`` (index,
    name) names the device in the request text."""
    return kernel_error(-st, seq=seq, detail=partial(_detail, st, seq, raw, request, dev))


def _detail(st: int, seq: int, raw: bytes | None, request: bytes | None,
            dev: tuple[int, str] | None) -> tuple[bytes, str, Extack | None, bool]:
    from ..codec.text import describe_request

    known = {seq: request} if request is not None else None
    err: KernelError | None = None
    if raw is not None:
        try:
            (m,) = decode(raw, known)
        except ParseError:  # kept replies passed the scan; a bad extack TLV stays unread
            m = None
        if isinstance(m, ErrorMsg):
            err = error_of(m, known)
    if err is not None:
        out = (err.request, err.request_text, err.extack, err.capped)
    else:
        req = request or b""
        out = (req, describe_request(req) if req else "", None, False)
    if dev is not None:
        out = (out[0], out[1].replace(f"dev index {dev[0]}", f"dev {dev[1]}"), out[2], out[3])
    return out


def _error(c: Conn, spec: AddrSpec, raw: bytes | None, st: int, seq: int, recs: bytes, j: int,
           states: dict[int, Ipv6State]) -> KernelError:
    err = error_for(st, seq, raw, _request_bytes(recs, j, seq),
                    (spec.index, spec.dev) if spec.dev else None)
    if st == -E.EACCES and spec.family == C.AF_INET6 and spec.op != "del":
        st6 = states.get(spec.index)
        if st6 is None:
            try:
                st6 = states[spec.index] = ipv6_state(c, spec.index)
            except NlcoreError:  # the hint is best effort; the error itself stands
                st6 = None
        if st6 is not None and st6.blocked:
            err.hint = st6.reason()
    return err


def _request_bytes(recs: bytes, j: int, seq: int) -> bytes:
    size = AddrSpec.RECORD_SIZE
    buf = bytearray(MAX_ADDR_MSG)
    n, _ = codec.addr_emit(buf, recs[j * size:(j + 1) * size], seq, 0)
    return bytes(buf[:n])
