"""What a sync planned, did and found afterwards: one :class:`Change` per difference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Literal, Sequence

from ..codec.decode import Message
from .engine import Result

Action = Literal["add", "remove", "change"]


def spec_text(spec: Any) -> str:
    """``198.51.100.1/24 dev v0``: a spec as errors print it."""
    text = getattr(spec, "text", None)
    return str(text()) if callable(text) else repr(spec)


@dataclass
class Change:
    """One difference between the desired and the present state, and what became of it.

    ``action``: add (missing), remove (owned but not desired), change (same identity, other
    values; ``why`` names them). ``requests`` are the specs sent (or, in a dry run, that would
    be: a change is one replace, or a delete and an add). ``results`` has one engine
    :class:`~nlcore.ops.engine.Result` per request sent; ``reason`` says why nothing was sent
    (an unknown device, an item the ownership rules do not cover). ``note`` explains a change
    the plan did not foresee (an item the kernel removed along with another).
    """

    kind: str
    action: Action
    key: Hashable
    desired: Any = None
    present: Message | None = None
    requests: list[Any] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    reason: str | None = None
    note: str | None = None

    @property
    def status(self) -> str:
        """planned (dry run or not reached), ok, failed (a result, or ``reason``)."""
        if self.reason is not None:
            return "failed"
        if len(self.results) < len(self.requests):
            return "planned" if not self.results or all(r.ok for r in self.results) \
                else "failed"
        return "ok" if all(r.ok for r in self.results) else "failed"

    @property
    def ok(self) -> bool:
        """True when every request of the change succeeded."""
        return self.status == "ok"

    def text(self) -> str:
        """``add 198.51.100.1/24 dev v0``, ``change ... (label, scope)``."""
        what = self.desired if self.desired is not None else (
            self.requests[0] if self.requests else self.key)
        out = f"{self.action} {self.kind} {spec_text(what)}"
        if self.why:
            out += f" ({', '.join(self.why)})"
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``nlcore sync -j`` prints for each change."""
        out: dict[str, Any] = {"kind": self.kind, "action": self.action,
                               "item": spec_text(self.desired if self.desired is not None
                                                 else self.requests[0] if self.requests
                                                 else self.key),
                               "status": self.status,
                               "requests": [f"{getattr(r, 'op', '?')} {spec_text(r)}"
                                            for r in self.requests]}
        if self.why:
            out["why"] = self.why
        if self.results:
            out["results"] = [_result_json(r) for r in self.results]
        for key in ("reason", "note"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _result_json(r: Result) -> dict[str, Any]:
    out: dict[str, Any] = {"status": r.status}
    if r.error is not None:
        out.update(errno=getattr(r.error, "errno_name", None), message=str(r.error))
    if r.reason:
        out["reason"] = r.reason
    if r.resolved:
        out["resolved"] = True
    return out


@dataclass
class SyncReport:
    """The outcome of one sync.

    ``changes``: every difference found, in the order applied. ``unchanged``: desired items
    already as wanted. ``drift``: what the dump after the changes still found different
    (something else changed the namespace during the sync, or the kernel refused or undid a
    change); sync never loops to chase it. ``dumps``/``sends``: requests made.
    ``cancelled``: the sync was cancelled (``nlcore.aio.sync``) before it ended; the changes
    it reached have their results, the others are "planned", nothing was verified.
    """

    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False
    drift: list[Change] = field(default_factory=list)
    verified: bool = False
    dumps: int = 0
    sends: int = 0
    cancelled: bool = False

    def counts(self) -> dict[str, int]:
        """added, removed, changed (succeeded, or planned in a dry run), unchanged, failed;
        a cancelled sync adds ``planned``: the changes it did not reach."""
        out = {"added": 0, "removed": 0, "changed": 0, "unchanged": self.unchanged, "failed": 0}
        if self.cancelled:
            out["planned"] = 0
        for c in self.changes:
            if c.status == "failed":
                out["failed"] += 1
            elif self.cancelled and c.status == "planned":
                out["planned"] += 1
            else:
                out[{"add": "added", "remove": "removed", "change": "changed"}[c.action]] += 1
        return out

    @property
    def ok(self) -> bool:
        """No change failed, nothing drifted and the sync was not cancelled."""
        return (all(c.status != "failed" for c in self.changes) and not self.drift
                and not self.cancelled)

    def to_json(self) -> dict[str, Any]:
        """The one JSON object ``nlcore sync -j`` prints."""
        return {**self.counts(), "dry_run": self.dry_run, "ok": self.ok,
                "changes": [c.to_json() for c in self.changes],
                "drift": [c.to_json() for c in self.drift], "dumps": self.dumps,
                **({"cancelled": True} if self.cancelled else {})}

    def lines(self) -> Sequence[str]:
        """One line per change and per drift, then the counts (the CLI's text output)."""
        out = [f"{'would ' if self.dry_run else ''}{c.text()}: {c.status}"
               + (f": {c.reason}" if c.reason else "")
               + "".join(f": {r.error}" for r in c.results if r.error is not None)
               + (f" ({c.note})" if c.note else "") for c in self.changes]
        out += [f"drift: {c.text()}" for c in self.drift]
        counts = self.counts()
        out.append(", ".join(f"{v} {k}" for k, v in counts.items()))
        return out
