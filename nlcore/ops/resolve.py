"""The engine's look-ups: interface names before sending, the IPv6 policy, and lost acks
after (by the kernel's state, never by a guess)."""

from __future__ import annotations

import errno as E
from collections import Counter
from typing import Any, Hashable, Literal, Sequence

from ..codec.errors import KernelError, NlcoreError, kernel_error
from ..net.conn import AckWindow, Conn
from .kinds import ipv6_devices, kind_of, names_of, resolved
from .link import Ipv6State, index_of, ipv6_state
from .results import (
    ACK_LOST,
    EXISTS_DIFFERENT,
    SKIPPED,
    UNKNOWN,
    AckLostError,
    Ipv6DisabledError,
    lost_error,
)

Ipv6Policy = Literal["strict", "skip", "preflight-error"]


def resolve_names(c: Conn, specs: Sequence[Any], errors: dict[int, KernelError | AckLostError],
                  status: dict[int, int]) -> list[Any]:
    """Specs with every interface name replaced by its index (one RTM_GETLINK per distinct
    name, cached for the run). A name that does not exist fails its spec with ENODEV naming
    the device (``status``/``errors`` by index); nothing is sent for it."""
    out = list(specs)
    cache: dict[str, int | KernelError] = {}
    for i, s in enumerate(specs):
        names = names_of(s)
        if not names:
            continue
        idx: dict[str, int] = {}
        for name in names:
            got = cache.get(name)
            if got is None:
                got = cache[name] = _lookup(c, name)
            if isinstance(got, KernelError):
                status[i] = -got.errno
                errors[i] = _named(got, s, name)
                break
            idx[name] = got
        else:
            out[i] = resolved(s, idx)
    return out


def _lookup(c: Conn, name: str) -> int | KernelError:
    try:
        return index_of(c, name)
    except KernelError as exc:
        if exc.errno in (E.ENODEV, E.ENOENT):
            return exc
        raise


def _named(exc: KernelError, spec: Any, name: str) -> KernelError:
    err = kernel_error(E.ENODEV, request_text=spec.text())
    err.hint = f'Cannot find device "{name}": nothing was sent for this request'
    return err


def preflight(c: Conn, specs: Sequence[Any], todo: Sequence[int], policy: Ipv6Policy,
              status: dict[int, int], reasons: dict[int, str],
              states: dict[int, Ipv6State]) -> list[int]:
    """Apply the IPv6-disabled policy to the kinds it covers; returns the indexes to send."""
    keep = []
    for i in todo:
        s = specs[i]
        blocked = None
        for index in ipv6_devices(s):
            st = states.get(index)
            if st is None:
                st = states[index] = ipv6_state(c, index)
            if st.blocked:
                blocked = st
                break
        if blocked is not None:
            if policy == "preflight-error":
                raise Ipv6DisabledError(f"{s.text()}: {blocked.reason()}; nothing was sent")
            status[i] = SKIPPED
            reasons[i] = f"skipped: {blocked.reason()}"
            continue
        keep.append(i)
    return keep


def resolve_lost(c: Conn, specs: Sequence[Any], todo: Sequence[int], sent: int, win: AckWindow,
                 lost: dict[int, str], errors: dict[int, KernelError | AckLostError],
                 resolved_set: set[int]) -> None:
    """Decide every lost ack (window index -> cause in ``lost``) from the kernel's state.

    The state after the fact proves a negative: when it contradicts a request (an add whose
    object is absent, a delete whose object is present) and no other request of the run
    touched that object, the request did not take effect: "lost". It proves a create only
    with creation stamps (``Kind.stamped``): an object created after one that an acked add
    of this run created (so after the run began), touched by no other request of the run,
    was made by this request: "ok" (resolved). Anything else consistent with the request
    cannot say what the request did (the object may have been so before the run, or a
    duplicate in flight made it so): "unknown", never "ok". Assumed: no other writer makes
    the same object during the run."""
    groups: dict[str, list[int]] = {}
    for j in lost:
        groups.setdefault(kind_of(specs[todo[j]]).name, []).append(j)
    for js in groups.values():
        kind = kind_of(specs[todo[js[0]]])
        present = kind.dump(c, [specs[todo[j]] for j in js]) if kind.dump else None
        touched = Counter(kind.key(specs[i]) for i in todo[:sent]
                          if kind_of(specs[i]) is kind)
        ref = _reference(specs, todo, sent, win, kind, present, touched)
        for j in js:
            s = specs[todo[j]]
            key: Hashable = kind.key(s)
            there = None if present is None else key in present
            sole = touched[key] == 1
            if there and sole and ref is not None and s.op in kind.create_ops and \
                    present[key] > ref:  # type: ignore[index]
                win.status[j] = 0
                resolved_set.add(j)
                continue
            proven = there is not None and sole and there == (s.op in kind.delete_ops)
            win.status[j] = ACK_LOST if proven else UNKNOWN
            errors[todo[j]] = lost_error(s, lost[j], there, proven)
            resolved_set.add(j)


def _reference(specs: Sequence[Any], todo: Sequence[int], sent: int, win: AckWindow, kind: Any,
               present: Any, touched: Counter[Hashable]) -> int | None:
    """The creation stamp of the first object an acked create of this run made (the kernel's
    clock at or after the run's start), or None."""
    if not kind.stamped or not isinstance(present, dict):
        return None
    status = win.status
    for j in range(sent):
        s = specs[todo[j]]
        if status[j] == 0 and s.op in kind.create_ops and kind_of(s) is kind:
            key = kind.key(s)
            if touched[key] == 1 and present.get(key, -1) >= 0:
                return int(present[key])
    return None


def check_existing(c: Conn, specs: Sequence[Any], todo: Sequence[int], met: list[int],
                   status: Any, errors: dict[int, KernelError | AckLostError],
                   reasons: dict[int, str]) -> None:
    """``exist_ok``: the creates ``met`` (window indexes) that met their kind's "already
    there" errno are "exists" only if the object that exists is the one asked for; the kind's
    ``same`` reads it back (a kernel dump) and each that differs becomes "failed" with its
    EEXIST error, the hint and reason naming what differs."""
    groups: dict[str, list[int]] = {}
    for j in met:
        spec = specs[todo[j]]
        kind = kind_of(spec)
        if kind.same is not None and status[j] == -kind.exists_errno \
                and spec.op in kind.create_ops:
            groups.setdefault(kind.name, []).append(j)
    for js in groups.values():
        kind = kind_of(specs[todo[js[0]]])
        assert kind.same is not None
        try:
            whys = kind.same(c, [specs[todo[j]] for j in js])
        except NlcoreError as exc:  # never "exists" unchecked
            whys = [f"could not read back the existing {kind.name} to compare: {exc}"] * len(js)
        for j, why in zip(js, whys):
            if why is not None:
                i = todo[j]
                status[j] = EXISTS_DIFFERENT
                reasons[i] = why
                err = errors.get(i)
                if isinstance(err, KernelError):
                    err.hint = why
