"""Bulk address input (codec.bulk.AddrBulk): the records of AddrSpec, the errors of AddrSpec
named by item, in both backends; applied as a whole by apply() and read back with ``ip -j``."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from _util import need_backend
from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.codec import bulk as B
from nlcore.codec.bulk import AddrBulk
from nlcore.codec.errors import SpecError
from nlcore.codec.spec import AddrSpec
from nlcore.ops.engine import apply


@pytest.fixture(params=["native", "pure"])
def bbackend(request: pytest.FixtureRequest) -> str:
    """Each bulk backend in turn (native required under NLCORE_REQUIRE_NATIVE=1)."""
    need_backend(B.load, request.param)
    return str(request.param)


def outcome(fn: Any, *a: Any, **kw: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*a, **kw)
    except Exception as e:
        return type(e).__name__, str(e)


def test_records_equal_addrspecs(bbackend: str) -> None:
    texts = ["198.51.100.1/24", "2001:db8::1/64", "127.0.0.5/8", "203.0.113.9",
             "fe80::1", "2001:db8::/0128"]
    for op in ("add", "replace", "del"):
        b = AddrBulk(texts, index=[3, 4], op=op, flags="nodad", metric=7, label="v0",  # type: ignore[arg-type]
                     backend=bbackend)
        want = [AddrSpec(t, index=[3, 4][i % 2], op=op, flags="nodad", metric=7,  # type: ignore[arg-type]
                         label="v0") for i, t in enumerate(texts)]
        assert b.records == b"".join(s.record for s in want)
        assert list(b) == want
    loop = AddrBulk(["127.0.0.5/8"], backend=bbackend)
    assert loop.records == AddrSpec("127.0.0.5/8").record and loop.records[6] == 254  # host


def test_ipaddress_objects(bbackend: str) -> None:
    objs = [ipaddress.ip_interface("198.51.100.7/24"), ipaddress.ip_address("2001:db8::5"),
            ipaddress.ip_network("203.0.113.0/25")]
    b = AddrBulk(objs, index=9, backend=bbackend)
    assert b.records == b"".join(AddrSpec(str(o), index=9).record for o in objs)


@pytest.mark.parametrize("items, index, message", [
    (["198.51.100.1/24", "1.2.3.4/33"], 1,
     "item 1 '1.2.3.4/33': invalid prefix length '33' in address '1.2.3.4/33': expected 0..32"),
    (["198.51.100.1", "2001:db8::1/129", "x"], 1,
     "item 1 '2001:db8::1/129': invalid prefix length '129'"),
    (["198.51.100.1/", "x"], 1, "item 0 '198.51.100.1/': invalid prefix length ''"),
    (["1.2.3.4\n5.6.7.8"], 1, "item 0 '1.2.3.4\\n5.6.7.8': invalid address"),
    (["198.51.100.1", "1.2.3.4\0"], 1, "item 1 '1.2.3.4\\x00'"),
    (["198.51.100.1", 5], 1, "item 1 5: address must be text"),
    (["198.51.100.1", "198.51.100.2"], [1, -1], "item 1 '198.51.100.2': invalid interface index"),
    (["198.51.100.1"], True, "invalid interface index True"),  # one index: no item
])
def test_bad_item_named(bbackend: str, items: list[Any], index: Any, message: str) -> None:
    with pytest.raises(SpecError) as exc:
        AddrBulk(items, index=index, backend=bbackend)
    assert str(exc.value).startswith(message)


def test_shared_field_errors_are_addrspecs() -> None:
    for kw in ({"flags": "bogus"}, {"op": "change"}, {"scope": 300}, {"label": "a b"},
               {"valid_lft": 0}):
        want = outcome(AddrSpec, "192.0.2.1", **kw)
        assert want[0] == "SpecError"
        assert outcome(AddrBulk, ["198.51.100.1"], **kw) == want


def test_range(bbackend: str) -> None:
    b = AddrBulk.range("198.18.255.254", 4, index=[1, 2], backend=bbackend)
    assert [s.address for s in b] == ["198.18.255.254/32", "198.18.255.255/32",
                                      "198.19.0.0/32", "198.19.0.1/32"]
    assert b.records == b"".join(s.record for s in b)
    b6 = AddrBulk.range("2001:db8::ffff", 2, prefixlen=64, flags="nodad", backend=bbackend)
    assert [s.address for s in b6] == ["2001:db8::ffff/64", "2001:db8::1:0/64"]
    assert b6.records == b"".join(s.record for s in b6)
    with pytest.raises(SpecError, match=r"item 6 of the range from '255\.255\.255\.250': "
                                        r"past the last IPv4 address"):
        AddrBulk.range("255.255.255.250", 10, backend=bbackend)
    with pytest.raises(SpecError, match="invalid prefix length '33'"):
        AddrBulk.range("198.18.0.0", 10, prefixlen=33, backend=bbackend)


_octet = st.integers(0, 255).map(str) | st.sampled_from(["256", "01", "", "a", "1e1", "٣"])
_v4 = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", _octet, _octet, _octet, _octet)
_v6 = st.builds(lambda ip, z: ipaddress.IPv6Address(ip).compressed.replace("::", z, 1),
                st.integers(0, 2**128 - 1), st.sampled_from(["::", ":", ":::", "::"]))
_plen = st.sampled_from(["", "/0", "/24", "/32", "/33", "/64", "/128", "/129", "/", "/x",
                         "/024", "/ 1", "/²"])
_item = st.builds(lambda a, p: a + p, _v4 | _v6, _plen) | st.text(max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(_item, min_size=1, max_size=8), st.sampled_from(["add", "del", "replace"]))
def test_native_equals_pure_equals_addrspec(items: list[str], op: str) -> None:
    need_backend(B.load, "native")
    native = outcome(lambda: AddrBulk(items, index=3, op=op, backend="native").records)  # type: ignore[arg-type]
    pure = outcome(lambda: AddrBulk(items, index=3, op=op, backend="pure").records)  # type: ignore[arg-type]
    assert native == pure
    singles = [outcome(lambda t=t: AddrSpec(t, index=3, op=op).record) for t in items]  # type: ignore[arg-type, misc]
    bad = next((i for i, s in enumerate(singles) if s[0] != "ok"), None)
    if bad is None:
        assert native == ("ok", b"".join(s[1] for s in singles))
    else:
        assert native[0] == "SpecError"
        assert native[1].startswith(f"item {bad} {items[bad]!r}: ")
        assert native[1].endswith(singles[bad][1])


# ---------------------------------------------------------------------------- kernel
@pytest.mark.kernel
def test_apply_takes_a_bulk_as_a_whole(kns: Any) -> None:
    v4 = AddrBulk.range("198.18.0.1", 300, index=kns.v0)
    v6 = AddrBulk([f"2001:db8::{i:x}/128" for i in range(1, 301)], index=kns.v0,
                  flags="nodad")
    for b in (v4, v6):
        rep = apply(b, kns.conn)
        assert rep.ok and len(rep) == 300
    got = kns.addrs("v0")
    assert {(f"198.18.{i >> 8}.{i & 255}", 32) for i in range(1, 301)} <= got
    assert {(f"2001:db8::{i:x}", 128) for i in range(1, 301)} <= got
    dup = apply(AddrBulk(["198.18.0.5/32", "198.18.9.9/32"], index=kns.v0), kns.conn)
    assert [r.status for r in dup] == ["failed", "ok"]
    assert dup[0].error is not None and dup[0].error.errno == 17
    assert dup[0].spec == AddrSpec("198.18.0.5/32", index=kns.v0)
    dels = apply(AddrBulk.range("198.18.0.1", 300, index=kns.v0, op="del"), kns.conn)
    assert dels.ok
    assert {a for a, _ in kns.addrs("v0") if a.startswith("198.18.")} == {"198.18.9.9"}


def test_nothing_sent_when_an_item_is_bad() -> None:
    """The error comes from the constructor: there is no object to hand to apply()."""
    with pytest.raises(SpecError, match="item 2 "):
        AddrBulk(["198.51.100.1", "198.51.100.2", "198.51.100.300"])
