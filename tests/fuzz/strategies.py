"""Hypothesis strategies for the fuzz tests: valid netlink traffic, then mutations.

Everything starts as what the kernel sends (acks, errors capped and uncapped with extack,
DONE with extack, RTM_NEWADDR / RTM_NEWLINK dump parts with nested attributes, batches of
them, deep echo and attribute chains); :func:`mutated` then rewrites lengths, types, flags
and nesting, truncates, splices, deletes and flips bytes. Used by tests/test_fuzz.py.
"""

from __future__ import annotations

import struct
from typing import Any

from fuzz.family_strategies import family_specs
from hypothesis import strategies as st

from nlcore.codec import consts as C
from nlcore.codec import wire
from nlcore.codec.errors import SpecError
from nlcore.codec.spec import AddrSpec

HDR = C.NLMSGHDR
U32 = 0xFFFFFFFF


def nla(tp: int, payload: bytes) -> bytes:
    """One attribute with its padding."""
    n = 4 + len(payload)
    return struct.pack("=HH", n, tp) + payload + bytes(-n & 3)


def msg(tp: int, flags: int, seq: int, body: bytes, pid: int = 0) -> bytes:
    """One message (unpadded; ``stream`` pads)."""
    return HDR.pack(16 + len(body), tp, flags, seq & U32, pid & U32) + body


def stream(msgs: list[bytes]) -> bytes:
    """Messages back to back, each padded to 4 bytes except possibly the last one."""
    return b"".join(m + bytes(-len(m) & 3) for m in msgs)


def with_tlvs(reply: bytes, tlvs: bytes) -> bytes:
    """Append extack TLVs to an NLMSG_ERROR/DONE, set NLM_F_ACK_TLVS, fix nlmsg_len."""
    out = bytearray(reply + bytes(-len(reply) & 3) + tlvs)
    struct.pack_into("=IH", out, 0, len(out), struct.unpack_from("=H", out, 4)[0])
    struct.pack_into("=H", out, 6, struct.unpack_from("=H", out, 6)[0] | C.NLM_F_ACK_TLVS)
    return bytes(out)


u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, U32)
seqs = st.one_of(u32, st.integers(U32 - 4, U32), st.integers(0, 4))
errnos = st.sampled_from([0, -1, -13, -17, -22, -34, -99, -105, -4095, -4096, 1,
                          0x7FFFFFFF, -0x80000000]) | st.integers(-200, 0)
ip4 = st.integers(0, 255).map(lambda b: f"198.51.100.{b}") | st.just("203.0.113.7")
ip6 = st.integers(0, 0xFFFF).map(lambda b: f"2001:db8::{b:x}") | st.just("fe80::1")
attr_types = st.sampled_from(range(0, 13)) | st.integers(0, 0xFFFF)
leaf_attrs = st.builds(nla, attr_types, st.binary(max_size=20))
attr_trees = st.recursive(
    leaf_attrs, lambda kids: st.builds(lambda t, nested, ch: nla(t | (nested << 15),
                                                                  b"".join(ch)),
                                       attr_types.map(lambda t: t & 0x7FFF), st.booleans(),
                                       st.lists(kids, max_size=4)), max_leaves=10)


@st.composite
def addr_specs(draw: st.DrawFn) -> AddrSpec:
    """A valid spec with most options in play."""
    v6 = draw(st.booleans())
    plen = draw(st.integers(0, 128 if v6 else 32))
    kw: dict[str, Any] = {"index": draw(st.integers(0, 2**31 - 1)),
                          "op": draw(st.sampled_from(["add", "replace", "del"])),
                          "address_first": draw(st.booleans())}
    if draw(st.booleans()):
        kw["peer"] = f"{draw(ip6 if v6 else ip4)}/{plen}"
    if not v6 and draw(st.booleans()):
        kw["broadcast"] = draw(st.sampled_from(["+", "-", "203.0.113.255"]))
    if draw(st.booleans()):
        kw["label"] = draw(st.text("abv0:-", min_size=1, max_size=15))
    if draw(st.booleans()):
        kw["valid_lft"] = valid = draw(st.integers(1, U32))
        kw["preferred_lft"] = draw(st.integers(0, valid))
    for key, strat in (("metric", u32), ("proto", u8), ("flags", st.sampled_from(
            ["nodad", "noprefixroute", "nodad noprefixroute mngtmpaddr"]))):
        if draw(st.booleans()):
            kw[key] = draw(strat)
    return AddrSpec(f"{draw(ip6 if v6 else ip4)}/{plen}", **kw)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """A request nlcore sends (address, route, neighbour, link, dump), with a random seq."""
    seq = draw(seqs)
    kind = draw(st.integers(0, 6))
    if kind >= 5:  # a route, neighbour or link request, its seq stamped
        raw = draw(family_specs).message
        return raw[:8] + struct.pack("=I", seq) + raw[12:]
    if kind <= 1:
        return wire.encode_addr(draw(addr_specs()), seq=seq)
    if kind == 2:
        return wire.encode_veth(draw(st.text("abv0", min_size=1, max_size=15)),
                                draw(st.text("cdv1", min_size=1, max_size=15)), seq=seq)
    if kind == 3:
        return wire.encode_getlink(index=draw(st.integers(0, 99)), seq=seq,
                                   name=draw(st.none() | st.just("v0")), dump=draw(st.booleans()))
    return wire.encode_setlink(draw(st.integers(1, 99)), up=draw(st.booleans()),
                               mtu=draw(st.none() | st.integers(68, 9000)), seq=seq)


@st.composite
def replies(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(reply, request): an ack, an error (capped or not, extack), or a DONE with extack."""
    req = draw(requests())
    seq, pid = HDR.unpack_from(req)[3], draw(st.sampled_from([0x4E4C, 0, U32]))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return wire.encode_error_reply(req, 0, pid, msg=draw(st.none() | st.just("warn"))), req
    if kind == 3:
        tlvs = draw(st.lists(st.sampled_from([nla(1, b"dump failed\0"), nla(2, b"\x18\0\0\0"),
                                              nla(5, b"\x02\0\0\0"), nla(6, b"\x20\0\0\0")]),
                             max_size=3))
        done = msg(C.NLMSG_DONE, C.NLM_F_MULTI, seq, struct.pack("=i", draw(errnos)), pid)
        return (with_tlvs(done, b"".join(tlvs)) if tlvs else done), req
    offset = draw(st.none() | st.integers(0, len(req) + 8) | st.sampled_from(
        ["IFA_LOCAL", "IFA_ADDRESS", "IFLA_IFNAME", "IFLA_LINKINFO"]))
    try:
        reply = wire.encode_error_reply(
            req, min(-1, draw(errnos)), pid, msg=draw(st.none() | st.just("ipv6: disabled")),
            offset=offset, cookie=draw(st.none() | st.binary(min_size=1, max_size=20)),
            capped=draw(st.booleans()), ext_ack=draw(st.booleans()))
    except SpecError:  # the request has no such attribute
        reply = wire.encode_error_reply(req, -22, pid, msg="x")
    extra = draw(st.lists(st.sampled_from([nla(C.NLMSGERR_ATTR_POLICY | 0x8000, nla(1, b"\x04"
                 b"\0\0\0") + nla(4, bytes(8))), nla(5, b"\x03\0\0\0"), nla(6, b"\x18\0\0\0"),
                 nla(99, b"??")]) | attr_trees, max_size=3))
    return (with_tlvs(reply, b"".join(extra)) if extra else reply), req


@st.composite
def dump_entries(draw: st.DrawFn) -> bytes:
    """An RTM_NEWADDR or RTM_NEWLINK dump part, nested attributes included."""
    seq, multi = draw(seqs), C.NLM_F_MULTI | draw(st.sampled_from([0, C.NLM_F_DUMP_INTR]))
    trees = b"".join(draw(st.lists(attr_trees, max_size=3)))
    if draw(st.booleans()):
        raw = wire.encode_addr(draw(addr_specs()), seq=seq)
        body = raw[16:] + nla(C.IFA_CACHEINFO, bytes(16)) + nla(C.IFA_FLAGS, bytes(4)) + trees
        return msg(C.RTM_NEWADDR, multi, seq, body)
    name = draw(st.text("v0é", min_size=0, max_size=16)).encode()
    peer = C.IFINFOMSG.pack(0, 0, 3, 0, 0) + nla(C.IFLA_IFNAME, b"v1\0")
    info = nla(C.IFLA_INFO_KIND, b"veth") + nla(C.IFLA_INFO_DATA | 0x8000, nla(1, peer))
    inet6 = nla(C.AF_INET6 | 0x8000, nla(1, bytes(4)) + nla(2, bytes(4 * draw(
        st.integers(0, 60)))))
    body = (C.IFINFOMSG.pack(0, 1, draw(st.integers(-2, 99)), 0x1043, 0)
            + nla(C.IFLA_IFNAME, name + b"\0") + nla(C.IFLA_MTU, struct.pack("=I", 1500))
            + nla(C.IFLA_ADDRESS, draw(st.binary(min_size=0, max_size=8)))
            + nla(C.IFLA_LINKINFO | draw(st.sampled_from([0, 0x8000])), info)
            + nla(26 | 0x8000, inet6) + trees)
    return msg(C.RTM_NEWLINK, multi, seq, body)


others = st.builds(lambda tp, fl, s, body: msg(tp, fl, s, body),
                   st.sampled_from([1, 4, 20, 16, 24, 0x7F, 0xFFFF]) | u16, u16, seqs,
                   st.binary(max_size=40))


@st.composite
def batches(draw: st.DrawFn) -> tuple[bytes, dict[int, bytes]]:
    """A datagram of 1..6 valid messages and the requests (seq -> bytes) they answer."""
    parts, reqs = [], {}
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 5))
        if kind <= 2:
            reply, req = draw(replies())
            parts.append(reply)
            reqs[HDR.unpack_from(req)[3]] = req
        elif kind <= 4:
            parts.append(draw(dump_entries()))
        else:
            parts.append(draw(others | requests()))
    return stream(parts), reqs


def structure(buf: bytes | bytearray) -> tuple[list[int], list[int]]:
    """Offsets of message headers and attribute headers, found by a tolerant walk."""
    msgs: list[int] = []
    attrs: list[int] = []

    def walk_attrs(a: int, b: int, depth: int) -> None:
        while b - a >= 4 and depth < 6:
            n = struct.unpack_from("=H", buf, a)[0]
            if n < 4 or n > b - a:
                return
            attrs.append(a)
            for skip in (4, 20):  # payload as attributes, or after an ifinfomsg
                walk_attrs(a + skip, a + n, depth + 1)
            a += (n + 3) & ~3

    def walk_msgs(a: int, b: int, depth: int) -> None:
        while b - a >= 16 and depth < 4:
            n, tp = struct.unpack_from("=IH", buf, a)
            if n < 16 or n > b - a:
                return
            msgs.append(a)
            fixed = {2: 20, 3: 20, 20: 24, 21: 24, 22: 24, 16: 32, 18: 32, 19: 32}.get(tp, 16)
            if tp == 2:
                walk_msgs(a + 20, a + n, depth + 1)
            walk_attrs(a + fixed, a + n, 0)
            a += (n + 3) & ~3

    walk_msgs(0, len(buf), 0)
    return msgs, attrs


LIES = [0, 1, 3, 4, 5, 15, 16, 17, 19, 20, 35, 36, 37, 0xFFFF, 0x10000, 0x7FFFFFFF, U32]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, dict[int, bytes]]:
    """A valid batch after 0..5 mutations of lengths, types, flags, nesting, bytes, size."""
    buf_b, reqs = draw(batches())
    buf = bytearray(buf_b)
    msgs, attrs = structure(buf)
    for _ in range(draw(st.integers(0, 5))):
        op = draw(st.sampled_from(["len", "alen", "atype", "mtype", "mflags", "seq", "errno",
                                   "truncate", "splice", "delete", "flip", "dup"]))
        at_m = draw(st.sampled_from(msgs)) if msgs else 0
        at_a = draw(st.sampled_from(attrs)) if attrs else 0
        near = draw(st.integers(-4, 4))
        if op == "len" and at_m + 4 <= len(buf):
            real = struct.unpack_from("=I", buf, at_m)[0]
            v = draw(st.sampled_from(LIES) | st.just(real + near) | st.just(len(buf) - at_m))
            struct.pack_into("=I", buf, at_m, max(0, v) & U32)
        elif op == "alen" and at_a + 4 <= len(buf):
            real = struct.unpack_from("=H", buf, at_a)[0]
            struct.pack_into("=H", buf, at_a, draw(st.sampled_from(LIES[:14]) | st.just(
                max(0, real + near))) & 0xFFFF)
        elif op == "atype" and at_a + 4 <= len(buf):
            t = struct.unpack_from("=H", buf, at_a + 2)[0]
            struct.pack_into("=H", buf, at_a + 2, draw(st.sampled_from(
                [t ^ 0x8000, t ^ 0x4000, t & 0x3FFF, 1, 2, 3, 4, 6, 8, 18, 26]) | u16))
        elif op in ("mtype", "mflags", "seq", "errno") and at_m + 20 <= len(buf):
            where, value = {"mtype": (4, st.sampled_from([1, 2, 3, 4, 16, 18, 20, 21, 22])),
                            "mflags": (6, st.sampled_from([0x100, 0x200, 0x300, 0x2, 0x10])),
                            "seq": (8, st.just(0)), "errno": (16, st.just(0))}[op]
            if op in ("mtype", "mflags"):
                fl = struct.unpack_from("=H", buf, at_m + where)[0]
                v = draw(value | u16)
                struct.pack_into("=H", buf, at_m + where, v ^ fl if op == "mflags" else v)
            else:
                struct.pack_into("=I", buf, at_m + where, draw(value | u32 | errnos.map(
                    lambda e: e & U32)))
        elif op == "truncate":
            del buf[draw(st.integers(0, len(buf))):]
        elif op in ("splice", "dup"):
            src = bytes(buf) if op == "dup" else draw(batches())[0]
            a = draw(st.integers(0, len(src)))
            chunk = src[a:a + draw(st.integers(0, 64))]
            pos = draw(st.sampled_from([*msgs, *attrs, len(buf)]) | st.integers(0, len(buf)))
            buf[pos:pos] = chunk
        elif op == "delete" and buf:
            a = draw(st.integers(0, len(buf) - 1))
            del buf[a:a + draw(st.integers(1, 16))]
        elif op == "flip" and buf:
            buf[draw(st.integers(0, len(buf) - 1))] = draw(u8)
    return bytes(buf), reqs


def echo_chain(depth: int) -> bytes:
    """An NLMSG_ERROR echoing an NLMSG_ERROR echoing ... an RTM_NEWADDR (20 bytes a level)."""
    m = wire.encode_addr(AddrSpec("198.51.100.1/24", index=7), seq=5)
    for _ in range(depth):
        m = msg(C.NLMSG_ERROR, 0, 5, struct.pack("=i", -22) + m)
    return m


def attr_chain(depth: int) -> tuple[bytes, bytes]:
    """(request, error reply): an RTM_GETLINK whose attribute nests ``depth`` levels deep,
    refused with an extack offset pointing at the innermost one."""
    a = nla(1, b"\x01\x02\x03\x04")
    for _ in range(depth):
        a = nla(1 | C.NLA_F_NESTED, a)
    req = wire.encode_getlink(index=1, seq=9)
    req = struct.pack("=I", len(req) + len(a)) + req[4:] + a
    return req, wire.encode_error_reply(req, -22, 9, msg="bad", offset=len(req) - 4)


random_bufs = st.binary(max_size=1024) | st.builds(
    lambda n, tp, fl, tail: struct.pack("=IHH", n, tp, fl) + tail,
    st.sampled_from(LIES) | st.integers(0, 200), st.sampled_from([2, 3, 16, 20]) | u16, u16,
    st.binary(max_size=200))
depths = st.integers(0, 8) | st.integers(1000, 3000)
Sample = tuple[bytes, dict[int, bytes]]
deep: st.SearchStrategy[Sample] = depths.map(lambda d: (echo_chain(d), {})) | depths.map(
    attr_chain).map(lambda rr: (rr[1], {9: rr[0]}))
#: flat streams (for the scanners) and everything, deep chains included (for decode)
flat_samples = st.one_of(mutated(), random_bufs.map(lambda b: (b, {})))
samples = st.one_of(flat_samples, deep)
