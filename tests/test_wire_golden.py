"""Golden tests, both directions: nlcore's bytes == iproute2's bytes (seq/pid normalised),
and decoding iproute2's bytes gives the spec back. Live: ``ip`` runs under strace in a
throwaway namespace; recorded: tests/golden/iproute2.json (no privileges needed)."""

from __future__ import annotations

import shutil
from typing import Callable

import iproute2_capture as cap
import pytest

from nlcore.codec import consts as C
from nlcore.codec import wire
from nlcore.codec.decode import AddrMsg, LinkMsg
from nlcore.codec.spec import AddrSpec

KATA = bytes([64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, 0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0, 20, 0,
              1, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183, 20, 0, 2,
              0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183])
KATA_SPEC = AddrSpec("fe80::c44c:1cff:fe84:f6b7/64", index=2, op="replace",
                     peer="fe80::c44c:1cff:fe84:f6b7/64", address_first=True)

V0 = 3  # v0's index in the capture namespace (lo 1, v1 2, v0 3), recorded in the JSON
A4, A6 = "198.51.100.1/24", "2001:db8::1/64"
Build = Callable[[], bytes]


def addr(*args: object, **kw: object) -> Build:
    return lambda: wire.encode_addr(AddrSpec(*args, index=V0, **kw))  # type: ignore[arg-type]


# golden case name -> (message index in the capture, nlcore builder)
CASES: dict[str, tuple[int, Build]] = {
    "v4_add": (1, addr(A4)),
    "v4_add_brd_plus_label": (1, addr(A4, broadcast="+", label="v0:lab")),
    "v4_add_brd_explicit": (1, addr(A4, broadcast="198.51.100.255")),
    "v6_add": (1, addr(A6)),
    "v6_add_nodad": (1, addr(A6, flags="nodad")),
    "v6_add_noprefixroute": (1, addr(A6, flags="noprefixroute")),
    "v6_add_nodad_noprefixroute": (1, addr(A6, flags="nodad noprefixroute")),
    "v6_add_lifetimes": (1, addr(A6, valid_lft=100, preferred_lft=50)),
    "v6_add_all_four": (1, addr(A6, flags="nodad noprefixroute", valid_lft=100,
                                preferred_lft=50)),
    "v4_add_metric": (1, addr(A4, metric=7)),
    "v6_add_metric": (1, addr(A6, metric=7)),
    "v4_add_scope_link": (1, addr(A4, scope="link")),
    "v4_add_peer": (1, addr("198.51.100.1", peer="198.51.100.2/24")),
    "v4_del": (1, addr(A4, op="del")),
    "v6_del": (1, addr(A6, op="del")),
    "v4_replace": (1, addr(A4, op="replace")),
    "v6_replace_kata": (1, addr("fe80::c44c:1cff:fe84:f6b7", op="replace",
                                peer="fe80::c44c:1cff:fe84:f6b7/64", address_first=True)),
    "v6_show_dev": (2, lambda: wire.encode_getaddr(C.AF_INET6, index=V0)),
    "v4_show_all": (1, lambda: wire.encode_getaddr(C.AF_INET)),
    "link_get_by_name": (0, lambda: wire.encode_getlink(name="v0")),
    "link_get_by_index_v6": (1, lambda: wire.encode_getlink(index=V0, family=C.AF_INET6)),
    "link_show_dev_peer": (3, lambda: wire.encode_getlink(index=2)),
    "link_set_up": (2, lambda: wire.encode_setlink(V0, up=True)),
    "link_set_down": (2, lambda: wire.encode_setlink(V0, up=False)),
    "link_set_mtu": (2, lambda: wire.encode_setlink(V0, mtu=1400)),
}
# cases that reuse another capture's messages
SOURCE = {"link_get_by_name": "v4_add", "link_get_by_index_v6": "v6_show_dev",
          "link_show_dev_peer": "link_show_dev"}
GOLDEN = {c["name"]: c for c in cap.load_golden()}


def golden_message(name: str) -> bytes:
    index, _ = CASES[name]
    case = GOLDEN[SOURCE.get(name, name)]
    return bytes.fromhex(case["messages"][index])


@pytest.mark.parametrize("name", sorted(CASES))
def test_encode_equals_recorded_iproute2(name: str, backend: object) -> None:
    assert cap.normalise(CASES[name][1]()) == golden_message(name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_decode_recorded_iproute2(name: str) -> None:
    raw = golden_message(name)
    (m,) = wire.decode(raw)
    assert m.raw == raw
    assert m.header.len == len(raw)
    built = wire.decode(CASES[name][1]())[0]
    assert type(m) is type(built)
    if isinstance(m, AddrMsg):
        assert isinstance(built, AddrMsg)
        assert (m.family, m.prefixlen, m.index, m.scope, m.flags) == \
            (built.family, built.prefixlen, built.index, built.scope, built.flags)
        assert [(a.type, a.raw) for a in m.attrs] == [(a.type, a.raw) for a in built.attrs]
    elif isinstance(m, LinkMsg):
        assert isinstance(built, LinkMsg)
        assert (m.index, m.ifi_flags, m.change, m.ifname, m.mtu) == \
            (built.index, built.ifi_flags, built.change, built.ifname, built.mtu)


def _live_ok() -> str | None:
    if shutil.which("strace") is None:
        return "strace not installed"
    if cap.ip_version() != GOLDEN["v4_add"].get("iproute2"):
        return f"iproute2 {cap.ip_version()} is not the recorded version"
    return None


_LIVE: dict[str, list[bytes]] = {}


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(CASES))
def test_encode_equals_live_iproute2(name: str) -> None:
    """Run ``ip`` under strace in a throwaway namespace right now and compare."""
    why = _live_ok()
    if why:
        pytest.skip(why)
    src = GOLDEN[SOURCE.get(name, name)]
    if src["name"] not in _LIVE:
        try:
            msgs = cap.capture(src["argv"][1:], src["setup"])
        except cap.CaptureError as exc:
            pytest.skip(f"cannot capture in a throwaway namespace here: {exc}")
        _LIVE[src["name"]] = [m.normalised for m in msgs]
    assert _LIVE[src["name"]][CASES[name][0]] == cap.normalise(CASES[name][1]())


def test_kata_vector_both_directions(backend: object) -> None:
    from nlcore.codec import _backend

    buf = bytearray(200)
    n, count = _backend.load(backend.NAME).addr_emit(buf, KATA_SPEC.record, 19, 0)
    assert (bytes(buf[:n]), count) == (KATA, 1)
    (m,) = wire.decode(KATA)
    assert isinstance(m, AddrMsg)
    assert m.type_name == "RTM_NEWADDR"
    assert m.header.flags == 0x0505 == (C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_REPLACE
                                        | C.NLM_F_CREATE)
    assert (m.header.seq, m.family, m.prefixlen, m.index) == (19, C.AF_INET6, 64, 2)
    assert [(a.name, a.value) for a in m.attrs] == [
        ("IFA_ADDRESS", "fe80::c44c:1cff:fe84:f6b7"), ("IFA_LOCAL", "fe80::c44c:1cff:fe84:f6b7")]


def test_batch_encode_consecutive_seqs(backend: object) -> None:
    from nlcore.codec import _backend

    codec = _backend.load(backend.NAME)
    specs = [AddrSpec(f"198.18.0.{i}/32", index=2) for i in range(1, 101)]
    buf = bytearray(wire.MAX_ADDR_MSG * 100)
    n, count = codec.addr_emit(buf, wire.pack_records(specs), 0xFFFFFFFE, 0)
    msgs = wire.decode(bytes(buf[:n]))
    assert count == 100 and len(msgs) == 100
    assert [m.header.seq for m in msgs[:4]] == [0xFFFFFFFE, 0xFFFFFFFF, 0, 1]
    assert [m.local for m in msgs if isinstance(m, AddrMsg)] == \
        [s.address.split("/")[0] for s in specs]
    # a capacity that fits 10 messages stops after exactly 10, never writing a partial one
    small = bytearray(len(msgs[0].raw) * 10 + 5)
    assert codec.addr_emit(small, wire.pack_records(specs), 0, 0) == (len(msgs[0].raw) * 10, 10)
