"""Cancelling ``nlcore.aio.sync`` leaves a truthful partial SyncReport (the ``report``
given, ``conn.last_report`` and the CancelledError's ``report``): cancelled before the address
dump, in the middle of an apply (between the engine's batches), and at the verify dump; each
time the report's sent changes are exactly what ``ip -j`` shows changed in the namespace."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

import nlcore.aio
from nlcore.codec.spec import AddrSpec
from nlcore.ops.sync import SyncReport

N = 1200  # three engine batches of 512: an apply the cancellation can land inside


def present(kns: Any) -> set[str]:
    links = json.loads(kns.ns.run(["ip", "-j", "-4", "addr", "show", "dev", "v0"],
                                  check=True).stdout)
    return {f"{a['local']}/{a['prefixlen']}" for link in links for a in link["addr_info"]}


def cancelled_sync(kns: Any, monkeypatch: pytest.MonkeyPatch, where: str, at: int) -> Any:
    """Run aio.sync and cancel its task at the ``at``-th call of ``where``."""
    desired = [AddrSpec(f"198.18.{i // 250}.{i % 250 + 1}/32", dev="v0") for i in range(N)]
    ac = nlcore.aio.AsyncConn(ns=kns.ns)
    calls = [0]
    target = ac if where == "request" else nlcore.aio.engine.engine
    real = getattr(target, where)
    holder: dict[str, asyncio.Task[Any]] = {}

    def spy(*args: Any, **kw: Any) -> Any:
        calls[0] += 1
        if calls[0] == at:
            holder["task"].cancel()  # lands at the sync's or the apply's next await
        return real(*args, **kw)

    monkeypatch.setattr(target, where, spy)

    out = SyncReport()

    async def main() -> None:
        holder["task"] = asyncio.create_task(nlcore.aio.sync(desired, ac, report=out))
        await holder["task"]

    try:
        with pytest.raises(asyncio.CancelledError) as info:
            asyncio.run(main())
    finally:
        ac.close()
    rep = ac.last_report
    assert rep is out and rep.cancelled and not rep.ok and not rep.verified
    if sys.version_info >= (3, 11):  # await task re-raises the task's own CancelledError
        assert info.value.report is rep  # type: ignore[attr-defined]
    return rep


def sent(rep: Any, action: str) -> set[str]:
    return {c.requests[0].address for c in rep.changes
            if c.action == action and c.results and c.results[0].ok}


@pytest.mark.kernel
def test_cancel_before_the_address_dump(kns: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    kns.ns.run(["ip", "addr", "add", "198.51.100.9/24", "dev", "v0"], check=True)
    rep = cancelled_sync(kns, monkeypatch, "request", 1)  # the link dump: then cancelled
    assert rep.dumps == 1 and rep.changes == [] and rep.sends == 0
    assert present(kns) == {"198.51.100.9/24"}


@pytest.mark.kernel
def test_cancel_in_the_middle_of_an_apply(kns: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    kns.ns.run(["ip", "addr", "add", "198.51.100.9/24", "dev", "v0"], check=True)
    # engine.apply calls: 1 = the removal of 198.51.100.9, 2 = the first batch of adds
    rep = cancelled_sync(kns, monkeypatch, "apply", 2)
    statuses = [c.status for c in rep.changes if c.action == "add"]
    assert statuses.count("ok") == 512 and statuses.count("planned") == N - 512
    assert sent(rep, "remove") == {"198.51.100.9/24"} and rep.sends == 513
    assert present(kns) == sent(rep, "add") and len(present(kns)) == 512
    assert rep.counts() == {"added": 512, "removed": 1, "changed": 0, "unchanged": 0,
                            "failed": 0, "planned": N - 512}


@pytest.mark.kernel
def test_cancel_at_the_verify_dump(kns: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # request calls: 1 links, 2-3 v0's addresses (IPv4, IPv6), 4 the verify dump
    rep = cancelled_sync(kns, monkeypatch, "request", 4)
    assert rep.drift == []  # the verify dump was not taken in: nothing is known to differ
    assert all(c.status == "ok" for c in rep.changes) and len(rep.changes) == N
    assert rep.sends == N and present(kns) == sent(rep, "add") and len(present(kns)) == N
    assert rep.to_json()["cancelled"] is True
