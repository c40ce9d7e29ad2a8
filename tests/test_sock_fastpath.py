"""The socket fast path (nlc_sock_recv, nlc_acks_match, nlc_addr_call) against its pure
twin: same bytes, same counts, same exceptions; on real sockets in a throwaway namespace."""

from __future__ import annotations

import errno
import os
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.codec import _backend, wire
from nlcore.codec.errors import ParseError
from nlcore.codec.spec import AddrSpec
from nlcore.net.conn import PENDING

EXAMPLES = int(os.environ.get("NLCORE_FUZZ_EXAMPLES", "300"))


def _codecs() -> list[_backend.Codec]:
    out = [_backend.load("pure")]
    try:
        out.append(_backend.load("native"))
    except ImportError:
        if os.environ.get("NLCORE_REQUIRE_NATIVE") == "1":
            raise
    return out


def _acks(seqs: list[int], errs: list[int]) -> bytes:
    out = b""
    for s, e in zip(seqs, errs):
        req = wire.encode_addr(AddrSpec("198.51.100.1/24", index=3), seq=s)
        out += wire.encode_error_reply(req, e, 77, msg="m" if e and s % 2 else None)
    return out


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from([0, 0, 0, -17, -13, -22])),
                max_size=30),
       st.integers(0, 20), st.integers(1, 20), st.integers(0, 4),
       st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4))
def test_acks_match_native_equals_pure(acks: list[tuple[int, int]], first: int, count: int,
                                       dcap: int, mutations: list[tuple[int, int]]) -> None:
    buf = bytearray(_acks([a for a, _ in acks], [e for _, e in acks]))
    for pos, val in mutations:
        if buf:
            buf[pos % len(buf)] = val
    results = []
    for codec in _codecs():
        status = array("i", [PENDING] * count)
        detail = array("I", [0] * dcap)
        try:
            got: object = codec.acks_match(bytes(buf), len(buf), first, status, count,
                                           PENDING, detail)
            results.append((got, list(status), list(detail[:got[4]])))  # type: ignore
        except ParseError as exc:  # what was matched before it must agree too
            assert exc.partial is not None
            nd = exc.partial[4]
            results.append(("ParseError", str(exc), exc.offset, exc.partial, list(status),
                            list(detail[:nd])))
    assert all(r == results[0] for r in results)


@pytest.mark.kernel
def test_sock_recv_and_addr_call_native_equals_pure(kns_module: object) -> None:
    env = kns_module
    results = []
    for codec in _codecs():
        a = env.ns.socket()  # type: ignore[attr-defined]
        a.setsockopt(270, 11, 1)  # NETLINK_EXT_ACK
        a.bind((0, 0))
        a.setblocking(False)
        # 20 requests that all fail (no such device), one datagram each, then one from a
        # foreign sender to a's port id
        reqs = b"".join(wire.encode_addr(AddrSpec("198.51.100.1/24", index=999_999), seq=s)
                        for s in range(20))
        a.sendto(reqs, (0, 0))
        forger = env.ns.socket()  # type: ignore[attr-defined]
        forger.bind((0, 0))
        forger.sendto(_acks([5], [0]), (a.getsockname()[0], 0))
        buf = bytearray(1 << 16)
        n, foreign, trunc, overrun = codec.sock_recv(a, buf, 4096, 1000)
        msgs = wire.decode(bytes(buf[:n]))
        results.append(([(m.header.seq, getattr(m, "error", None)) for m in msgs],
                         foreign, trunc, overrun))
        with pytest.raises(BlockingIOError):
            codec.sock_recv(a, buf, 4096, 1000)
        # one-call exchange: an add that succeeds, then the same add (EEXIST + extack)
        spec = AddrSpec("203.0.113.5/32", index=env.v0, op="replace")  # type: ignore
        outs = []
        for s in (100, 101):
            status = array("i", [PENDING])
            cbuf = bytearray(1 << 16)
            got, out = codec.addr_call(a, cbuf, AddrSpec(spec.address, index=spec.index,
                                                         op="add" if s == 101 else "replace"
                                                         ).record, s, status, PENDING)
            detail = None if out[6] == 0xFFFFFFFF else bytes(cbuf[256 + out[6]:256 + got])
            outs.append((status[0], out[3:6], detail is not None))
            if detail is not None:
                (m,) = wire.decode(detail)
                err = wire.error_of(m)  # type: ignore[arg-type]
                assert err is not None and err.errno == errno.EEXIST
                assert err.msg == "ipv4: Address already assigned"
        results.append(outs)
        a.close()
        forger.close()
        env.ns.run(["ip", "addr", "flush", "dev", "v0"], check=True)  # type: ignore
    assert results[0][0] == [(s, -errno.ENODEV) for s in range(20)]
    assert results[0][1:] == (1, 0, 0)
    assert results[1] == [(0, (1, 0, 0), False), (-errno.EEXIST, (1, 0, 0), True)]
    assert all(r == results[i % 2] for i, r in enumerate(results))


@pytest.mark.kernel
def test_sock_recv_reports_overrun(kns_module: object) -> None:
    env = kns_module
    for codec in _codecs():
        a = env.ns.socket()  # type: ignore[attr-defined]
        a.setsockopt(1, 8, 1024)  # SO_RCVBUF: tiny
        a.bind((0, 0))
        a.setblocking(False)
        reqs = b"".join(wire.encode_addr(AddrSpec("198.51.100.1/24", index=999_999), seq=s)
                        for s in range(500))
        a.sendto(reqs, (0, 0))
        buf = bytearray(1 << 16)
        n, foreign, trunc, overrun = codec.sock_recv(a, buf, 4096, 1000)
        assert overrun == 1 and foreign == trunc == 0
        seqs = [m.header.seq for m in wire.decode(bytes(buf[:n]))]
        assert 0 < len(seqs) < 500 and seqs == sorted(seqs)  # some dropped, order kept
        a.close()


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.sampled_from([0, -13, -34]),
                          st.booleans(), st.sampled_from([None, "", "x", "ipv6: IPv6 is "
                                                          "disabled on this device"]),
                          st.sampled_from([None, 24, "IFA_LOCAL"])), max_size=12),
       st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=3))
def test_acks_scan_extack_spans_native_equals_pure_and_decoder(
        acks: list[tuple[int, int, bool, str | None, object]],
        mutations: list[tuple[int, int]]) -> None:
    buf = bytearray()
    for seq, e, capped, msg, offset in acks:
        req = wire.encode_addr(AddrSpec("198.51.100.1/24", index=3), seq=seq)
        buf += wire.encode_error_reply(req, e, 9, msg=msg, offset=offset,  # type: ignore
                                       capped=capped)
    clean = bytes(buf)
    for pos, val in mutations:
        if buf:
            buf[pos % len(buf)] = val
    outs = []
    for codec in _codecs():
        arrs = [array("I", [0] * 16), array("i", [0] * 16), array("I", [0] * 16),
                array("I", [0] * 16)]
        ext = array("I", [0] * 48)
        try:
            k: object = codec.acks_scan(bytes(buf), len(buf), *arrs, ext)
            outs.append((k, [list(a) for a in arrs], list(ext)))
        except ParseError as exc:
            outs.append(("ParseError", str(exc), exc.offset))
    assert all(o == outs[0] for o in outs)
    if not mutations:  # the spans agree with the full decoder
        k, _arrs, ext_l = outs[0]
        msgs = wire.decode(clean)
        assert k == len(msgs)
        for i, m in enumerate(msgs):
            text = m.extack.msg if m.extack and m.extack.msg is not None else None  # type: ignore
            o, n, offs = ext_l[3 * i:3 * i + 3]  # type: ignore[index]
            assert (clean[o:o + n].decode() if o else None) == (text if text else
                                                                 (None if not o else ""))
            want = m.extack.offset if m.extack and m.error else None  # type: ignore
            assert (None if offs == 0xFFFFFFFF else offs) == want


@pytest.mark.kernel
def test_connected_socket_hears_only_the_kernel(kns_module: object) -> None:
    """A transport's socket is connected to the kernel, so another socket's unicast is
    refused at its sendto (and the receive skips asking for sender names: nothing foreign
    can arrive); a socket in a multicast group can still hear another process, so it keeps
    the sender check, and the forged datagram is counted, never passed on."""
    from nlcore.codec import consts as C
    from nlcore.net.transport import NetlinkSocket

    env = kns_module
    t = NetlinkSocket(env.ns.socket())  # type: ignore[attr-defined]
    assert t.kernel_only
    forger = env.ns.socket()  # type: ignore[attr-defined]
    forger.bind((0, 0))
    with pytest.raises(ConnectionRefusedError):
        forger.sendto(_acks([5], [0]), (t.pid, 0))
    buf = bytearray(1 << 16)
    for codec in _codecs():
        t.send(wire.encode_addr(AddrSpec("198.51.100.1/24", index=999_999), seq=5))
        n, foreign, trunc, overrun = codec.sock_recv(t.sock, buf, 4096, 100, False)
        (msg,) = wire.decode(bytes(buf[:n]))
        assert (msg.header.seq, msg.error, foreign, trunc, overrun) == \
            (5, -errno.ENODEV, 0, 0, 0)
    t.close()
    # bound and joined to a group before it is adopted: not kernel-only, the sender is
    # checked (an unbound socket's groups 1-32 are reset by the transport's own bind)
    member = env.ns.socket()  # type: ignore[attr-defined]
    member.bind((0, 0))
    member.setsockopt(C.SOL_NETLINK, C.NETLINK_ADD_MEMBERSHIP, 1)  # RTNLGRP_LINK
    t = NetlinkSocket(member)
    assert not t.kernel_only
    forger.sendto(_acks([5], [0]), (0, 1))  # to group 1 (root may multicast)
    n, foreign, _trunc, _over = t.recv_batch(buf, block=True)
    assert (n, foreign) == (0, 1)
    t.close()
    forger.close()
