"""Decoding replies: acks, errors capped and uncapped, extack, DONE, unknown kept raw,
malformed input -> ParseError with the offset; hypothesis round-trips and random bytes."""

from __future__ import annotations

import errno
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_wire_golden import KATA, KATA_SPEC

from nlcore.codec import consts as C
from nlcore.codec import wire
from nlcore.codec.decode import DoneMsg, ErrorMsg, Message
from nlcore.codec.errors import KernelError, ParseError
from nlcore.codec.spec import AddrSpec

EXAMPLES = int(os.environ.get("NLCORE_FUZZ_EXAMPLES", "300"))
# Bytes the kernel (6.18) sent in this project's namespace: the Kata request on a device
# with disable_ipv6=1, with NETLINK_EXT_ACK, without NETLINK_CAP_ACK (v0 was index 3).
KERNEL_EACCES = bytes.fromhex(
    "80000000020000021300000005120000f3ffffff400000001400050513000000000000000a400000030000"
    "0014000100fe80000000000000c44c1cfffe84f6b714000200fe80000000000000c44c1cfffe84f6b72a00"
    "0100697076363a20495076362069732064697361626c6564206f6e207468697320646576696365000000")
# ERANGE for an IFA_LOCAL of 3 bytes: message, offset 24, policy nest.
KERNEL_ERANGE = bytes.fromhex(
    "88000000020000020700000005120000deffffff20000000140005060700000000000000021800000300"
    "000007000200c633640027000100417474726962757465206661696c656420706f6c6963792076616c69"
    "646174696f6e00000800020018000000240004800c00040000000000000000000c000500ffffffff0000"
    "00000800010004000000")
DISABLED = "ipv6: IPv6 is disabled on this device"


def test_kernel_eacces_uncapped_with_extack() -> None:
    (m,) = wire.decode(KERNEL_EACCES)
    assert isinstance(m, ErrorMsg)
    assert (m.error, m.capped, m.header.seq, m.header.pid) == (-13, False, 19, 0x1205)
    assert m.header.flags == C.NLM_F_ACK_TLVS
    assert m.request[4:] == KATA[4:20] + bytes([3]) + KATA[21:]
    assert m.extack is not None and m.extack.msg == DISABLED and m.extack.offset is None
    err = wire.error_of(m)
    assert isinstance(err, PermissionError) and isinstance(err, KernelError)
    assert err.errno == errno.EACCES and err.errno_name == "EACCES"
    assert str(err) == ("RTM_NEWADDR fe80::c44c:1cff:fe84:f6b7/64 dev index 3: [Errno 13] "
                        f"Permission denied: {DISABLED} (seq 19)")


def test_kernel_erange_offset_names_attribute_and_policy() -> None:
    (m,) = wire.decode(KERNEL_ERANGE)
    assert isinstance(m, ErrorMsg) and m.extack is not None
    assert (m.error, m.extack.msg, m.extack.offset, m.extack.attr) == \
        (-34, "Attribute failed policy validation", 24, "IFA_LOCAL")
    assert m.extack.policy is not None
    assert {a.type for a in m.extack.policy} == {1, 4, 5}  # TYPE, MIN_VALUE_U, MAX_VALUE_U


def test_synthetic_error_equals_kernel_bytes() -> None:
    req = wire.encode_addr(KATA_SPEC.with_index(3), seq=19)
    assert wire.encode_error_reply(req, -13, 0x1205, msg=DISABLED) == KERNEL_EACCES


@pytest.mark.parametrize("capped", [False, True])
def test_capped_error_offset_resolved_from_kept_request(capped: bool) -> None:
    req = wire.encode_addr(AddrSpec("198.51.100.1/24", index=7), seq=5)
    reply = wire.encode_error_reply(req, -34, 99, msg="bad", offset="IFA_LOCAL", capped=capped)
    (m,) = wire.decode(reply)
    assert isinstance(m, ErrorMsg) and m.capped is capped and m.extack is not None
    assert m.request == (req[:16] if capped else req)
    assert m.extack.offset == 24
    assert m.extack.attr == (None if capped else "IFA_LOCAL")
    err = wire.error_of(m, {5: req})
    assert err is not None and err.attr == "IFA_LOCAL" and err.msg == "bad"
    assert err.request_text == "RTM_NEWADDR 198.51.100.1/24 dev index 7"


@pytest.mark.parametrize("reply,req,dev", [
    (KERNEL_EACCES, None, None), (KERNEL_ERANGE, None, None),
    (KERNEL_EACCES, wire.encode_addr(KATA_SPEC.with_index(3), seq=19), (3, "v0"))])
def test_lazy_error_equals_eager_and_decodes_only_when_read(
        reply: bytes, req: bytes | None, dev: tuple[int, str] | None) -> None:
    """apply()'s errors (engine.error_for) decode nothing until a detail is read, and then
    say exactly what error_of says; they survive pickling."""
    import pickle

    from nlcore.ops.engine import error_for

    (m,) = wire.decode(reply)
    assert isinstance(m, ErrorMsg)
    eager = wire.error_of(m, {m.header.seq: req} if req else None)
    assert eager is not None
    lazy = error_for(m.error, m.header.seq, reply, req, dev)
    assert type(lazy) is type(eager) and lazy.errno == eager.errno and lazy.seq == eager.seq
    assert lazy._detail is not None  # nothing decoded yet
    def named(text: str) -> str:
        return text.replace("dev index 3", "dev v0") if dev else text

    assert (lazy.request, lazy.request_text, lazy.extack, lazy.capped) == (
        eager.request, named(eager.request_text), eager.extack, eager.capped)
    assert lazy._detail is None
    assert str(lazy) == named(str(eager))
    back = pickle.loads(pickle.dumps(lazy))
    assert (type(back), str(back), back.extack) == (type(lazy), str(lazy), lazy.extack)


def test_lazy_error_with_a_bad_extack_tlv_keeps_the_errno() -> None:
    """A kept reply whose extack TLV is cut short: the error stands, without extack."""
    bad = bytearray(KERNEL_EACCES)
    struct.pack_into("=H", bad, 84, 0xFFF0)  # the NLMSGERR_ATTR_MSG length, past the end
    with pytest.raises(ParseError):
        wire.decode(bytes(bad))
    from nlcore.ops.engine import error_for

    err = error_for(-13, 19, bytes(bad), None)
    assert isinstance(err, PermissionError)
    assert (err.errno, err.extack, err.request_text, err.request) == (13, None, "", b"")


def test_success_ack_is_36_bytes_capped_and_warning_kept() -> None:
    req = wire.encode_addr(AddrSpec("198.51.100.1/24", index=7), seq=5)
    ack = wire.encode_error_reply(req, 0, 1)
    assert len(ack) == 36
    (m,) = wire.decode(ack)
    assert isinstance(m, ErrorMsg) and (m.error, m.capped) == (0, True)
    assert wire.error_of(m) is None
    warn = wire.encode_error_reply(req, 0, 1, msg="heads up", cookie=b"\x01\x02")
    (w,) = wire.decode(warn)
    assert isinstance(w, ErrorMsg) and w.extack is not None
    assert (w.extack.msg, w.extack.cookie) == ("heads up", b"\x01\x02")


def test_done_with_error_and_extack_and_overrun_and_unknown_kept() -> None:
    tlv = struct.pack("=HH", 8, C.NLMSGERR_ATTR_MSG) + b"bad\0"
    done = struct.pack("=IHHIIi", 28, C.NLMSG_DONE, C.NLM_F_MULTI | C.NLM_F_ACK_TLVS, 9, 0,
                       -22) + tlv
    over = struct.pack("=IHHII", 16, C.NLMSG_OVERRUN, 0, 10, 0)
    unknown = struct.pack("=IHHII", 20, 0x77, 0, 11, 0) + b"\xaa\xbb\xcc\xdd"
    msgs = wire.decode(done + over + unknown)
    assert isinstance(msgs[0], DoneMsg) and msgs[0].error == -22
    assert msgs[0].extack is not None and msgs[0].extack.msg == "bad"
    err = wire.error_of(msgs[0])
    assert err is not None and err.errno == errno.EINVAL
    assert type(msgs[1]) is Message and msgs[1].type_name == "NLMSG_OVERRUN"
    assert type(msgs[2]) is Message and msgs[2].raw[16:] == b"\xaa\xbb\xcc\xdd"


def test_unknown_attribute_kept_raw() -> None:
    req = bytearray(wire.encode_addr(AddrSpec("198.51.100.1/24", index=7)))
    extra = struct.pack("=HH", 8, 200) + b"\x01\x02\x03\x04"
    req += extra
    struct.pack_into("=I", req, 0, len(req))
    (m,) = wire.decode(bytes(req))
    assert m.raw == bytes(req)
    assert (200, b"\x01\x02\x03\x04") in [(a.type, a.raw) for a in m.attrs]  # type: ignore


@pytest.mark.parametrize("raw,offset", [
    (b"\x10\x00\x00", 0),                               # shorter than a header
    (struct.pack("=IHHII", 15, 3, 0, 0, 0), 0),          # nlmsg_len < 16
    (struct.pack("=IHHII", 40, 3, 0, 0, 0), 0),          # nlmsg_len past the end
    (struct.pack("=IHHII", 20, 2, 0, 0, 0) + b"\0" * 4, 0),   # NLMSG_ERROR < 36 bytes
    (KATA + struct.pack("=IHHII", 0, 0, 0, 0, 0), 64),   # zero-length loop
    (KATA[:24] + struct.pack("=HH", 90, 1) + KATA[28:], 24),  # attribute overruns
    (KATA + b"\x01\x02", 64),                            # trailing garbage
])
def test_malformed_raises_parse_error_with_offset(raw: bytes, offset: int) -> None:
    with pytest.raises(ParseError) as info:
        wire.decode(raw)
    assert info.value.offset == offset
    assert f"offset {offset}" in str(info.value)


ip4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ip6 = st.binary(min_size=16, max_size=16).map(
    lambda b: __import__("ipaddress").IPv6Address(b).compressed)


@st.composite
def specs(draw: st.DrawFn) -> AddrSpec:
    v6 = draw(st.booleans())
    addr = draw(ip6 if v6 else ip4)
    plen = draw(st.integers(0, 128 if v6 else 32))
    kw: dict[str, object] = {"index": draw(st.integers(0, 2**31 - 1)),
                             "op": draw(st.sampled_from(["add", "replace", "del"]))}
    if draw(st.booleans()):
        kw["peer"] = f"{draw(ip6 if v6 else ip4)}/{plen}"
    if not v6 and draw(st.booleans()):
        kw["broadcast"] = draw(st.sampled_from(["+", "-", "203.0.113.255"]))
    if draw(st.booleans()):
        kw["label"] = draw(st.text("abcv0:.-_", min_size=1, max_size=15))
    kw["flags"] = draw(st.sampled_from([0, "nodad", "noprefixroute", "nodad noprefixroute",
                                        "home mngtmpaddr autojoin optimistic"]))
    if draw(st.booleans()):
        valid = draw(st.integers(1, 2**32 - 1))
        kw["valid_lft"] = valid
        kw["preferred_lft"] = draw(st.integers(0, valid))
    if draw(st.booleans()):
        kw["metric"] = draw(st.integers(0, 2**32 - 1))
    if draw(st.booleans()):
        kw["proto"] = draw(st.integers(0, 255))
    kw["address_first"] = draw(st.booleans())
    return AddrSpec(f"{addr}/{plen}", **kw)  # type: ignore[arg-type]


@settings(max_examples=EXAMPLES, deadline=None)
@given(specs(), st.integers(0, 2**32 - 1))
def test_build_then_decode_is_identity(spec: AddrSpec, seq: int) -> None:
    raw = wire.encode_addr(spec, seq=seq)
    (m,) = wire.decode(raw)
    assert m.raw == raw and m.header.seq == seq and m.header.len == len(raw)
    assert (m.family, m.prefixlen, m.index) == (spec.family, spec.prefixlen,  # type: ignore
                                                spec.index)
    rebuilt = AddrSpec(f"{m.local}/{m.prefixlen}", index=spec.index, op=spec.op,  # type: ignore
                       peer=spec.peer, broadcast=spec.broadcast, label=spec.label,
                       scope=spec.scope, flags=spec.flags, valid_lft=spec.valid_lft,
                       preferred_lft=spec.preferred_lft, metric=spec.metric,
                       proto=spec.proto, address_first=spec.address_first)
    assert wire.encode_addr(rebuilt, seq=seq) == raw


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_crash(raw: bytes) -> None:
    try:
        msgs = wire.decode(raw)
    except ParseError as exc:
        assert 0 <= exc.offset <= len(raw)
    else:
        assert sum(len(m.raw) + (-len(m.raw) % 4) for m in msgs) >= len(raw) - 3
