"""nlcore.aio with plain ``asyncio.run``: the same Reports as the blocking API, ten namespaces
driven from one loop, cancellation that leaves a truthful report, request/dump/sync on the
loop's reader, and the events async iterator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import NetnsEnv

import nlcore
import nlcore.aio
from nlcore.codec import consts as C
from nlcore.codec.decode import AddrMsg
from nlcore.codec.errors import KernelError
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_getaddr, encode_getlink
from nlcore.net.conn import Conn
from nlcore.net.fake import FakeTransport, ack_all
from nlcore.net.netns import ThrowawayNetns


def specs_for(index: int, n: int, base: int = 0) -> list[AddrSpec]:
    return [AddrSpec(f"198.18.{(base + i) // 250}.{(base + i) % 250 + 1}/32", index=index)
            for i in range(n)]


def outcome(report: Any) -> list[tuple[str, int | None, bool]]:
    return [(r.status, r.error.errno if r.error else None, r.resolved) for r in report]


def test_fake_transport_same_report() -> None:
    specs = specs_for(2, 1000)
    sync_rep = nlcore.apply(specs, Conn(FakeTransport(ack_all)))

    async def main() -> Any:
        return await nlcore.aio.apply(specs, nlcore.aio.AsyncConn(Conn(FakeTransport(ack_all))),
                                      batch=128)

    rep = asyncio.run(main())
    assert isinstance(rep, nlcore.Report) and outcome(rep) == outcome(sync_rep)
    assert rep.ok and len(rep) == 1000


@pytest.mark.kernel
def test_same_results_as_the_blocking_api(kns: Any) -> None:
    other = NetnsEnv(ThrowawayNetns())
    try:
        def mixed(env: Any) -> list[AddrSpec]:
            s = specs_for(env.v0, 700)
            return s + [s[5], AddrSpec("198.51.100.1/24", index=env.v0, op="del"),
                        AddrSpec("2001:db8::1/64", index=env.v0, flags="nodad"),
                        AddrSpec("198.51.100.2/24", index=999)]

        sync_rep = nlcore.apply(mixed(kns), kns.conn, exist_ok=True)

        async def main() -> Any:
            return await nlcore.aio.apply(mixed(other), ns=other.ns, exist_ok=True, batch=256)

        rep = asyncio.run(main())
        assert outcome(rep) == outcome(sync_rep)
        assert [r.status for r in rep][-4:] == ["exists", "failed", "ok", "failed"]
        assert rep[-1].error is not None and rep[-1].error.errno == 19
        assert other.addrs() == kns.addrs() and len(other.addrs()) == 701
    finally:
        other.close()


@pytest.mark.kernel
def test_ten_namespaces_from_one_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    envs = []
    try:
        for _ in range(10):
            envs.append(NetnsEnv(ThrowawayNetns()))
    except OSError as exc:
        for e in envs:
            e.close()
        pytest.skip(f"no throwaway namespaces here: {exc}")
    order: list[int] = []
    real = nlcore.aio.engine.engine.apply

    def spy(specs: Any, conn: Any, **kw: Any) -> Any:
        order.append(next(i for i, c in enumerate(conns) if c.conn is conn))
        return real(specs, conn, **kw)

    monkeypatch.setattr(nlcore.aio.engine.engine, "apply", spy)
    try:
        async def main() -> list[Any]:
            return await asyncio.gather(*(nlcore.aio.apply(specs_for(e.v0, 1000, i), c,
                                                           batch=200)
                                          for i, (e, c) in enumerate(zip(envs, conns))))

        conns = [nlcore.aio.AsyncConn(ns=e.ns) for e in envs]
        reports = asyncio.run(main())
        assert all(r.ok and len(r) == 1000 for r in reports)
        for i, e in enumerate(envs):
            assert e.addrs() == {(s.address.split("/")[0], 32)
                                 for s in specs_for(e.v0, 1000, i)}
        # interleaved: every namespace's first batch went before any namespace's last
        assert len(order) == 50 and set(order[:10]) == set(range(10))
    finally:
        for c in conns:
            c.close()
        for e in envs:
            e.close()


@pytest.mark.kernel
def test_cancellation_leaves_a_truthful_report(kns: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = specs_for(kns.v0, 2000)
    real = nlcore.aio.engine.engine.apply
    calls: list[int] = []

    def spy(chunk: Any, conn: Any, **kw: Any) -> Any:
        calls.append(len(chunk))
        if len(calls) == 3:
            task.cancel()  # lands at the next await, between batches
        return real(chunk, conn, **kw)

    monkeypatch.setattr(nlcore.aio.engine.engine, "apply", spy)
    ac = nlcore.aio.AsyncConn(ns=kns.ns)

    async def main() -> None:
        global task
        task = asyncio.create_task(nlcore.aio.apply(specs, ac, batch=100))
        await task

    with pytest.raises(asyncio.CancelledError) as info:
        asyncio.run(main())
    rep = ac.last_report
    ac.close()
    assert getattr(info.value, "report", rep) is rep
    assert [r.status for r in rep].count("ok") == 300 and len(rep) == 2000
    assert {r.reason for r in rep[300:]} == {"not sent: cancelled"}
    assert kns.addrs() == {(s.address.split("/")[0], 32) for s in specs[:300]}


task: asyncio.Task[Any]


@pytest.mark.kernel
def test_request_dump_and_errors_on_the_loop_reader(kns: Any) -> None:
    nlcore.apply(specs_for(kns.v0, 50), kns.conn)
    want = [m.raw for m in kns.conn.request(encode_getaddr(C.AF_INET, kns.v0))]

    async def main() -> Any:
        async with nlcore.aio.AsyncConn(ns=kns.ns) as ac:
            got = await ac.dump(encode_getaddr(C.AF_INET, kns.v0))
            with pytest.raises(KernelError) as info:
                await ac.request(encode_getlink(name="nosuch0"))
            links = await nlcore.aio.request(encode_getlink(dump=True), ac)
            return got, info.value, links

    got, err, links = asyncio.run(main())
    assert len(got) == 50 and all(isinstance(m, AddrMsg) for m in got)
    assert [m.raw[:8] + m.raw[16:] for m in got] == [w[:8] + w[16:] for w in want]
    assert err.errno == 19 and {m.ifname for m in links} >= {"lo", "v0", "v1"}


@pytest.mark.kernel
def test_aio_sync_converges_then_sends_only_dumps(kns: Any) -> None:
    kns.ns.run(["ip", "addr", "add", "198.51.100.9/24", "dev", "v0"], check=True)
    desired = [AddrSpec("198.51.100.1/24", dev="v0"), AddrSpec("2001:db8::1/64", dev="v0",
                                                               flags="nodad")]

    async def main() -> Any:
        async with nlcore.aio.AsyncConn(ns=kns.ns) as ac:
            first = await nlcore.aio.sync(desired, ac)
            second = await nlcore.aio.sync(desired, ac)
            return first, second

    first, second = asyncio.run(main())
    assert first.counts() == {"added": 2, "removed": 1, "changed": 0, "unchanged": 0,
                              "failed": 0} and first.ok
    assert second.counts()["unchanged"] == 2 and second.sends == 0 and second.dumps == 3
    assert kns.addrs() == {("198.51.100.1", 24), ("2001:db8::1", 64)}


@pytest.mark.kernel
def test_events_async_iterator_and_cancel_removes_the_reader(kns: Any) -> None:
    async def main() -> Any:
        async with nlcore.aio.Events(["addr"], ns=kns.ns) as evs:
            kns.ns.run(["ip", "addr", "add", "198.51.100.3/24", "dev", "v0"], check=True)
            async for ev in evs:
                if ev.event == "RTM_NEWADDR":
                    break
            waiting = asyncio.create_task(evs.__anext__())
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            still = asyncio.get_running_loop().remove_reader(evs.sock.fileno())
            return ev, still

    ev, still = asyncio.run(main())
    assert ev.message.local == "198.51.100.3" and still is False


def _cut_handler(req: bytes) -> list[bytes]:
    """A kernel whose GETADDR dump answers one 5,760-byte datagram (past a 4 KiB buffer)
    and whose SETLINK ack carries a 6,000-byte extack message; everything else acks."""
    import struct

    from nlcore.codec import wire

    tp, seq = struct.unpack_from("=H", req, 4)[0], struct.unpack_from("=I", req, 8)[0]
    if tp == C.RTM_GETADDR:
        m = bytearray(wire.encode_addr(AddrSpec("192.0.2.1/24", index=2, label="a"), seq=seq))
        struct.pack_into("=HH", m, 4, C.RTM_NEWADDR, C.NLM_F_MULTI)
        return [bytes(m) * 120, struct.pack("=IHHIIi", 20, C.NLMSG_DONE, C.NLM_F_MULTI, seq,
                                            0, 0)]
    if tp == C.RTM_NEWLINK:
        return [wire.encode_error_reply(req, 0, 0, msg="x" * 6000)]
    return [wire.encode_error_reply(req, 0, 0)]


def test_request_cut_reply_as_the_blocking_conn() -> None:
    """A reply larger than the buffer, on the loop as on the blocking Conn (one exchange
    policy, net.exchange.Attempts): a GET is sent again once with a grown buffer; anything
    else gives one ReplyTruncatedError and the next request works."""
    from nlcore.codec.wire import encode_setlink
    from nlcore.net.conn import ReplyTruncatedError

    async def main() -> None:
        ac = nlcore.aio.AsyncConn(Conn(FakeTransport(_cut_handler), recv_size=4096))
        got = await ac.request(encode_getaddr(C.AF_INET))
        assert len(got) == 120 and ac.conn.stats.truncated == 1
        assert all(isinstance(m, AddrMsg) and m.local == "192.0.2.1" for m in got)
        ac = nlcore.aio.AsyncConn(Conn(FakeTransport(_cut_handler), recv_size=4096))
        with pytest.raises(ReplyTruncatedError, match="did not fit"):
            await ac.request(encode_setlink(2, up=True))
        await ac.request(encode_setlink(2, up=True))  # the buffer grew: usable
        assert ac.conn.stats.truncated == 1

    asyncio.run(main())
