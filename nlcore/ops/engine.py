"""The apply engine: any number of specs of any kind, one result per spec, in order.

Interface names are resolved first (a missing device fails its spec, nothing is sent for
it), the IPv6 policy is applied, then requests go out in batches (records and pre-encoded
messages alike, one syscall per batch) and every ack is matched by seq. A request whose ack
was lost (ENOBUFS, timeout, a reply cut short) is decided from the kernel's state, and
reported "lost" or "unknown" when the state cannot prove it; a batch that could not be sent
is "not-sent" with the reason. Nothing is lost and nothing is reported twice. Per-kind
behaviour lives in :mod:`.kinds`; statuses are documented in :mod:`.results`.
"""

from __future__ import annotations

import errno as E
from array import array
from operator import attrgetter
from typing import Any, Iterable, Literal, Sequence

from ..codec._backend import codec
from ..codec.errors import KernelError, SpecError
from ..codec.spec import AddrSpec
from ..net.conn import LOST, PENDING, AckWindow, Conn
from ..net.transport import NetlinkSocket
from .batches import bulk_run, make_runs, run_window
from .errors import error_for, request_error
from .kinds import Kind, kind_of, names_of
from .link import Ipv6State
from .resolve import Ipv6Policy, check_existing, preflight, resolve_lost, resolve_names
from .results import NOT_SENT, AckLostError, Ipv6DisabledError, Report, Result, Status
from .single import fast_ok, one

Acks = Literal["all", "errors"]
_DEV = attrgetter("dev")
_NEEDS_NAMES = attrgetter("needs_names")
BATCH = 256  # measured: bench/engine_curve.py (batches of 256, window = batch)

__all__ = ["BATCH", "AckLostError", "Acks", "Ipv6DisabledError", "Ipv6Policy", "Kind",
           "Report", "Result", "Status", "apply", "apply_one", "error_for"]


def apply(specs: Iterable[Any], conn: Conn | None = None, *, ns: object = None,
          exist_ok: bool = False, missing_ok: bool = False,
          ipv6_disabled: Ipv6Policy = "strict", batch: int = BATCH,
          window: int | None = None, acks: Acks = "all") -> Report:
    """Apply specs of any kind through ``conn`` (or a new Conn, in ``ns`` if given).

    ``exist_ok``: a create that meets "already there" (EEXIST) is "exists" (ok).
    ``missing_ok``: a delete that meets "not there" (EADDRNOTAVAIL for addresses) is
    "absent" (ok). ``ipv6_disabled``: for AF_INET6 non-deletes on a device whose own
    ``disable_ipv6`` is set (the Kata / GKE case), "strict" sends anyway and the EACCES
    result names the device and sysctl; "skip" does not send them ("skipped");
    "preflight-error" raises :class:`Ipv6DisabledError` before anything is sent.
    ``batch`` is the number of messages per sendmsg, ``window`` the number of requests in
    flight (default: ``batch``). ``acks="errors"`` asks for an ack only on the last message
    of each batch: the kernel still answers every failure, in order, so the others are
    proven by that ack; anything that breaks the proof (ENOBUFS, a lost final ack) is
    decided from the kernel's state.
    """
    # a bulk input (codec.bulk.AddrBulk, codec.route_bulk.RouteBulk) is taken as a whole:
    # its records or messages are sent as they are, and its items become specs only where a
    # result needs one
    items: Any = specs if isinstance(specs, list) or _is_bulk(specs) else list(specs)
    _check(ipv6_disabled, batch, window, acks)
    own = conn is None
    c = Conn(ns=ns) if conn is None else conn
    try:
        c.check_open()
        with c.lock:
            if len(items) == 1 and ipv6_disabled == "strict" and \
                    type(items[0]) is AddrSpec and not names_of(items[0]):
                st, err, reason, res = one(c, items[0])
                return _single(items, st, err, reason, res, exist_ok, missing_ok)
            return _apply(c, items, exist_ok, missing_ok, ipv6_disabled, batch,
                          window or batch, acks == "errors")
    finally:
        if own:
            c.close()


def _is_bulk(specs: Any) -> bool:
    return (hasattr(specs, "records") or hasattr(specs, "messages")) and \
        hasattr(specs, "__getitem__")


def _check(policy: str, batch: int, window: int | None, acks: str) -> None:
    if policy not in ("strict", "skip", "preflight-error"):
        raise SpecError(f"invalid ipv6_disabled policy {policy!r}: expected strict, skip "
                        f"or preflight-error")
    for what, v in (("batch", batch), ("window", window)):
        if v is None and what == "window":
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1 << 20:
            raise SpecError(f"invalid {what} {v!r}: expected an integer 1..{1 << 20}")
    if acks not in ("all", "errors"):
        raise SpecError(f"invalid acks {acks!r}: expected 'all' or 'errors'")


def _named(specs: list[Any], types: set[type]) -> bool:
    """Does any spec hold an interface name still to resolve? Kinds whose specs carry a
    ``needs_names`` attribute (RouteSpec: set at construction) are asked with no Python
    per spec; the others through their ``names()``."""
    if all(hasattr(t, "needs_names") for t in types):
        return any(map(_NEEDS_NAMES, specs))
    return any(map(names_of, specs))


def _apply(c: Conn, specs: list[Any], exist_ok: bool, missing_ok: bool, policy: Ipv6Policy,
           batch: int, window: int, ack_last: bool) -> Report:
    n = len(specs)
    reasons: dict[int, str] = {}
    errors: dict[int, KernelError | AckLostError] = {}
    early: dict[int, int] = {}  # index -> status decided before sending
    states: dict[int, Ipv6State] = {}
    bulk = _is_bulk(specs)  # records with indexes: no names to resolve
    # the fast paths: no Python per spec
    types = set() if bulk else set(map(type, specs))  # one pass, used four times
    plain = types == {AddrSpec}
    named = not bulk and (any(map(_DEV, specs)) and any(map(names_of, specs)) if plain
                          else _named(specs, types))
    if not plain and not bulk:  # every kind known before anything is sent
        for t in types:  # one spec of each type (no Python per spec)
            kind_of(next(x for x in specs if type(x) is t))
    eff = resolve_names(c, specs, errors, early) if named else specs
    todo: Sequence[int] = [i for i in range(n) if i not in early] if early else range(n)
    if policy != "strict":
        todo = preflight(c, eff, todo, policy, early, reasons, states)
    whole = len(todo) == n
    sending = eff if whole else [eff[i] for i in todo]
    runs = [bulk_run(specs)] if bulk and whole else \
        make_runs(sending, types if whole or len(types) == 1 else None)
    win = AckWindow(c.take_seqs(len(todo)), len(todo), ack_last)
    lost: dict[int, str] = {}
    sent, failure = run_window(c, win, runs, batch, window, lost)
    resolved: set[int] = set()
    if lost:
        resolve_lost(c, eff, todo, sent, win, lost, errors, resolved)
    met: list[int] = []  # exist_ok: creates that met EEXIST, compared with what exists
    for j in codec.status_scan(win.status, win.count, 0):  # failures only: one native scan
        i, st = todo[j], win.status[j]
        if st in (PENDING, LOST):
            win.status[j] = NOT_SENT
            reasons[i] = f"not sent: {failure}" if j >= sent else "no ack"
        elif st < 0:
            run = next(r for r in runs if r.start <= j < r.end)
            errors[i] = request_error(c, eff[i], win.replies.get(j), st, win.first_seq + j,
                                      run.request(j, win.first_seq + j), states)
            if exist_ok and st == -E.EEXIST:
                met.append(j)
    if met:
        check_existing(c, eff, todo, met, win.status, errors, reasons)
    if whole:
        return Report(specs, win.status, errors, reasons, resolved, exist_ok, missing_ok)
    status = array("i", bytes(4 * n))
    for i, st in early.items():
        status[i] = st
    for j, i in enumerate(todo):
        status[i] = win.status[j]
    return Report(specs, status, errors, reasons, {todo[j] for j in resolved}, exist_ok,
                  missing_ok)


def apply_one(spec: AddrSpec, conn: Conn, *, exist_ok: bool = False,
              missing_ok: bool = False) -> Result:
    """One address request, wait for its ack: the lean path (one native call on a real
    socket). Same outcome as ``apply([spec], conn, ...)[0]``, with the ``strict`` policy."""
    conn.check_open()
    if type(spec) is not AddrSpec or names_of(spec):
        return apply([spec], conn, exist_ok=exist_ok, missing_ok=missing_ok)[0]
    with conn.lock:
        if type(conn.transport) is NetlinkSocket:
            got = fast_ok(conn, spec)
            if got is None:
                return Result(spec, "ok")  # the common case: nothing else to look at
            st, err, reason, resolved = one(conn, spec, *got)
        else:
            st, err, reason, resolved = one(conn, spec)
    return _single([spec], st, err, reason, resolved, exist_ok, missing_ok)[0]


def _single(specs: list[Any], st: int, err: KernelError | AckLostError | None,
            reason: str | None, resolved: set[int], exist_ok: bool, missing_ok: bool) -> Report:
    return Report(specs, array("i", [st]), {0: err} if err else {},
                  {0: reason} if reason else {}, resolved, exist_ok, missing_ok)
