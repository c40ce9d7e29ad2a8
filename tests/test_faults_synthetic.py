"""Synthetic faults: rule matching, every action, batches split between synthesis and the
kernel, determinism from the seed, and synthetic == kernel-true bytes."""

from __future__ import annotations

import struct
import time
from typing import Any, Iterator

import pytest

from nlcore.codec.decode import ErrorMsg, decode
from nlcore.codec.errors import BufferOverrunError, KernelError, ParseError
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_addr, encode_addrs, encode_getlink, encode_setlink
from nlcore.faults.kernel import (
    KATA_MSG,
    KATA_REQUEST,
    SCENARIOS,
    KernelLab,
    kata_request,
    route_request,
)
from nlcore.faults.synthetic import (
    Delay,
    Drop,
    Enobufs,
    Error,
    FaultPlan,
    FaultyTransport,
    Foreign,
    Garble,
    Request,
    Rule,
    Truncate,
    When,
    fake_kernel,
    faulty_conn,
)
from nlcore.net import netns
from nlcore.net.conn import Conn
from nlcore.net.fake import FakeTransport, Reply, ack_all
from nlcore.net.transport import NetlinkSocket
from nlcore.ops.engine import AckLostError, apply

HDR = struct.Struct("=IHHII")
V4 = AddrSpec("192.0.2.1/24", index=2)
V6 = AddrSpec("2001:db8::1/64", index=2)


def kata_rule(**kw: Any) -> Rule:
    kw.setdefault("action", Error("EACCES", msg=KATA_MSG))
    return Rule(type="RTM_NEWADDR", family="inet6", ifindex=2, **kw)


def fake_with_dumps(request: bytes) -> list[Reply]:
    """Ack everything; answer an RTM_GETADDR dump with an empty NLMSG_DONE."""
    _n, tp, _f, seq, _p = HDR.unpack_from(request)
    if tp == 22:
        return [HDR.pack(20, 3, 2, seq, 0) + struct.pack("=i", 0)]
    return ack_all(request)


# ------------------------------------------------------------------ when=
@pytest.mark.parametrize(("spec", "hits"), [
    (3, [3]), ("3", [3]), ("3+", [3, 4, 5, 6, 7, 8, 9, 10]), ("3+2", [3, 5, 7, 9]),
    ("2..4", [2, 3, 4]), ("2..8+3", [2, 5, 8]), ("every 4", [4, 8]), ("1+", list(range(1, 11))),
    ("always", list(range(1, 11))), (When(5, 6), [5, 6])])
def test_when(spec: Any, hits: list[int]) -> None:
    w = When.parse(spec)
    assert [n for n in range(1, 11) if n in w] == hits


@pytest.mark.parametrize("bad", [0, "0", "x", "3..2", "every 0", "2+0", "-1", ""])
def test_when_invalid(bad: Any) -> None:
    with pytest.raises(ValueError, match="invalid when="):
        When.parse(bad)


# ------------------------------------------------------------------ matching
def test_request_parse() -> None:
    r = Request.parse(KATA_REQUEST)
    assert (r.type, r.flags, r.seq, r.family, r.ifindex, r.prefixlen) == (20, 0x505, 19, 10, 2, 64)
    assert r.addresses == ("fe80::c44c:1cff:fe84:f6b7", "fe80::c44c:1cff:fe84:f6b7")
    r = Request.parse(route_request(7, index=3))
    assert (r.type, r.family, r.ifindex, r.prefixlen, r.addresses) == \
        (24, 10, 3, 64, ("2001:db8::",))
    r = Request.parse(encode_setlink(5, up=True))
    assert (r.type, r.ifindex, r.addresses) == (16, 5, ())


def test_rule_filters() -> None:
    req = Request.parse(KATA_REQUEST)
    v4 = Request.parse(encode_addr(V4))
    assert kata_rule().matches(req) and not kata_rule().matches(v4)
    assert Rule(type=20).matches(req) and not Rule(type="RTM_DELADDR").matches(req)
    assert Rule(type=("RTM_DELADDR", "RTM_NEWADDR")).matches(req)
    assert Rule(family=10).matches(req) and Rule(family="inet").matches(v4)
    assert not Rule(ifindex=3).matches(req)
    assert Rule(address="fe80::c44c:1cff:fe84:f6b7").matches(req)
    assert Rule(address="fe80::c44c:1cff:fe84:f6b7/64").matches(req)
    assert not Rule(address="fe80::c44c:1cff:fe84:f6b7/128").matches(req)
    assert Rule(net="fe80::/10").matches(req) and not Rule(net="2001:db8::/32").matches(req)
    assert Rule(net="192.0.2.0/24").matches(v4)
    for bad in ({"type": "RTM_NOPE"}, {"family": "ipx"}, {"net": "nonsense"},
                {"action": (Error(1), Error(2))}):
        with pytest.raises(ValueError):
            Rule(**bad)


def test_rules_count_independently_first_firing_wins() -> None:
    plan = FaultPlan([Rule(family="inet6", when=2, action=Error(1)),
                      Rule(type="RTM_NEWADDR", when="every 2", action=Error(2))])
    msgs = [encode_addr(V6, i) for i in range(1, 5)]
    acts = [plan.decide(m) for m in msgs]
    assert acts == [None, (Error(1),), None, (Error(2),)]
    assert [(f.rule, f.occurrence, f.seq) for f in plan.log] == [(0, 2, 2), (1, 4, 4)]
    assert plan.counts == [4, 4]


# ------------------------------------------------------------------ replies
def test_synthetic_kata_bytes_on_fake_transport() -> None:
    t = FaultyTransport(FakeTransport(ack_all, pid=0x1234), FaultPlan([kata_rule()]))
    t.send(KATA_REQUEST)
    buf = bytearray(4096)
    n, sender = t.recv(buf)
    text = KATA_MSG.encode() + b"\0"
    tlv = struct.pack("=HH", 4 + len(text), 1) + text + bytes(-len(text) % 4)
    body = struct.pack("=i", -13) + KATA_REQUEST + tlv
    assert (bytes(buf[:n]), sender) == (HDR.pack(16 + len(body), 2, 0x200, 19, 0x1234) + body, 0)
    assert t.inner.sent == []  # type: ignore[attr-defined]  # never reached the "kernel"


def test_no_ext_ack_capped_offset_and_cookie() -> None:
    plain = FaultyTransport(FakeTransport(ack_all), FaultPlan([kata_rule()]), ext_ack=False)
    plain.send(KATA_REQUEST)
    buf = bytearray(4096)
    n, _ = plain.recv(buf)
    assert bytes(buf[:n]) == HDR.pack(84, 2, 0, 19, plain.pid) + struct.pack("=i", -13) \
        + KATA_REQUEST
    rule = Rule(action=Error(22, msg="bad", offset="IFA_LOCAL", capped=True, cookie=b"\x01\x02"))
    c = faulty_conn([rule])
    with pytest.raises(KernelError) as ei:
        c.request(KATA_REQUEST)
    e = ei.value
    assert (e.errno, e.msg, e.offset, e.attr, e.cookie, e.capped) == \
        (22, "bad", 44, "IFA_LOCAL", b"\x01\x02", True)
    assert e.request == KATA_REQUEST[:8] + struct.pack("=I", 1) + KATA_REQUEST[12:16]


def test_error_zero_is_an_ack_only_when_asked() -> None:
    c = faulty_conn([Rule(action=Error(0))])
    assert c.request(encode_addr(V4)) == []
    t = FaultyTransport(FakeTransport(ack_all), FaultPlan([Rule(action=Error(0))]))
    t.send(encode_getlink(index=1))  # no NLM_F_ACK: no reply at all
    with pytest.raises(BlockingIOError):
        t.recv(bytearray(4096), block=False)


def test_batch_forwards_non_matching_in_one_send() -> None:
    inner = FakeTransport(fake_kernel())
    plan = FaultPlan([Rule(family="inet6", when="2..3", action=Error(13, msg="no"))])
    specs = [AddrSpec(f"2001:db8::{i}/64", index=2) for i in range(1, 6)] + [V4]
    report = apply(specs, Conn(FaultyTransport(inner, plan)))
    assert [r.status for r in report] == ["ok", "failed", "failed", "ok", "ok", "ok"]
    assert [r.error.msg for r in report if r.error] == ["no", "no"]
    assert [r.error.hint for r in report if r.error] == [None, None]  # v1 has IPv6 on
    # one send with the four forwarded messages, then the engine's link look-up for the hint
    assert inner.sends == 2
    assert [Request.parse(m).addresses[0] for m in inner.sent[:4]] == \
        ["2001:db8::1", "2001:db8::4", "2001:db8::5", "192.0.2.1"]
    assert [Request.parse(m).type for m in inner.sent[4:]] == [18]


def test_drop_times_out_and_drop_without_forward_loses_the_request() -> None:
    inner = FakeTransport(ack_all)
    c = Conn(FaultyTransport(inner, FaultPlan([Rule(action=Drop())])))
    with pytest.raises(TimeoutError):
        c.request(encode_addr(V4))
    assert len(inner.sent) == 1
    inner = FakeTransport(ack_all)
    c = Conn(FaultyTransport(inner, FaultPlan([Rule(action=Drop(forward=False))])))
    with pytest.raises(TimeoutError):
        c.request(encode_addr(V4))
    assert inner.sent == []


def test_delay() -> None:
    c = faulty_conn([Rule(action=(Error(17), Delay(0.05)))])
    t0 = time.monotonic()
    with pytest.raises(FileExistsError):
        c.request(encode_addr(V4))
    assert time.monotonic() - t0 >= 0.05
    t = FaultyTransport(FakeTransport(ack_all), FaultPlan([Rule(action=Delay(0.2))]))
    t.timeout = 0.02
    t.send(encode_addr(V4, 1))
    with pytest.raises(BlockingIOError):
        t.recv(bytearray(4096), block=False)
    with pytest.raises(TimeoutError):
        t.recv(bytearray(4096))


def _mangled(action: Any, seed: int) -> bytes:
    t = FaultyTransport(FakeTransport(ack_all), FaultPlan([kata_rule(action=(Error(13), action))],
                                                          seed=seed))
    t.send(KATA_REQUEST)
    buf = bytearray(4096)
    n, _ = t.recv(buf)
    return bytes(buf[:n])


def test_truncate_and_garble_are_seeded() -> None:
    full = _mangled(Garble(offsets=()), 1)
    assert len(full) == 84
    assert _mangled(Truncate(30), 1) == full[:30]
    cut = _mangled(Truncate(), 7)
    assert cut == _mangled(Truncate(), 7) and 1 <= len(cut) < 84 and full.startswith(cut)
    g = _mangled(Garble(count=3), 7)
    assert g == _mangled(Garble(count=3), 7)
    assert sum(a != b for a, b in zip(g, full)) == 3
    with pytest.raises(ParseError):
        faulty_conn([Rule(action=(Error(13), Truncate(40)))]).request(KATA_REQUEST)


def test_enobufs() -> None:
    c = faulty_conn([Rule(action=Enobufs())])
    with pytest.raises(BufferOverrunError):
        c.request(encode_addr(V4))
    assert c.stats.overruns == 1
    inner = FakeTransport(fake_with_dumps)
    plan = FaultPlan([Rule(address="192.0.2.2", action=Enobufs())])
    specs = [V4, AddrSpec("192.0.2.2/24", index=2), AddrSpec("192.0.2.3/24", index=2)]
    report = apply(specs, Conn(FaultyTransport(inner, plan)))
    # the lost ack is resolved from a dump of the (empty) fake kernel: not there
    assert [(r.status, r.resolved) for r in report] == \
        [("ok", False), ("lost", True), ("ok", False)]
    # its own status and exception type: `except KernelError` never sees a lost ack
    err = report[1].error
    assert isinstance(err, AckLostError) and not isinstance(err, KernelError)
    assert (err.cause, err.state, err.proven) == ("ENOBUFS overrun", "absent", True)


def test_foreign_reply_is_dropped_and_counted() -> None:
    c = faulty_conn([Rule(action=Foreign(pid=4242))])
    assert c.request(encode_addr(V4)) == []
    assert c.stats.foreign == 1
    c = faulty_conn([Rule(action=(Error(13), Foreign(pid=4242, replace=True)))])
    with pytest.raises(TimeoutError):
        c.request(encode_addr(V4))
    assert c.stats.foreign == 1


def test_unparseable_send_is_forwarded_untouched() -> None:
    inner = FakeTransport(ack_all)
    t = FaultyTransport(inner, FaultPlan([Rule(action=Error(1))]))
    with pytest.raises(ParseError):
        t.send(b"\x01\x02\x03")  # the inner transport decides what garbage means
    assert inner.sends == 1


def test_same_seed_same_run_100_times() -> None:
    """every 3rd IPv6 add fails, every 7th reply is garbled: the same 100 times in a row."""
    def run(plan: FaultPlan) -> tuple[list[Any], list[Any]]:
        plan.reset()
        t = FaultyTransport(FakeTransport(ack_all), plan)
        out = []
        for i in range(1, 22):
            t.send(encode_addr(AddrSpec(f"2001:db8::{i}/64", index=2), i))
            buf = bytearray(4096)
            n, _ = t.recv(buf)
            out.append(bytes(buf[:n]))
        return out, list(plan.log)

    plan = FaultPlan([Rule(when="every 3", action=Error(13)),
                      Rule(when="every 7", action=(Error(0), Garble(2)))], seed=42)
    first = run(plan)
    assert [f.seq for f in first[1]] == [3, 6, 7, 9, 12, 14, 15, 18, 21]
    for _ in range(100):
        assert run(plan) == first


# ------------------------------------------------------------------ against the kernel
def _lab() -> KernelLab:
    try:
        return KernelLab()
    except OSError as exc:
        pytest.skip(f"no throwaway network namespace ({netns.__name__}): {exc}")


@pytest.fixture(scope="module")
def lab() -> Iterator[KernelLab]:
    with _lab() as lab:
        yield lab


@pytest.mark.kernel
@pytest.mark.parametrize("cap_ack", [False, True], ids=["echo", "capped"])
@pytest.mark.parametrize("ext_ack", [False, True], ids=["no-extack", "extack"])
@pytest.mark.parametrize("name", ["kata-11200", "mtu-below-1280", "ipv6-route-nexthop"])
def test_synthetic_equals_kernel_bytes(lab: KernelLab, name: str, ext_ack: bool,
                                       cap_ack: bool) -> None:
    """Same socket: the kernel's reply, then the plan's, byte for byte (nlmsg_pid included:
    the synthetic reply takes the socket's real port id)."""
    s = SCENARIOS[name]
    lab.reset()
    s.setup(lab)
    req = s.request(19)
    sock = lab.socket(ext_ack=ext_ack, cap_ack=cap_ack)
    kernel = lab.exchange(req, sock)
    plan = FaultPlan([Rule(type=HDR.unpack_from(req)[1], ifindex=2,
                           action=Error(-s.error, msg=s.extack))])
    synthetic = lab.exchange(req, FaultyTransport(sock, plan))  # type: ignore[arg-type]
    assert plan.log and HDR.unpack_from(synthetic)[4] == sock.pid
    assert synthetic == kernel
    sock.close()


@pytest.mark.kernel
def test_kernel_vs_synthetic_100_times(lab: KernelLab) -> None:
    lab.reset()
    lab.disable_ipv6("all")
    sock = lab.socket()
    ft = FaultyTransport(sock, FaultPlan([kata_rule()]))
    kernel = lab.exchange(KATA_REQUEST, sock)
    for _ in range(100):
        assert lab.exchange(KATA_REQUEST, ft) == kernel  # type: ignore[arg-type]
    sock.close()


@pytest.mark.kernel
def test_mixed_batch_against_the_kernel() -> None:
    """The matching messages are answered here; the rest reach the kernel, in one send."""
    with _lab() as lab:
        _mixed_batch(lab)


def _mixed_batch(lab: KernelLab) -> None:
    specs = [AddrSpec(f"2001:db8::{i}/64", index=2, flags="nodad") for i in range(1, 5)]
    plan = FaultPlan([Rule(address="2001:db8::2", action=Error("EACCES", msg=KATA_MSG)),
                      Rule(address="2001:db8::4", action=Drop())])
    sock = NetlinkSocket(lab.ns.socket(), cap_ack=False, timeout=0.2)  # Drop waits this long
    c = Conn(FaultyTransport(sock, plan))
    report = apply(specs, c)
    # ::4's ack is lost: proven "ok" when its creation stamp is newer than ::1's (the acked
    # add), "unknown" when both fall in the same 10 ms of the kernel's clock
    assert [(r.status, r.resolved) for r in report][:3] == \
        [("ok", False), ("failed", False), ("ok", False)]
    assert (report[3].status, report[3].resolved) in (("ok", True), ("unknown", True))
    assert report[1].error is not None and report[1].error.msg == KATA_MSG
    (info,) = lab.ip("-6", "addr", "show", "dev", lab.dev, "scope", "global")
    assert sorted(a["local"] for a in info["addr_info"] if "local" in a) == \
        ["2001:db8::1", "2001:db8::3", "2001:db8::4"]
    c.close()


@pytest.mark.kernel
def test_foreign_against_the_kernel(lab: KernelLab) -> None:
    lab.reset()
    c = Conn(FaultyTransport(lab.socket(), FaultPlan([Rule(action=Foreign(pid=lab.conn.pid))])))
    c.request(encode_addr(AddrSpec("198.51.100.9/24", index=2, op="replace")))
    assert c.stats.foreign == 1
    (info,) = lab.ip("-4", "addr", "show", "dev", lab.dev)
    assert "198.51.100.9" in [a["local"] for a in info["addr_info"]]
    c.close()


def test_encode_addrs_batch_of_kata_requests_partially_faulted() -> None:
    inner = FakeTransport(ack_all)
    t = FaultyTransport(inner, FaultPlan([Rule(when=2, action=Error(13))]))
    t.send(encode_addrs([V4, AddrSpec("192.0.2.5/24", index=2), V6], 1))
    got = []
    buf = bytearray(4096)
    while True:
        try:
            n, _ = t.recv(buf, block=False)
        except BlockingIOError:
            break
        got += [m for m in decode(bytes(buf[:n])) if isinstance(m, ErrorMsg)]
    assert sorted((m.header.seq, m.error) for m in got) == [(1, 0), (2, -13), (3, 0)]
    assert inner.sends == 1 and len(inner.sent) == 2
    assert kata_request() == KATA_REQUEST


def test_fake_kernel_feeds_the_engine_policies() -> None:
    """fake_kernel() describes device 2 the way the kernel does, so the engine's IPv6 state
    look-ups work with no kernel: skip and preflight-error see disable_ipv6."""
    from nlcore.ops.engine import Ipv6DisabledError
    from nlcore.ops.link import ipv6_state

    c = Conn(FakeTransport(fake_kernel(disable_ipv6=True)))
    st = ipv6_state(c, 2)
    assert (st.index, st.name, st.disabled, st.mtu) == (2, "v1", True, 1500)
    (r,) = apply([V6], c, ipv6_disabled="skip")
    assert (r.status, r.reason) == ("skipped",
                                    "skipped: IPv6 is disabled on v1 (net.ipv6.conf.v1."
                                    "disable_ipv6=1)")
    with pytest.raises(Ipv6DisabledError):
        apply([V6], c, ipv6_disabled="preflight-error")
    assert ipv6_state(Conn(FakeTransport(fake_kernel(mtu=1279, disable_ipv6=None))), 2).blocked
    assert [r.status for r in apply([V4, V6], Conn(FakeTransport(fake_kernel())))] == \
        ["ok", "ok"]
