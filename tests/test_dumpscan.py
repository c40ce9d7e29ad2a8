"""The dump scan (csrc/dump.c ``nlc_dump_scan``, its pure twin) and the decoder built on it
(codec.dumpscan.decode_dump): native and pure give identical rows and exceptions, and
decode_dump gives what decode() gives (the same classes, equal objects, the same ParseError)
for generated dump datagrams and any mutation of them; the C under ASan/UBSan; a real dump
of a few thousand addresses and routes read back as ``ip -j`` reads it."""

from __future__ import annotations

import ipaddress
import json
import os
import struct
from array import array
from pathlib import Path
from typing import Any

import pytest
from _util import run_sanitized
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlcore.codec import _backend
from nlcore.codec import consts as C
from nlcore.codec._pure_dump import COLS
from nlcore.codec.decode import decode
from nlcore.codec.dumpscan import decode_dump
from nlcore.codec.errors import ParseError, SpecError
from nlcore.codec.route import RouteSpec, encode_getroute
from nlcore.codec.spec import AddrSpec
from nlcore.codec.tables import HEADERS
from nlcore.codec.wire import encode_getaddr
from nlcore.ops.engine import apply

ROOT = Path(__file__).resolve().parent.parent
EQUIV = settings(max_examples=400, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
TYPES = (C.RTM_NEWADDR, C.RTM_NEWROUTE, C.RTM_NEWNEIGH, C.RTM_NEWLINK, C.NLMSG_DONE,
         C.NLMSG_ERROR, 99)


def _attr(t: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), t) + payload + bytes(-len(payload) % 4)


@st.composite
def attrs(draw: st.DrawFn, depth: int = 0) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        t = draw(st.integers(0, 40)) | draw(st.sampled_from([0, 0, 0, C.NLA_F_NESTED]))
        if depth < 1 and draw(st.booleans()):
            payload = draw(attrs(depth + 1))  # a nest (or an rtnexthop-looking blob)
        else:
            payload = draw(st.binary(max_size=20))
        out += _attr(t, payload)
    return out


@st.composite
def datagrams(draw: st.DrawFn) -> bytes:
    """Messages as a dump sends them: nlmsghdr, a family's fixed header, attributes."""
    out = b""
    for _ in range(draw(st.integers(0, 5))):
        tp = draw(st.sampled_from(TYPES))
        fam = HEADERS.get(tp)
        body = draw(st.binary(min_size=fam.layout.size, max_size=fam.layout.size)) \
            if fam else draw(st.binary(max_size=24))
        body += draw(attrs()) if fam else b""
        flags = draw(st.sampled_from([C.NLM_F_MULTI, C.NLM_F_MULTI | C.NLM_F_DUMP_INTR, 0]))
        out += struct.pack("=IHHII", 16 + len(body), tp, flags, 7, 0) + body
        out += bytes(-len(out) % 4)
    return out


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    buf = bytearray(draw(datagrams()))
    for _ in range(draw(st.integers(0, 3)) if buf else 0):
        buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
    return bytes(buf[:draw(st.integers(0, len(buf)))]) if draw(st.booleans()) else bytes(buf)


def scan(codec: Any, buf: bytes, start: int, fixed: int, cap: int) -> Any:
    out = array("I", bytes(4 * COLS * cap))
    try:
        n, stop = codec.dump_scan(buf, start, fixed, out)
        return n, stop, out[:n * COLS].tolist()
    except (ParseError, SpecError) as exc:
        return type(exc), str(exc), getattr(exc, "offset", None)


def outcome(buf: bytes, codec: Any) -> Any:
    try:
        got = decode_dump(buf, None, codec)
        return [type(m) for m in got], got, repr(got)
    except ParseError as exc:
        return "error", str(exc), exc.offset


@pytest.fixture(scope="module")
def native() -> Any:
    try:
        return _backend.load("native")
    except ImportError as exc:
        if os.environ.get("NLCORE_REQUIRE_NATIVE") == "1":
            raise AssertionError(f"native backend required but not built: {exc}") from exc
        pytest.skip(f"native backend not available (not built): {exc}")


@given(buf=mutated(), data=st.data())
@EQUIV
def test_native_scan_equals_pure(native: Any, buf: bytes, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(buf) + 2))
    fixed = data.draw(st.sampled_from([0, 8, 12, 12, 16, 70000]))
    cap = data.draw(st.integers(0, 8))
    assert scan(native, buf, start, fixed, cap) == scan(_backend.PURE, buf, start, fixed, cap)


@given(buf=mutated())
@EQUIV
def test_decode_dump_equals_decode(backend: Any, buf: bytes) -> None:
    ref: Any
    try:
        got = decode(buf)
        ref = [type(m) for m in got], got, repr(got)
    except ParseError as exc:
        ref = "error", str(exc), exc.offset
    assert outcome(buf, backend) == ref


@given(buf=datagrams(), data=st.data())
@EQUIV
def test_get_before_attrs_are_decoded(backend: Any, buf: bytes, data: st.DataObject) -> None:
    """get() on a message whose attributes are not decoded yet gives what decode()'s gives."""
    try:
        ref = decode(buf)
    except ParseError:
        return
    for m, r in zip(decode_dump(buf, None, backend), ref):
        fam = HEADERS.get(m.header.type)
        if fam is None or not hasattr(r, "get"):
            continue
        keys: list[Any] = [d.name for d in fam.attrs.defs] + list(range(0, 33)) + ["NOPE"]
        key = data.draw(st.sampled_from(keys))
        assert m.get(key) == r.get(key)
        assert m == r  # attrs decoded now: the same tuple


def test_scan_rows_and_a_malformed_attribute(backend: Any) -> None:
    good = _attr(C.IFA_LOCAL, bytes([198, 51, 100, 1]))
    msg = struct.pack("=IHHII", 24 + len(good), C.RTM_NEWADDR, 2, 9, 0) + bytes(8) + good
    bad = struct.pack("=IHHII", 28, C.RTM_NEWADDR, 2, 9, 0) + bytes(8) + b"\x09\x00\x02\x00"
    rows = scan(backend, msg + bad, 0, 8, 4)
    assert rows == (2, 60, [0, 32, 20 | 2 << 16, 9, 0, 1, 1 << C.IFA_LOCAL,
                            32, 28, 20 | 2 << 16, 9, 0, 0xFFFFFFFF, 0])
    with pytest.raises(ParseError) as exc:
        decode_dump(msg + bad, None, backend)
    assert exc.value.offset == 32 + 24


def test_dump_c_under_asan_and_ubsan(tmp_path: Path) -> None:
    words = run_sanitized(tmp_path, "dump_harness", "dump.c")
    assert int(words[4]) >= 100_000, words


@pytest.mark.kernel
def test_thousands_of_addresses_and_routes_as_ip_reads_them(kns: Any) -> None:
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    ips = [str(ipaddress.IPv4Address(base + i)) for i in range(1, 3001)]
    specs: list[Any] = [AddrSpec(f"{a}/32", index=kns.v0 if i % 2 else kns.v1)
                        for i, a in enumerate(ips)]
    specs += [AddrSpec("198.51.100.1/24", index=kns.v0)]
    specs += [RouteSpec(f"198.19.{i // 250}.{i % 250}/32", via="198.51.100.254",
                        index=kns.v0, metric=i % 3) for i in range(3000)]
    assert apply(specs, kns.conn, batch=512).ok
    got = {(m.index, m.local, m.prefixlen) for m in kns.conn.request(encode_getaddr(C.AF_INET))
           if m.type_name == "RTM_NEWADDR"}
    links = json.loads(kns.ns.run(["ip", "-j", "-4", "addr", "show"], check=True).stdout)
    ip = {(link["ifindex"], a["local"], a["prefixlen"]) for link in links
          for a in link["addr_info"]}
    assert got == ip and len(got) >= 3001
    routes = [m for m in kns.conn.request(encode_getroute(C.AF_INET, "main"))
              if m.type_name == "RTM_NEWROUTE"]
    mine = {(m.dst.removesuffix("/32"), m.gateway, m.oif, m.priority or 0) for m in routes}
    shown = json.loads(kns.ns.run(["ip", "-j", "-4", "route", "show"], check=True).stdout)
    theirs = {(r["dst"], r.get("gateway"), kns.v0 if r["dev"] == "v0" else kns.v1,
               r.get("metric", 0)) for r in shown}
    assert mine == theirs and len(mine) >= 3000
