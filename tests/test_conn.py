"""Conn over FakeTransport (no privileges) and over a real socket in a throwaway namespace:
seq matching and wrap, foreign senders dropped, unknown and duplicate acks counted, dumps
with DUMP_INTR retry, split replies, typed errors."""

from __future__ import annotations

import errno
import struct
from typing import Any

import pytest

from nlcore.codec import consts as C
from nlcore.codec import wire
from nlcore.codec.decode import AddrMsg
from nlcore.codec.errors import KernelError, ProtocolError
from nlcore.codec.spec import AddrSpec
from nlcore.net.conn import Conn
from nlcore.net.fake import FakeTransport, Reply, ack_all
from nlcore.ops.engine import AckLostError, apply

PID = 0x4E4C


def specs(n: int, index: int = 2) -> list[AddrSpec]:
    return [AddrSpec(f"198.18.{i >> 8}.{i & 255}/32", index=index) for i in range(1, n + 1)]


def test_seq_wraps_and_every_ack_matched() -> None:
    t = FakeTransport(ack_all)
    c = Conn(t, seq=0xFFFFFFFF - 300)
    report = apply(specs(1000), c, batch=128)
    assert report.counts() == {"ok": 1000}
    seqs = [struct.unpack_from("=I", m, 8)[0] for m in t.sent]
    assert seqs[:2] == [0xFFFFFFFF - 300, 0xFFFFFFFF - 299]
    assert 0xFFFFFFFF in seqs and 0 in seqs and seqs[-1] == (0xFFFFFFFF - 300 + 999) % 2**32
    assert len(set(seqs)) == 1000
    assert c.stats.unknown_seq == c.stats.duplicates == 0


def test_foreign_unknown_and_duplicate_replies_never_become_results() -> None:
    def handler(req: bytes) -> list[Reply]:
        seq = struct.unpack_from("=I", req, 8)[0]
        fail = wire.encode_error_reply(req, -errno.EEXIST, PID, msg="ipv4: Address already "
                                                                   "assigned")
        forged_ok = wire.encode_error_reply(req, 0, PID)
        stray = bytearray(forged_ok)
        struct.pack_into("=I", stray, 8, seq + 100000)
        # forged success from port 4242 first, then the kernel's failure, then a duplicate
        return [(forged_ok, 4242), bytes(stray), fail, forged_ok]

    t = FakeTransport(handler)
    c = Conn(t)
    report = apply(specs(10), c)
    assert [r.status for r in report] == ["failed"] * 10
    assert all(r.error is not None and r.error.errno == errno.EEXIST for r in report)
    assert report[0].error is not None
    assert report[0].error.msg == "ipv4: Address already assigned"
    # collection stops once all are answered: the last duplicate is still queued
    assert (c.stats.foreign, c.stats.unknown_seq, c.stats.duplicates) == (10, 10, 9)
    assert len(t.queue) == 1
    # the next exchange reads it as an ack for another batch: counted, never matched
    assert apply(specs(1), c)[0].status == "failed"
    assert (c.stats.foreign, c.stats.unknown_seq, c.stats.duplicates) == (11, 12, 9)


def test_split_replies_and_capped_extack_error_raised_typed() -> None:
    req_seen: list[bytes] = []

    def handler(req: bytes) -> list[Reply]:
        req_seen.append(req)
        if struct.unpack_from("=H", req, 4)[0] == C.RTM_GETADDR:
            seq = struct.unpack_from("=I", req, 8)[0]
            parts = b""
            for i in range(5):
                body = wire.encode_addr(AddrSpec(f"203.0.113.{i + 1}/24", index=4), seq=seq)
                hdr = bytearray(body)
                struct.pack_into("=HH", hdr, 4, C.RTM_NEWADDR, C.NLM_F_MULTI)
                parts += bytes(hdr)
            done = struct.pack("=IHHIIi", 20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, PID, 0)
            return [parts + done]
        return [wire.encode_error_reply(req, -errno.EPERM, PID, msg="no", offset="IFA_LOCAL",
                                        capped=True)]

    c = Conn(FakeTransport(handler, split=2))
    msgs = c.request(wire.encode_getaddr(C.AF_INET))
    assert [m.local for m in msgs if isinstance(m, AddrMsg)] == \
        [f"203.0.113.{i}" for i in range(1, 6)]
    with pytest.raises(PermissionError) as info:
        c.request(wire.encode_addr(AddrSpec("198.51.100.1/24", index=4)))
    err = info.value
    assert isinstance(err, KernelError) and err.errno == errno.EPERM
    assert (err.capped, err.msg, err.attr, len(err.request)) == (True, "no", "IFA_LOCAL", 16)


def _request(c: Conn, msg: bytes, how: str) -> list[Any]:
    """``c.request(msg)``, or the same through ``nlcore.aio.AsyncConn`` on a loop."""
    if how == "blocking":
        return c.request(msg)
    import asyncio

    from nlcore.aio import AsyncConn

    return asyncio.run(AsyncConn(c).request(msg))


@pytest.mark.parametrize("how", ["blocking", "asyncio"])
def test_dump_interrupted_retried_then_protocol_error(how: str) -> None:
    """NLM_F_DUMP_INTR restarts the dump at most dump_retries times, then ProtocolError;
    the asyncio request follows the same policy (net.exchange.Attempts)."""
    calls = {"n": 0}

    def handler(req: bytes, intr_times: int) -> list[Reply]:
        calls["n"] += 1
        seq = struct.unpack_from("=I", req, 8)[0]
        flags = C.NLM_F_MULTI | (C.NLM_F_DUMP_INTR if calls["n"] <= intr_times else 0)
        return [struct.pack("=IHHIIi", 20, C.NLMSG_DONE, flags, seq, PID, 0)]

    c = Conn(FakeTransport(lambda r: handler(r, 2)), dump_retries=3)
    assert _request(c, wire.encode_getaddr(), how) == []
    assert (calls["n"], c.stats.dump_retries) == (3, 2)
    calls["n"] = 0
    c = Conn(FakeTransport(lambda r: handler(r, 99)), dump_retries=3)
    with pytest.raises(ProtocolError, match="interrupted"):
        _request(c, wire.encode_getaddr(), how)
    assert calls["n"] == 4


def test_dump_error_arrives_as_done() -> None:
    def handler(req: bytes) -> list[Reply]:
        seq = struct.unpack_from("=I", req, 8)[0]
        return [struct.pack("=IHHIIi", 20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, PID, -95)]

    with pytest.raises(KernelError) as info:
        Conn(FakeTransport(handler)).request(wire.encode_getaddr())
    assert info.value.errno == 95 and info.value.errno_name == "EOPNOTSUPP"


@pytest.mark.kernel
def test_forged_acks_from_second_socket_are_refused(kns_module: object) -> None:
    """A second netlink socket in the namespace sends acks to our port id, including one
    that would turn a failure (EEXIST) into a success: the kernel refuses them (the Conn's
    socket is connected to it), and none becomes a result."""
    env = kns_module
    c: Conn = env.conn  # type: ignore[attr-defined]
    v0 = env.v0  # type: ignore[attr-defined]
    spec = AddrSpec("192.0.2.77/32", index=v0)
    assert apply([spec], c).counts() == {"ok": 1}
    forger = env.ns.socket()  # type: ignore[attr-defined]
    forger.bind((0, 0))
    seq = c.take_seqs(0)
    for s in range(seq, seq + 3):
        req = wire.encode_addr(spec, seq=s)
        with pytest.raises(ConnectionRefusedError):
            forger.sendto(wire.encode_error_reply(req, 0, c.pid), (c.pid, 0))
    report = apply([spec], c)  # the address exists: the kernel says EEXIST
    assert report[0].status == "failed" and report[0].error is not None
    assert report[0].error.errno == errno.EEXIST
    forger.close()


def test_malformed_reply_resolved_from_kernel_state_and_hint_failure_tolerated() -> None:
    """A reply that cannot be parsed never escapes apply(): its requests are re-read with a
    dump and resolved; a failing hint lookup (no RTM_NEWLINK) leaves the error standing."""
    present = {"198.18.0.1", "198.18.0.3"}

    def handler(req: bytes) -> list[Reply]:
        mtype = struct.unpack_from("=H", req, 4)[0]
        seq = struct.unpack_from("=I", req, 8)[0]
        if mtype == C.RTM_GETADDR:
            parts = b""
            for a in sorted(present):
                m = bytearray(wire.encode_addr(AddrSpec(f"{a}/32", index=2), seq=seq))
                struct.pack_into("=HH", m, 4, C.RTM_NEWADDR, C.NLM_F_MULTI)
                parts += bytes(m)
            return [parts + struct.pack("=IHHIIi", 20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, 0, 0)]
        if mtype == C.RTM_GETLINK:  # answers without an RTM_NEWLINK
            return [wire.encode_error_reply(req, 0, PID)]
        if struct.unpack_from("=B", req, 16)[0] == C.AF_INET6:
            return [wire.encode_error_reply(req, -errno.EACCES, PID, msg="disabled")]
        return [b"\x05\x00\x00\x00garbage!!!!!!!!"]  # nlmsg_len 5: malformed

    c = Conn(FakeTransport(handler))
    report = apply(specs(3) + [AddrSpec("2001:db8::1/64", index=2)], c)
    # every IPv4 ack unreadable: an address the kernel does not hold is "lost" (never a
    # KernelError); one it holds is "unknown" (no acked add, no creation stamp to prove it)
    assert [r.status for r in report] == ["unknown", "lost", "unknown", "failed"]
    assert report[0].resolved and report[1].resolved and not report[3].resolved
    assert isinstance(report[1].error, AckLostError) and report[1].error.cause == \
        "malformed reply" and not isinstance(report[1].error, KernelError)
    assert c.stats.malformed >= 1
    err = report[3].error
    assert err is not None and err.errno == errno.EACCES and err.hint is None


def test_acks_before_a_malformed_message_in_one_datagram_are_kept() -> None:
    """One datagram: a failure with extack, an ack, then garbage. The two good replies keep
    their results (and the failure its extack text) instead of being re-read or timing out;
    only the request whose reply was unreadable is resolved from the kernel's state."""
    calls = {"n": 0}

    def handler(req: bytes) -> list[Reply]:
        mtype = struct.unpack_from("=H", req, 4)[0]
        seq = struct.unpack_from("=I", req, 8)[0]
        if mtype == C.RTM_GETADDR:  # the re-read: nothing is there
            return [struct.pack("=IHHIIi", 20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, 0, 0)]
        calls["n"] += 1
        if calls["n"] < 3:
            return []
        # the third request's send answers all three, in one datagram
        first = seq - 2
        reqs = [bytearray(req) for _ in range(2)]
        for k, r in enumerate(reqs):
            struct.pack_into("=I", r, 8, first + k)
        fail = wire.encode_error_reply(bytes(reqs[0]), -errno.EEXIST, PID, msg="already")
        ok = wire.encode_error_reply(bytes(reqs[1]), 0, PID)
        return [fail + ok + b"\x05\x00\x00\x00garbage!!!!!!!!"]

    c = Conn(FakeTransport(handler))
    report = apply(specs(3), c, batch=3)
    assert [r.status for r in report] == ["failed", "ok", "lost"]
    assert isinstance(report[0].error, KernelError) and report[0].error.msg == "already"
    assert not report[0].resolved and not report[1].resolved and report[2].resolved
    assert c.stats.malformed == 1
