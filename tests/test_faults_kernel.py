"""Kernel-true faults: every scenario against the real kernel, in throwaway namespaces (root
mode and user-namespace mode), with the Kata bytes checked exactly."""

from __future__ import annotations

import errno
import struct
from typing import Any, Iterator

import pytest

from nlcore.codec.errors import KernelError
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_addr
from nlcore.faults.kernel import (
    KATA_MSG,
    KATA_REQUEST,
    ROUTE_MSG,
    SCENARIOS,
    KernelLab,
    echoed,
    encode_route6,
    kata_request,
    reply_error,
    route_request,
)
from nlcore.net import netns
from nlcore.net.conn import Conn
from nlcore.ops.link import add_veth, ipv6_state

pytestmark = pytest.mark.kernel
KERNEL_SCENARIOS = [s for s in SCENARIOS.values() if "kernel" in s.layers]


def _is_root() -> bool:
    try:
        return netns.mode() == "root"
    except PermissionError:
        return False


MODES = [pytest.param(False, id="root", marks=pytest.mark.skipif(
             not _is_root(), reason="root-mode namespaces need euid 0 with CAP_SYS_ADMIN")),
         pytest.param(True, id="userns")]


def make_lab(userns: bool | None) -> KernelLab:
    """A KernelLab, or a skip naming why none can be created."""
    try:
        return KernelLab(userns=userns)
    except OSError as exc:
        pytest.skip(f"no throwaway network namespace ({'userns' if userns else 'root'}): {exc}")


@pytest.fixture(params=MODES)
def lab(request: pytest.FixtureRequest) -> Iterator[KernelLab]:
    with make_lab(request.param) as lab:
        yield lab


def v6_addrs(lab: KernelLab, dev: str) -> list[str]:
    info: list[dict[str, Any]] = lab.ip("-6", "addr", "show", "dev", dev)
    return [a["local"] for i in info for a in i["addr_info"] if a.get("scope") == "global"]


# ------------------------------------------------------------------ pure facts (no kernel)
def test_kata_request_is_the_issue_bytes() -> None:
    assert kata_request() == KATA_REQUEST
    assert len(KATA_REQUEST) == 64
    assert struct.unpack_from("=IHHII", KATA_REQUEST) == (64, 20, 0x505, 19, 0)


def test_route_request_bytes() -> None:
    """RTM_NEWROUTE 2001:db8::/64 dev index 2: rtmsg then RTA_DST, RTA_OIF."""
    want = (struct.pack("=IHHII", 56, 24, 0x605, 7, 0)
            + bytes([10, 64, 0, 0, 254, 3, 0, 1]) + bytes(4)
            + struct.pack("=HH", 20, 1) + bytes.fromhex("20010db8000000000000000000000000")
            + struct.pack("=HHI", 8, 4, 2))
    assert encode_route6("2001:db8::/64", 2, seq=7) == want
    assert route_request(7) == want
    with pytest.raises(ValueError, match="prefix length"):
        encode_route6("2001:db8::/129", 2)


# ------------------------------------------------------------------ the namespace
def test_device_is_index_2_and_up(lab: KernelLab) -> None:
    (info,) = lab.ip("link", "show", "dev", lab.dev)
    assert (lab.index, info["ifindex"], info["ifname"]) == (2, 2, lab.dev)
    assert "UP" in info["flags"]
    (peer,) = lab.ip("link", "show", "dev", lab.peer)
    assert peer["ifindex"] == lab.peer_index == 3


@pytest.mark.parametrize("ext_ack", [False, True], ids=["no-extack", "extack"])
@pytest.mark.parametrize("scenario", KERNEL_SCENARIOS, ids=lambda s: s.name)
def test_scenario(lab: KernelLab, scenario: Any, ext_ack: bool) -> None:
    scenario.setup(lab)
    req = scenario.request(19)
    sock = lab.socket(ext_ack=ext_ack)
    reply = lab.exchange(req, sock)
    err, msg = reply_error(reply)
    assert err == scenario.error
    assert msg == (scenario.extack if ext_ack else None)
    # an ack echoes only the header (NLM_F_CAPPED); an error the whole request
    echo = req if scenario.error else req[:16]
    assert echoed(reply) == echo
    # the whole datagram, as the kernel's netlink_ack() lays it out
    tlv = b""
    if ext_ack and scenario.extack:
        text = scenario.extack.encode() + b"\0"
        tlv = struct.pack("=HH", 4 + len(text), 1) + text + bytes(-len(text) % 4)
    body = struct.pack("=i", scenario.error) + echo + tlv
    flags = (0x200 if tlv else 0) | (0 if scenario.error else 0x100)
    assert reply == struct.pack("=IHHII", 16 + len(body), 2, flags, 19, sock.pid) + body
    sock.close()


def test_kata_echo_is_byte_identical_without_ext_ack(lab: KernelLab) -> None:
    """The reply's echoed request is exactly the 64 bytes of kata-containers#11200."""
    SCENARIOS["kata-11200"].setup(lab)
    reply = lab.exchange(kata_request(), ext_ack=False)
    assert reply[20:] == KATA_REQUEST
    assert len(reply) == 84
    reply = lab.exchange(kata_request(), ext_ack=True)
    assert reply[20:84] == KATA_REQUEST and KATA_MSG.encode() in reply[84:]


def test_ipv4_on_the_same_device_succeeds(lab: KernelLab) -> None:
    lab.disable_ipv6("all")
    lab.conn.request(encode_addr(AddrSpec("192.0.2.1/24", index=2)))
    (info,) = lab.ip("-4", "addr", "show", "dev", lab.dev)
    assert [a["local"] for a in info["addr_info"]] == ["192.0.2.1"]
    with pytest.raises(PermissionError) as ei:
        lab.conn.request(kata_request())
    assert isinstance(ei.value, KernelError) and ei.value.errno == errno.EACCES
    assert ei.value.msg == KATA_MSG


def test_all_propagates_and_default_only_affects_new_devices(lab: KernelLab) -> None:
    lab.disable_ipv6("all")
    for target in ("all", "default", lab.dev, lab.peer):
        assert lab.read_sysctl(f"net/ipv6/conf/{target}/disable_ipv6") == "1"
    lab.disable_ipv6("default", False)
    assert lab.read_sysctl(f"net/ipv6/conf/{lab.dev}/disable_ipv6") == "1"
    assert ipv6_state(lab.conn, lab.index).disabled is True
    new, _ = add_veth(lab.conn, "w0", "w1")  # created after default=0
    assert lab.read_sysctl("net/ipv6/conf/w0/disable_ipv6") == "0"
    with pytest.raises(PermissionError):
        lab.conn.request(kata_request(index=2))
    lab.conn.request(encode_addr(AddrSpec("2001:db8::1/64", index=new, flags="nodad")))
    assert v6_addrs(lab, "w0") == ["2001:db8::1"]


def test_mtu_below_1280_has_no_ipv6_state(lab: KernelLab) -> None:
    lab.set_mtu(1279)
    st = ipv6_state(lab.conn, lab.index)
    assert (st.disabled, st.mtu, st.blocked) == (None, 1279, True)
    assert reply_error(lab.exchange(kata_request())) == (-errno.EINVAL, None)
    lab.set_mtu(1280)  # IPv6 comes back with the device's default config
    assert reply_error(lab.exchange(kata_request())) == (0, None)


def test_route_via_disabled_device_is_refused_then_accepted(lab: KernelLab) -> None:
    lab.disable_ipv6(lab.dev)
    assert reply_error(lab.exchange(route_request())) == (-errno.EACCES, ROUTE_MSG)
    assert lab.ip("-6", "route", "show", "2001:db8::/64") == []
    lab.disable_ipv6(lab.dev, False)
    assert reply_error(lab.exchange(route_request())) == (0, None)
    (route,) = lab.ip("-6", "route", "show", "2001:db8::/64")
    assert (route["dst"], route["dev"]) == ("2001:db8::/64", lab.dev)


def test_reset_undoes_every_scenario(lab: KernelLab) -> None:
    for s in KERNEL_SCENARIOS:
        s.setup(lab)
        lab.reset()
        assert reply_error(lab.exchange(kata_request())) == (0, None), s.name


def test_kata_100_times_same_bytes(lab: KernelLab) -> None:
    """One namespace, one socket per ext-ack setting, 100 sends each: identical replies."""
    lab.disable_ipv6("all")
    for ext_ack in (False, True):
        sock = lab.socket(ext_ack=ext_ack)
        first = lab.exchange(KATA_REQUEST, sock)
        for _ in range(100):
            assert lab.exchange(KATA_REQUEST, sock) == first
        assert first[20:84] == KATA_REQUEST and reply_error(first)[0] == -errno.EACCES
        sock.close()


def test_conn_raises_permission_error_with_extack(lab: KernelLab) -> None:
    lab.disable_ipv6(lab.dev)
    c = Conn(lab.socket())
    with pytest.raises(PermissionError) as ei:
        c.request(kata_request())
    e = ei.value
    assert isinstance(e, KernelError)
    assert (e.errno, e.msg, e.errno_name) == (errno.EACCES, KATA_MSG, "EACCES")
    assert "fe80::c44c:1cff:fe84:f6b7/64 dev index 2" in str(e)
    c.close()
