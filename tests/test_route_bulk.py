"""Bulk route input (codec.route_bulk.RouteBulk): RouteSpec's bytes, stamped in one call, in
both backends; AddrBulk's errors named by item; applied as a whole by apply() (the same bytes
on the wire as the RouteSpecs) and read back with ``ip -j route``."""

from __future__ import annotations

import errno
import ipaddress
from typing import Any

import pytest
from _util import need_backend
from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.codec import bulk as B
from nlcore.codec.errors import SpecError
from nlcore.codec.route import RouteSpec
from nlcore.codec.route_bulk import RouteBulk
from nlcore.net.conn import Conn
from nlcore.net.fake import FakeTransport, ack_all
from nlcore.ops.engine import apply

OPS = ["add", "replace", "change", "append", "del"]


@pytest.fixture(params=["native", "pure"])
def rbackend(request: pytest.FixtureRequest) -> str:
    """Each builder in turn (native required under NLCORE_REQUIRE_NATIVE=1)."""
    need_backend(B.load, request.param)
    return str(request.param)


def _specs(dsts: list[str], index: Any, **kw: Any) -> list[RouteSpec]:
    col = [index] if isinstance(index, int) else list(index)
    return [RouteSpec(d, index=col[i % len(col)], **kw) for i, d in enumerate(dsts)]


def test_messages_are_routespecs(rbackend: str) -> None:
    dsts = ["198.51.100.0/24", "2001:db8:1::/64", "203.0.113.7", "2001:db8::5",
            "198.18.0.0/15", "0.0.0.0/0", "::/0"]
    for op in OPS:
        for metric in (None, 7):
            b = RouteBulk(dsts, index=[3, 0, 5], op=op, metric=metric, backend=rbackend)
            want = _specs(dsts, [3, 0, 5], op=op, metric=metric)
            assert b.messages == b"".join(s.message for s in want)
            assert list(b) == want and len(b) == len(dsts)
            assert list(b.offsets) == [sum(len(s.message) for s in want[:i])
                                       for i in range(len(want) + 1)]
            assert b.biggest == max(len(RouteSpec(d, index=1, op=op, metric=metric).message)
                                    for d in ("192.0.2.0/24", "2001:db8::/64"))
    gw4 = RouteBulk(["198.51.100.0/24", "203.0.113.0/25"], via="192.0.2.1", index=2,
                    backend=rbackend)
    assert gw4.messages == b"".join(
        s.message for s in _specs(["198.51.100.0/24", "203.0.113.0/25"], 2, via="192.0.2.1"))
    gw6 = RouteBulk(["2001:db8:1::/64"], via="fe80::1", index=2, op="del", backend=rbackend)
    assert gw6.messages == RouteSpec("2001:db8:1::/64", via="fe80::1", index=2,
                                     op="del").message


def test_ipaddress_objects_and_range(rbackend: str) -> None:
    objs = [ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_address("2001:db8::9")]
    assert RouteBulk(objs, index=4, backend=rbackend).messages == b"".join(
        RouteSpec(str(o), index=4).message for o in objs)
    r = RouteBulk.range("198.18.0.0", 300, prefixlen=32, index=[2, 3], backend=rbackend)
    want = _specs([f"198.18.{i >> 8}.{i & 255}/32" for i in range(300)], [2, 3])
    assert r.messages == b"".join(s.message for s in want)
    assert r[-1] == want[-1] and r[1:3] == want[1:3]
    with pytest.raises(IndexError, match="RouteBulk index 300 out of range"):
        r[300]


@pytest.mark.parametrize("kw, message", [
    ({"dsts": ["198.51.100.0/24", "198.51.100.0/33"]},
     "item 1 '198.51.100.0/33': invalid prefix length '33'"),
    ({"dsts": ["198.51.100.0/24", "default"]}, "item 1 'default': "),
    ({"dsts": ["198.51.100.0/24", "2001:db8::/64"], "via": "192.0.2.1"},
     "item 1 '2001:db8::/64': an IPv6 destination via '192.0.2.1' (a gateway of the other "
     "family) is not bulk input: build it as a RouteSpec"),
    ({"dsts": ["198.51.100.0/24"], "op": "flush"}, "invalid op 'flush'"),
    ({"dsts": ["198.51.100.0/24"], "via": "192.0.2.300"}, "192.0.2.300"),
    ({"dsts": ["198.51.100.0/24"], "via": 5}, "via must be text, not int: 5"),
    ({"dsts": ["198.51.100.0/24"], "via": b"192.0.2.1"}, "via must be text, not bytes"),
    ({"dsts": ["198.51.100.0/24"], "metric": -1}, "metric"),
    ({"dsts": ["198.51.100.0/24"], "index": -2}, "index"),
    ({"dsts": ["198.51.100.0/24"], "index": [1, 2**31], "ok": True}, ""),
    ({"dsts": ["198.51.100.0/24", "203.0.113.0/24"], "index": [1, 2**31]},
     "item 1 '203.0.113.0/24': invalid interface index 2147483648: expected an integer "
     "0..2147483647"),
])
def test_errors_name_the_item(rbackend: str, kw: dict[str, Any], message: str) -> None:
    kw = dict(kw)
    dsts = kw.pop("dsts")
    if kw.pop("ok", False):  # an index no item uses is not an error
        assert len(RouteBulk(dsts, backend=rbackend, **kw)) == len(dsts)
        return
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RouteBulk(dsts, backend=rbackend, **kw)


_V4 = st.builds(lambda a, p: f"{ipaddress.IPv4Address(a)}/{p}",
                st.integers(0, 2**32 - 1), st.integers(0, 32))
_V6 = st.builds(lambda a, p: f"{ipaddress.IPv6Address(a)}/{p}",
                st.integers(0, 2**128 - 1), st.integers(0, 128))


@settings(max_examples=200, deadline=None)
@given(v4=st.lists(_V4, max_size=8), v6=st.lists(_V6, max_size=8),
       op=st.sampled_from(OPS), metric=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       index=st.lists(st.one_of(st.integers(0, 64), st.integers(0, 2**32 - 1)), min_size=1,
                      max_size=3),
       via=st.sampled_from([None, "v4", "v6"]), mix=st.booleans())
def test_native_equals_pure_equals_routespec(v4: list[str], v6: list[str], op: str,
                                             metric: int | None, index: list[int],
                                             via: str | None, mix: bool) -> None:
    need_backend(B.load, "native")
    dsts = (v4 + v6) if mix else (v6 if via == "v6" else v4)
    gw = {"v4": "192.0.2.1", "v6": "2001:db8::1", None: None}[via]
    outs = []
    for be in ("native", "pure"):
        try:
            b = RouteBulk(dsts, index=index, op=op, via=gw, metric=metric, backend=be)
            outs.append(("ok", b.messages, list(b.offsets)))
        except SpecError as e:
            outs.append(("SpecError", str(e), None))
    assert outs[0] == outs[1]
    if outs[0][0] == "ok":
        assert outs[0][1] == b"".join(
            s.message for s in _specs(dsts, index, op=op, via=gw, metric=metric))
    elif "not bulk input" not in outs[0][1]:  # refused exactly where a RouteSpec is
        with pytest.raises(SpecError):
            _specs(dsts, index, op=op, via=gw, metric=metric)


def test_apply_sends_the_routespecs_bytes() -> None:
    """On the wire a RouteBulk is exactly its RouteSpecs: same messages, same seqs, one
    result each; a failure carries the item's RouteSpec."""
    dsts = [f"198.18.{i >> 8}.{i & 255}/32" for i in range(600)] + ["2001:db8::/64"]
    sent = []
    for specs in (RouteBulk(dsts, index=[2, 3]), _specs(dsts, [2, 3])):
        t = FakeTransport(ack_all)
        rep = apply(specs, Conn(t, seq=100))
        assert rep.ok and len(rep) == len(dsts)
        sent.append((t.sent, t.sends))
    assert sent[0] == sent[1]

    def fail_v6(req: bytes) -> list[Any]:
        from nlcore.codec.wire import encode_error_reply
        return [encode_error_reply(req, -errno.EEXIST if req[16] == 10 else 0, 0)]
    rep = apply(RouteBulk(dsts, index=[2, 3]), Conn(FakeTransport(fail_v6)))
    assert [i for i, r in enumerate(rep) if not r.ok] == [600]
    assert rep[600].spec == RouteSpec("2001:db8::/64", index=2)
    assert rep[600].error is not None and rep[600].error.errno == errno.EEXIST


# ---------------------------------------------------------------------------- kernel
@pytest.mark.kernel
def test_apply_takes_a_route_bulk_as_a_whole(kns: Any) -> None:
    v4 = RouteBulk.range("198.18.0.0", 300, prefixlen=32, index=kns.v0)
    v6 = RouteBulk([f"2001:db8:{i:x}::/64" for i in range(1, 301)], index=kns.v0)
    for b in (v4, v6):
        rep = apply(b, kns.conn)
        assert rep.ok and len(rep) == 300
    r4 = {r["dst"] for r in kns.ip_json("-4", "route", "show", "dev", "v0")}
    r6 = {r["dst"] for r in kns.ip_json("-6", "route", "show", "dev", "v0")}
    assert {f"198.18.{i >> 8}.{i & 255}" for i in range(300)} <= r4
    assert {f"2001:db8:{i:x}::/64" for i in range(1, 301)} <= r6
    dup = apply(RouteBulk(["198.18.0.5/32", "198.18.9.9/32"], index=kns.v0), kns.conn)
    assert [r.status for r in dup] == ["failed", "ok"]
    assert dup[0].error is not None and dup[0].error.errno == errno.EEXIST
    assert dup[0].spec == RouteSpec("198.18.0.5/32", index=kns.v0)
    again = apply(RouteBulk(["198.18.0.5/32"], index=kns.v0), kns.conn, exist_ok=True)
    assert [r.status for r in again] == ["exists"]
    dels = apply(RouteBulk.range("198.18.0.0", 300, prefixlen=32, index=kns.v0, op="del"),
                 kns.conn)
    assert dels.ok
    left = {r["dst"] for r in kns.ip_json("-4", "route", "show", "dev", "v0")}
    assert {d for d in left if d.startswith("198.18.")} == {"198.18.9.9"}
    gone = apply(RouteBulk(["198.18.0.7/32"], index=kns.v0, op="del"), kns.conn,
                 missing_ok=True)
    assert [r.status for r in gone] == ["absent"]
