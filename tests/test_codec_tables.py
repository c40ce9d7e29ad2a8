"""The table-driven codec: the address fast path agrees with the declaration, specs round
trip through the decoder, decoders never crash, extack offsets are named into nests."""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

import pytest
from fuzz.family_strategies import family_specs, route_specs
from fuzz.strategies import addr_specs, seqs, u32
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_backend_equiv import records

from nlcore.codec import _backend, attrs, tables, text, wire
from nlcore.codec import consts as C
from nlcore.codec.addr import addr_message
from nlcore.codec.decode import LinkMsg, NeighMsg, RouteMsg, attr_at, decode
from nlcore.codec.errors import ParseError, SpecError
from nlcore.codec.link import LinkSpec
from nlcore.codec.neigh import NeighSpec
from nlcore.codec.route import NextHop, RouteSpec

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _emit(codec: Any, rec: bytes, seq: int, pid: int) -> bytes | str:
    buf = bytearray(wire.MAX_ADDR_MSG)
    try:
        n, count = codec.addr_emit(buf, rec, seq, pid)
    except SpecError:
        return "SpecError"
    assert count == 1
    return bytes(buf[:n])


def _table(rec: bytes, seq: int, pid: int) -> bytes | str:
    try:
        return addr_message(rec, seq, pid)
    except SpecError:
        return "SpecError"


# --- the address fast path == the table encoder ---------------------------------------------
@SETTINGS
@given(rec=records(), seq=seqs, pid=u32)
def test_addr_fast_path_agrees_with_tables_on_records(backend: Any, rec: bytes, seq: int,
                                                      pid: int) -> None:
    """Every record, valid or broken in one field: same bytes or the same refusal."""
    assert _emit(_backend.load(backend.NAME), rec, seq, pid) == _table(rec, seq, pid)


@SETTINGS
@given(spec=addr_specs(), seq=seqs)
def test_addr_fast_path_agrees_with_tables_on_specs(backend: Any, spec: Any, seq: int) -> None:
    assert _emit(_backend.load(backend.NAME), spec.record, seq, 0) == \
        addr_message(spec.record, seq)


def test_addr_golden_vectors_through_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorded iproute2 address messages, rebuilt from the tables alone."""
    import test_wire_golden as g

    seen: list[Any] = []
    monkeypatch.setattr(wire, "encode_addr", lambda spec, seq=0, pid=0: seen.append(spec))
    checked = 0
    for name, (_index, build) in sorted(g.CASES.items()):
        seen.clear()
        build()
        if seen:
            assert addr_message(seen[0].record) == g.golden_message(name), name
            checked += 1
    assert checked == 17


# --- specs: encode -> decode round trip ------------------------------------------------------
def ip(text: str | None) -> str | None:
    return None if text is None else str(ipaddress.ip_address(text))


@SETTINGS
@given(spec=family_specs)
def test_specs_round_trip(spec: Any) -> None:
    (m,) = decode(spec.message)
    assert m.raw == spec.message and m.header.seq == 0 and m.header.pid == 0
    if isinstance(spec, RouteSpec):
        assert isinstance(m, RouteMsg) and m.family == spec.family
        assert m.oif == (spec.index if spec.dev is not None or spec.index else None)
        assert m.priority == spec.metric and m.prefsrc == ip(spec.prefsrc)
        assert m.gateway == ip(spec.via)
        assert [(nh.gateway, nh.ifindex, nh.weight) for nh in m.nexthops] == \
            [(ip(nh.via), nh.index, nh.weight) for nh in spec.nexthops or ()]
        assert m.metrics == dict(spec.metrics or {})
        if spec.dst != "default":
            assert m.dst.split("/")[1] == spec.dst.split("/")[1]
    elif isinstance(spec, NeighSpec):
        assert isinstance(m, NeighMsg)
        assert (m.dst, m.lladdr, m.index, m.family) == (ip(spec.address), spec.lladdr,
                                                        spec.index, spec.family)
    else:
        assert isinstance(m, LinkMsg) and isinstance(spec, LinkSpec)
        assert (m.index, m.mtu, m.address, m.ifname) == (spec.index, spec.mtu, spec.address,
                                                         spec.name)
    assert text.describe(m).startswith(m.type_name)
    text.format_message(m)
    text.to_json(m)


@SETTINGS
@given(spec=route_specs(), data=st.data())
def test_every_offset_of_a_route_is_named(spec: RouteSpec, data: st.DataObject) -> None:
    raw = spec.message
    off = data.draw(st.integers(0, len(raw) - 1))
    name = attr_at(raw, off)
    assert name is not None
    if off >= 28:
        assert name.startswith("RTA_")


def test_extack_offset_into_multipath_is_named() -> None:
    spec = RouteSpec("198.51.100.0/24", nexthops=[NextHop("192.0.2.2", index=3),
                                                   NextHop("192.0.2.3", index=3)],
                     metrics={"mtu": 1400})
    raw = spec.message
    (m,) = decode(raw)
    assert isinstance(m, RouteMsg)
    gw1 = m.nexthops[1].attrs[0].offset
    assert attr_at(raw, gw1) == "RTA_MULTIPATH/RTNH[1]/RTA_GATEWAY"
    assert attr_at(raw, gw1 - 8) == "RTA_MULTIPATH/RTNH[1]"
    mtu = next(a for a in m.attrs if a.name == "RTA_METRICS").value[0].offset  # type: ignore
    assert attr_at(raw, mtu) == "RTA_METRICS/RTAX_MTU"
    assert [attr_at(raw, o) for o in (20, 23, 24, 27, 28)] == [
        "rtm_table", "rtm_type", "rtm_flags", "rtm_flags", "RTA_DST"]
    reply = wire.encode_error_reply(raw, -22, 77, msg="bad gateway", offset=gw1)
    err = wire.error_of(decode(reply)[0])  # type: ignore[arg-type]
    assert err is not None and err.attr == "RTA_MULTIPATH/RTNH[1]/RTA_GATEWAY"
    assert err.msg == "bad gateway"


def test_neigh_and_link_offsets_are_named() -> None:
    n = NeighSpec("192.0.2.5", lladdr="02:00:00:00:00:05", index=3).message
    assert [attr_at(n, o) for o in (20, 24, 26, 27, 28, 36)] == [
        "ndm_ifindex", "ndm_state", "ndm_flags", "ndm_type", "NDA_DST", "NDA_LLADDR"]
    veth = wire.encode_veth("v0", "v1")
    kind_at = veth.index(b"veth") - 4
    assert attr_at(veth, kind_at) == "IFLA_LINKINFO/IFLA_INFO_KIND"
    assert attr_at(veth, kind_at + 8) == "IFLA_LINKINFO/IFLA_INFO_DATA"
    assert attr_at(veth, kind_at + 12) == "IFLA_LINKINFO/IFLA_INFO_DATA/1"  # VETH_INFO_PEER


# --- decoders never crash --------------------------------------------------------------------
def _rt_msg(mtype: int, body: bytes) -> bytes:
    return C.NLMSGHDR.pack(16 + len(body), mtype, 0, 1, 0) + body


@SETTINGS
@given(mtype=st.sampled_from([16, 20, 24, 25, 26, 28, 29, 30]), body=st.binary(max_size=300))
def test_decode_random_family_bodies_parse_error_only(mtype: int, body: bytes) -> None:
    raw = _rt_msg(mtype, body)
    try:
        msgs = decode(raw)
    except ParseError as exc:
        assert 0 <= exc.offset <= len(raw)
        return
    for m in msgs:
        text.to_json(m), text.format_message(m), text.describe(m)
    for off in range(0, len(raw), 3):
        attr_at(raw, off)


@SETTINGS
@given(spec=family_specs, cut=st.integers(0, 400), flip=st.integers(0, 400),
       val=st.integers(0, 255))
def test_decode_mutated_spec_messages_parse_error_only(spec: Any, cut: int, flip: int,
                                                       val: int) -> None:
    raw = bytearray(spec.message)
    if flip < len(raw):
        raw[flip] = val
    raw = raw[:max(16, len(raw) - cut % 40)]
    struct.pack_into("=I", raw, 0, len(raw))
    try:
        msgs = decode(bytes(raw))
    except ParseError:
        return
    for m in msgs:
        text.to_json(m), text.format_message(m)
        attr_at(bytes(raw), flip % len(raw))


# --- the tables themselves -------------------------------------------------------------------
def test_consts_agree_with_tables() -> None:
    for prefix, aset in (("IFA_", tables.IFA), ("IFLA_", tables.IFLA), ("NLMSGERR_ATTR_",
                                                                        tables.NLMSGERR)):
        for name in dir(C):
            if name.startswith(prefix) and isinstance(getattr(C, name), int) and \
                    name in aset.by_name:
                assert aset.num(name) == getattr(C, name), name
    assert tables.IFLA_INFO.num("IFLA_INFO_KIND") == C.IFLA_INFO_KIND
    assert tables.RTMSG.layout.size == C.RTMSG.size == 12
    assert tables.NDMSG.layout.size == C.NDMSG.size == 12


def test_nests_name_declared_sets() -> None:
    for aset in attrs.AttrSet.registry.values():
        for d in aset.defs:
            if d.nested is not None:
                assert d.nested in attrs.AttrSet.registry, (aset.name, d.name)
            if d.struct is not None:
                assert d.struct in attrs.STRUCTS


def test_encode_refuses_out_of_range_values() -> None:
    with pytest.raises(SpecError, match="RTA_PRIORITY"):
        attrs.encode(tables.RTA, [("RTA_PRIORITY", 2**32)])
    with pytest.raises(SpecError, match="RTA_PREF"):
        attrs.encode(tables.RTA, [("RTA_PREF", -1)])
    with pytest.raises(SpecError, match="does not fit"):
        attrs.attr(1, bytes(70000))
