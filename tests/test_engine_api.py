"""The engine's API without traps, over a stateful fake kernel (no privileges): dev= names
resolved at apply time, lost acks as their own status and exception type, acks="errors"
exact under injected losses, readable reprs, the nlcore logger, size validation."""

from __future__ import annotations

import errno
import logging
import struct

import pytest
from engine_fakes import StateKernel

from nlcore.codec import consts as C
from nlcore.codec.errors import KernelError, SpecError
from nlcore.codec.spec import AddrSpec
from nlcore.faults.synthetic import Drop, Enobufs, FaultPlan, FaultyTransport, Rule, When
from nlcore.net.conn import ClosedError, Conn, ReplyTruncatedError
from nlcore.net.fake import FakeTransport, ack_all
from nlcore.net.transport import NetlinkSocket
from nlcore.ops.engine import AckLostError, apply, apply_one


def v4(n: int, index: int = 2, start: int = 1) -> list[AddrSpec]:
    return [AddrSpec(f"198.18.{i >> 8}.{i & 255}/32", index=index)
            for i in range(start, start + n)]


def key(s: AddrSpec) -> tuple[int, int, str, int]:
    return (s.index, s.family, s.address.split("/")[0], s.prefixlen)


# ---------------------------------------------------------------------------- dev=
def test_dev_names_resolved_at_apply_time_and_missing_device_fails_with_enodev() -> None:
    k = StateKernel({"v0": 7})
    t = FakeTransport(k)
    specs = [AddrSpec("192.0.2.1/24", dev="v0"), AddrSpec("192.0.2.2/24", dev="nope0"),
             AddrSpec("192.0.2.3/24", dev="v0")]
    report = apply(specs, Conn(t))
    assert [r.status for r in report] == ["ok", "failed", "ok"]
    err = report[1].error
    assert isinstance(err, KernelError) and err.errno == errno.ENODEV
    assert "nope0" in str(err) and "192.0.2.2/24 dev nope0" in str(err)
    # index 0 never reached the kernel; v0 was looked up once for both specs
    assert k.addrs == {(7, C.AF_INET, "192.0.2.1", 24), (7, C.AF_INET, "192.0.2.3", 24)}
    newaddr = [m for m in t.sent if struct.unpack_from("=H", m, 4)[0] == C.RTM_NEWADDR]
    assert [struct.unpack_from("=I", m, 20)[0] for m in newaddr] == [7, 7]
    assert sum(struct.unpack_from("=H", m, 4)[0] == C.RTM_GETLINK for m in t.sent) == 2
    # the result keeps the caller's spec
    assert report[0].spec is specs[0]
    # apply_one and a single-spec apply resolve too
    assert apply_one(AddrSpec("192.0.2.9/24", dev="v0"), Conn(FakeTransport(k))).ok
    assert apply([AddrSpec("192.0.2.8/24", dev="gone")], Conn(FakeTransport(k)))[0].error \
        .errno == errno.ENODEV  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- lost acks
def test_dropped_ack_is_lost_not_a_kernel_error() -> None:
    k = StateKernel()
    # the second request is dropped before the kernel (its change never happens) and the
    # fourth's ack is lost after the kernel made the change
    plan = FaultPlan([Rule(address="198.18.0.2", action=Drop(forward=False)),
                      Rule(address="198.18.0.4", action=Drop())])
    report = apply(v4(5), Conn(FaultyTransport(FakeTransport(k), plan)))
    assert [(r.status, r.resolved) for r in report] == [
        ("ok", False), ("lost", True), ("ok", False), ("unknown", True), ("ok", False)]
    err = report[1].error
    assert isinstance(err, AckLostError) and not isinstance(err, KernelError)
    assert err.state == "absent" and err.proven and err.cause == "timeout"
    with pytest.raises(AckLostError):
        raise err
    assert not report[1].ok and not report.ok
    # present, as the request wanted, but it may have been there before: not proven
    err = report[3].error
    assert isinstance(err, AckLostError) and err.state == "present" and not err.proven


def test_duplicates_with_lost_acks_are_unknown_never_ok() -> None:
    """Two adds of one address, both acks lost: the state shows the address, not which
    request made it: neither is "ok". Nor is a lone add whose address is present (it may
    have been there before); a lone add whose address is absent is proven "lost"."""
    k = StateKernel()
    k.addrs.add(key(v4(3)[2]))  # 198.18.0.3 is there before the run: its add meets EEXIST
    specs = v4(3) + v4(1)  # 198.18.0.1 twice
    plan = FaultPlan([Rule(type="RTM_NEWADDR", action=Enobufs())])  # every ack lost
    report = apply(specs, Conn(FaultyTransport(FakeTransport(k), plan)))
    assert [r.status for r in report] == ["unknown"] * 4
    err = report[0].error
    assert isinstance(err, AckLostError) and not err.proven and err.state == "present"
    assert "another request of this run" in str(err)
    assert report.counts() == {"unknown": 4}
    plan = FaultPlan([Rule(type="RTM_NEWADDR", action=(Drop(forward=False),))])
    report = apply(v4(1, start=40), Conn(FaultyTransport(FakeTransport(k), plan)))
    assert [r.status for r in report] == ["lost"]


@pytest.mark.parametrize("stamps", [False, True])
@pytest.mark.parametrize("acks", ["all", "errors"])
@pytest.mark.parametrize("batch", [1, 4, 16])
@pytest.mark.parametrize("seed", range(4))
def test_results_exact_under_injected_losses(acks: str, batch: int, seed: int,
                                             stamps: bool) -> None:
    """Requests lost before the kernel, acks lost after it, ENOBUFS: every result agrees
    with the fake kernel's truth, and nothing is reported ok that did not happen.

    With acks="errors" a success has no reply to lose; the kernel drops replies only with
    an overrun, which it reports (ENOBUFS), so the silent drops go on the final, acked
    message of a batch (position ``batch``, ``2 * batch``...), where the proof needs them.
    With creation stamps in the dump, a lone lost add newer than an acked one is "ok"."""
    k = StateKernel(stamps=stamps)
    pre = v4(60)[::7]
    for s in pre:
        k.addrs.add(key(s))
    specs = v4(60)
    step = batch if acks == "errors" else 1
    rules = [Rule(type="RTM_NEWADDR", action=Drop(forward=False),
                  when=When.parse(f"{step * (1 + seed)}+{step * 5}")),
             Rule(type="RTM_NEWADDR", action=Drop(),
                  when=When.parse(f"{step * (2 + seed)}+{step * 3}")),
             Rule(type="RTM_NEWADDR", action=Enobufs(), when=When.parse(f"{7 + seed}+17")),
             Rule(type="RTM_NEWADDR", action=Enobufs(forward=False),
                  when=When.parse(f"{11 + seed}+19"))]
    t = FaultyTransport(FakeTransport(k), FaultPlan(rules, seed=seed))
    report = apply(specs, Conn(t), batch=batch, acks=acks)  # type: ignore[arg-type]
    assert len(report) == 60
    for s, r in zip(specs, report):
        there = key(s) in k.addrs
        assert there or s not in pre
        if s in pre:  # its add met EEXIST: failed when the error came, else unknown
            assert r.status in ("failed", "unknown"), r
            if r.status == "failed":
                assert isinstance(r.error, KernelError) and r.error.errno == errno.EEXIST
        else:  # ok and unknown only with the address there; lost only without it
            assert r.status in ("ok", "unknown", "lost"), r
            assert there == (r.status != "lost"), r
    counts = report.counts()
    assert counts.get("ok", 0) <= len(k.addrs) - len(pre)
    assert len(report.resolved) > 0  # the faults did fire
    if stamps and acks == "all":  # proven creates: resolved as "ok"
        assert any(r.status == "ok" and r.resolved for r in report)
    if not stamps:
        assert not any(r.status == "ok" and r.resolved for r in report)


def test_acks_errors_sets_ack_only_on_the_last_message_of_each_batch() -> None:
    k = StateKernel()
    k.addrs.add(key(v4(10)[4]))
    t = FakeTransport(k)
    report = apply(v4(10), Conn(t), batch=4, acks="errors")
    assert [r.status for r in report] == ["ok"] * 4 + ["failed"] + ["ok"] * 5
    assert report[4].error.errno == errno.EEXIST  # type: ignore[union-attr]
    flags = [struct.unpack_from("=H", m, 6)[0] & C.NLM_F_ACK for m in t.sent]
    assert [bool(f) for f in flags] == [False, False, False, True] * 2 + [False, True]
    assert k.acks_asked == 3


# ---------------------------------------------------------------------------- reprs, logs
def test_readable_reprs() -> None:
    k = StateKernel()
    k.addrs.add(key(v4(3)[1]))
    report = apply(v4(3), Conn(FakeTransport(k)))
    text = repr(report)
    assert text.startswith("<Report of 3: failed=1, ok=2; #1 failed 198.18.0.2/32 dev index 2")
    assert "(EEXIST)" in text
    assert repr(report[0]) == "<Result ok 198.18.0.1/32 dev index 2>"
    assert repr(report[1]).startswith("<Result failed 198.18.0.2/32 dev index 2: ")


def test_logger_debug_decodes_requests_and_replies(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="nlcore"):
        apply(v4(2), Conn(FakeTransport(ack_all)))
    lines = [r.getMessage() for r in caplog.records if r.name == "nlcore"]
    assert any("send" in s and "RTM_NEWADDR 198.18.0.1/32 dev index 2" in s for s in lines)
    assert any("recv" in s and "ack for seq" in s for s in lines)


def test_logger_off_by_default_decodes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not logging.getLogger("nlcore").isEnabledFor(logging.DEBUG)

    def boom(data: object) -> list[str]:
        raise AssertionError("decoded while logging is off")

    monkeypatch.setattr("nlcore.net.log._lines", boom)
    assert apply(v4(3), Conn(FakeTransport(ack_all))).counts() == {"ok": 3}


# ---------------------------------------------------------------------------- sizes, close
@pytest.mark.parametrize("size", [0, 1, 16, 100, 4095, -1, True, 2.0, 1 << 30])
def test_recv_size_validated_at_construction(size: object) -> None:
    with pytest.raises(SpecError, match="invalid recv_size"):
        Conn(FakeTransport(ack_all), recv_size=size)  # type: ignore[arg-type]


@pytest.mark.parametrize(("opt", "value"), [("rcvbuf", -1), ("sndbuf", "big"),
                                            ("timeout", 0), ("timeout", -2.0)])
def test_socket_sizes_validated(opt: str, value: object) -> None:
    with pytest.raises(SpecError, match=f"invalid {opt}"):
        NetlinkSocket(**{opt: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("what", "value"), [("batch", 0), ("window", 0), ("batch", True),
                                             ("acks", "some"), ("ipv6_disabled", "x")])
def test_apply_options_validated(what: str, value: object) -> None:
    with pytest.raises(SpecError, match=f"invalid {what}"):
        apply(v4(2), Conn(FakeTransport(ack_all)), **{what: value})  # type: ignore[arg-type]


def test_closed_conn_raises_everywhere() -> None:
    t = FakeTransport(ack_all)
    c = Conn(t)
    c.close()
    for call in (lambda: apply(v4(3), c), lambda: apply(v4(1), c),
                 lambda: apply_one(v4(1)[0], c), lambda: c.request(b"\0" * 16),
                 lambda: c.send(b"\0" * 16)):
        with pytest.raises(ClosedError, match="closed"):
            call()
    assert t.sent == []


def test_truncated_reply_one_error_conn_usable() -> None:
    """A reply larger than the receive buffer: a GET is sent again once with a grown
    buffer; anything else gives one ReplyTruncatedError and the next call works."""
    big = "x" * 6000

    def handler(req: bytes) -> list[bytes]:
        from nlcore.codec import wire

        tp = struct.unpack_from("=H", req, 4)[0]
        seq = struct.unpack_from("=I", req, 8)[0]
        if tp == C.RTM_GETADDR:
            m = bytearray(wire.encode_addr(AddrSpec("192.0.2.1/24", index=2, label="a"),
                                           seq=seq))
            struct.pack_into("=HH", m, 4, C.RTM_NEWADDR, C.NLM_F_MULTI)
            pad = bytes(m) * 120  # one datagram of 5760 bytes
            return [pad, struct.pack("=IHHIIi", 20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, 0, 0)]
        if tp == C.RTM_NEWLINK:
            return [wire.encode_error_reply(req, 0, 0, msg=big)]
        return [wire.encode_error_reply(req, 0, 0)]

    from nlcore.codec.wire import encode_getaddr, encode_setlink

    c = Conn(FakeTransport(handler), recv_size=4096)
    got = c.request(encode_getaddr(C.AF_INET))
    assert len(got) == 120 and c.stats.truncated == 1 and len(c.buf) >= 8192
    c = Conn(FakeTransport(handler), recv_size=4096)
    with pytest.raises(ReplyTruncatedError, match="did not fit"):
        c.request(encode_setlink(2, up=True))
    c.request(encode_setlink(2, up=True))  # the buffer grew: the Conn is usable
    assert c.stats.truncated == 1
    assert apply(v4(3), c).counts() == {"ok": 3}


def test_creation_stamps_prove_a_lone_lost_add_and_only_that() -> None:
    """The dump's creation stamps (IFA_CACHEINFO cstamp): an address created after the one
    an acked add of this run made is proven this request's; one that was there before the
    run (older stamp) stays "unknown" although it is present."""
    k = StateKernel(stamps=True)
    specs = v4(4)
    k.addrs.add(key(specs[3]))  # there before the run: its add meets EEXIST
    plan = FaultPlan([Rule(type="RTM_NEWADDR", action=Drop(), when="2+")])  # acks 2.. lost
    report = apply(specs, Conn(FaultyTransport(FakeTransport(k), plan)))
    assert [(r.status, r.resolved) for r in report] == [
        ("ok", False), ("ok", True), ("ok", True), ("unknown", True)]
    plan = FaultPlan([Rule(type="RTM_NEWADDR", action=Drop())])  # no acked add: no reference
    report = apply(v4(2, start=50), Conn(FaultyTransport(FakeTransport(k), plan)))
    assert [r.status for r in report] == ["unknown", "unknown"]


def test_unknown_kind_refused_before_anything_is_sent() -> None:
    class Odd:
        kind = "nosuchkind"
        op, family, index, dev = "add", 2, 2, None
        message = b""

        def text(self) -> str:
            return "odd"

    t = FakeTransport(ack_all)
    with pytest.raises(SpecError, match="no engine kind registered for 'nosuchkind'"):
        apply([v4(1)[0], Odd()], Conn(t))
    assert t.sent == []
