"""bench/c_limit.c's route requests are nlcore's: the bytes its ``--object route`` loop sends
are RouteSpec's for the same routes (seq aside), and RouteSpec's are iproute2's (the golden
vectors), so the route C limit and ``apply()`` are timed on the same requests."""

from __future__ import annotations

import ipaddress
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from nlcore.codec.route import RouteSpec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import climit  # noqa: E402

GOLDEN = {v["name"]: v for v in json.loads((ROOT / "tests/golden/iproute2_route.json").read_text())}


@pytest.fixture(scope="module")
def binary() -> Path:
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler: gcc not available")
    return climit.build()


def _printed(binary: Path, op: str, family: int, count: int, ifindex: str = "5",
             acks: str = "all", batch: int = 256) -> list[bytes]:
    done = subprocess.run([str(binary), "--op", op, "--family", str(family), "--ifindex",
                           ifindex, "--count", str(count), "--batch", str(batch), "--object",
                           "route", "--acks", acks, "--print"],
                          capture_output=True, text=True, check=True)
    return [bytes.fromhex(line) for line in done.stdout.split()]


def _dst(family: int, i: int) -> str:
    if family == 4:
        return str(ipaddress.IPv4Address("198.18.0.1") + i)
    return str(ipaddress.IPv6Address(f"2001:db8:{i:x}::1"))


def _seq0(msg: bytes) -> bytes:
    return msg[:8] + bytes(4) + msg[12:]


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("op", ["add", "del", "replace"])
def test_c_route_requests_are_routespec_bytes(binary: Path, op: str, family: int) -> None:
    msgs = _printed(binary, op, family, 300, ifindex="5,7")
    assert len(msgs) == 300
    for i, m in enumerate(msgs):
        assert struct.unpack_from("=I", m, 8)[0] == i + 1  # seq
        spec = RouteSpec(_dst(family, i), op=op, index=(5, 7)[i % 2])
        assert _seq0(m) == spec.message, (op, family, i)


@pytest.mark.parametrize("family", [4, 6])
def test_c_route_requests_elide_acks_like_the_engine(binary: Path, family: int) -> None:
    msgs = _printed(binary, "add", family, 10, acks="errors", batch=4)
    flags = [struct.unpack_from("=H", m, 6)[0] for m in msgs]
    ack = 0x4
    assert [bool(f & ack) for f in flags] == [False, False, False, True] * 2 + [False, True]


@pytest.mark.parametrize(("name", "family", "op"), [("r4_host", 4, "add"),
                                                     ("r6_dev", 6, "add"),
                                                     ("r6_del", 6, "del")])
def test_c_route_header_is_iproute2s(binary: Path, name: str, family: int, op: str) -> None:
    """The rtmsg and the attribute layout iproute2 sent for ``route OP PREFIX dev v0`` (the
    destination and its length aside: the golden vectors route other prefixes)."""
    golden = bytes.fromhex(GOLDEN[name]["messages"][GOLDEN[name]["op_index"]])
    (ours,) = _printed(binary, op, family, 1, ifindex=str(GOLDEN[name]["ifindex"]["v0"]))
    assert ours[4:8] == golden[4:8]  # type, flags
    hdr = slice(16, 28)
    # the rtmsg, its dst_len aside
    assert ours[hdr][:1] + ours[hdr][2:] == golden[hdr][:1] + golden[hdr][2:]
    # RTA_DST of the same length, then RTA_OIF with the same index
    alen = 4 if family == 4 else 16
    assert ours[28:32] == golden[28:32] == struct.pack("=HH", 4 + alen, 1)
    assert ours[32 + alen:] == golden[32 + alen:]
