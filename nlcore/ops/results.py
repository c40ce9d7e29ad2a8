"""What apply() hands back: one :class:`Result` per spec, in a lazy :class:`Report`.

Statuses (``Result.status``):

- ``ok``: the kernel acked it, or (``acks="errors"``) a later ack of the same batch proved it
  (the kernel answers every failure, in order, before that ack), or (``resolved``) its ack
  was lost and the object's creation stamp proves this request made it (created after an
  object an acked add of this run made, and no other request of the run touched it);
- ``exists`` / ``absent``: an idempotent add / delete (``exist_ok`` / ``missing_ok``) that met
  the kernel's "already there" / "not there" errno; for kinds whose kernel key is not the
  whole object (routes, neighbours) "exists" only when a kernel dump shows the object that
  exists is the one asked for (same gateway, device, lladdr...): otherwise ``failed``, the
  EEXIST error with a hint (and ``reason``) naming what differs;
- ``failed``: the kernel refused it; ``error`` is the KernelError, extack included (a device
  name that does not exist fails here too, with ENODEV, and nothing is sent for it);
- ``lost``: its ack never came (ENOBUFS overrun, timeout, a reply cut short or a synthetic
  Drop) and the kernel's state proves the change was not made (the state contradicts it and
  no other request of the run touched the object): ``error`` is an :class:`AckLostError`,
  never a KernelError, since the kernel's answer is unknown;
- ``unknown``: its ack never came and the kernel's state is consistent with it but cannot
  prove what this request did (the object may have been so before the run, or a duplicate
  in flight made it so; a delete leaves no stamp): resolved by state, not proven;
  ``error`` (an AckLostError) says what the state is (``error.state``: "present",
  "absent");
- ``skipped``: not sent by policy (``reason``); ``not-sent``: a transport error stopped the run
  before it was sent (``reason``).
"""

from __future__ import annotations

import errno as E
from array import array
from typing import TYPE_CHECKING, Iterator, Literal, Mapping, NamedTuple, Sequence, overload

from ..codec._backend import codec
from ..codec.errors import KernelError, NlcoreError, SpecError
from ..codec.records import position
from ..net.window import LOST, PENDING

if TYPE_CHECKING:
    from .kinds import Spec

Status = Literal["ok", "exists", "absent", "failed", "lost", "unknown", "skipped", "not-sent"]
_OK_STATUSES = ("ok", "exists", "absent")
# internal status codes beside 0 (ack) and -errno; PENDING (1) and LOST (4) come from the window
SKIPPED = 2
NOT_SENT = 3
UNKNOWN = 5
ACK_LOST = 6
EXISTS_DIFFERENT = 7  # exist_ok, EEXIST, and the object that exists is not the one asked for
_CODES = {SKIPPED: "skipped", NOT_SENT: "not-sent", PENDING: "not-sent", LOST: "lost",
          UNKNOWN: "unknown", ACK_LOST: "lost", EXISTS_DIFFERENT: "failed"}


class AckLostError(NlcoreError):
    """The ack of a request never arrived (``cause``: "ENOBUFS overrun", "timeout", "reply
    cut short", "malformed reply"); ``state`` is what the kernel's dump showed afterwards
    ("present", "absent" or "unknown"). Not a KernelError: the kernel's answer is unknown."""

    def __init__(self, text: str, cause: str, state: str, proven: bool) -> None:
        self.text = text
        self.cause = cause
        self.state = state
        self.proven = proven
        how = "the kernel's state shows the change was not made" if proven else \
            f"the object is {state}, which cannot prove what this request did (it may have " \
            f"been so before, or another request of this run may have made it so)"
        super().__init__(f"{text}: ack lost ({cause}); {how}")


class Ipv6DisabledError(SpecError):
    """Raised by the ``preflight-error`` policy before anything is sent."""


class Result(NamedTuple):
    """The outcome of one spec (an immutable tuple, cheap to build); see the module doc for
    the statuses. ``resolved`` is True when the ack was lost and the outcome was read back
    from the kernel's state."""

    spec: Spec
    status: Status
    error: KernelError | AckLostError | None = None
    reason: str | None = None
    resolved: bool = False

    @property
    def ok(self) -> bool:
        """True for ok, exists and absent."""
        return self.status in _OK_STATUSES

    def __repr__(self) -> str:
        what = self.spec.text() if hasattr(self.spec, "text") else repr(self.spec)
        out = f"<Result {self.status} {what}"
        if self.error is not None:
            out += f": {self.error}"
        elif self.reason:
            out += f": {self.reason}"
        return out + (" (resolved)>" if self.resolved else ">")


class Report(Sequence[Result]):
    """One :class:`Result` per spec, in order; built lazily from the status array (int32:
    0, -errno or an internal code), so that a 100k-address run creates no Python object for
    an address that simply succeeded."""

    def __init__(self, specs: Sequence[Spec], status: array[int],
                 errors: Mapping[int, KernelError | AckLostError], reasons: Mapping[int, str],
                 resolved: set[int], exist_ok: bool, missing_ok: bool) -> None:
        self.specs = specs
        self.status = status
        self.errors = errors
        self.reasons = reasons
        self.resolved = resolved
        self._exist_ok = exist_ok
        self._missing_ok = missing_ok
        self._bad: list[int] | None = None

    def __len__(self) -> int:
        return len(self.specs)

    @overload
    def __getitem__(self, i: int) -> Result: ...
    @overload
    def __getitem__(self, i: slice) -> list[Result]: ...

    def __getitem__(self, i: int | slice) -> Result | list[Result]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = position(i, len(self), "Report")
        st = self.status[i]
        spec = self.specs[i]
        res = i in self.resolved
        if st == 0:
            return Result(spec, "ok", resolved=res)
        code = _CODES.get(st)
        if code is not None:
            return Result(spec, code, self.errors.get(i), self.reasons.get(i, code),  # type: ignore[arg-type]
                          res)
        from .kinds import kind_of

        kind = kind_of(spec)
        if st == -kind.exists_errno and self._exist_ok and spec.op in kind.create_ops:
            return Result(spec, "exists", self.errors.get(i), resolved=res)
        if -st in kind.absent_errnos and self._missing_ok and spec.op in kind.delete_ops:
            return Result(spec, "absent", self.errors.get(i), resolved=res)
        return Result(spec, "failed", self.errors.get(i), self.reasons.get(i), res)

    def __iter__(self) -> Iterator[Result]:
        resolved, new = self.resolved, tuple.__new__
        for i, (spec, st) in enumerate(zip(self.specs, self.status)):
            # the common case inline: a success is its tuple (Result._make's way), no more
            yield new(Result, (spec, "ok", None, None, i in resolved)) if st == 0 else self[i]

    def not_ok_indexes(self) -> list[int]:
        """Indexes whose status is not a plain ack (one native scan, cached)."""
        if self._bad is None:
            self._bad = codec.status_scan(self.status, len(self.status), 0)
        return self._bad

    @property
    def ok(self) -> bool:
        """True when every spec's result is ok/exists/absent."""
        return all(self[i].ok for i in self.not_ok_indexes())

    def failures(self) -> list[tuple[int, Result]]:
        """(index, result) of every spec that is not ok."""
        return [(i, r) for i in self.not_ok_indexes() if not (r := self[i]).ok]

    def counts(self) -> dict[str, int]:
        """How many results of each status."""
        bad = self.not_ok_indexes()
        out: dict[str, int] = {"ok": len(self) - len(bad)} if len(self) > len(bad) else {}
        for i in bad:
            st = self[i].status
            out[st] = out.get(st, 0) + 1
        return out

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts().items()))
        fails = self.failures()
        out = f"<Report of {len(self)}: {counts or 'empty'}"
        for i, r in fails[:3]:
            out += f"; #{i} {r.status} {r.spec.text()}"
            if r.error is not None:
                out += f" ({getattr(r.error, 'errno_name', type(r.error).__name__)})"
        if len(fails) > 3:
            out += f"; {len(fails) - 3} more failures"
        return out + ">"


def lost_error(spec: Spec, cause: str, there: bool | None, proven: bool) -> AckLostError:
    """The AckLostError of a request whose ack was lost (``there``: the dump's answer)."""
    state = "unknown" if there is None else "present" if there else "absent"
    return AckLostError(spec.text(), cause, state, proven)


__all__ = ["ACK_LOST", "EXISTS_DIFFERENT", "NOT_SENT", "SKIPPED", "UNKNOWN", "AckLostError", "E",
           "Ipv6DisabledError", "Report", "Result", "Status", "lost_error"]
