"""Tests for tests/iproute2_capture.py: strace parsing, message splitting, live golden captures."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import iproute2_capture as cap
import pytest

HDR = struct.Struct("=IHHII")


def _msg(mtype: int, flags: int, seq: int, body: bytes, pid: int = 0) -> bytes:
    return HDR.pack(HDR.size + len(body), mtype, flags, seq, pid) + body


def _getlink(seq: int, index: int = 1, name: bytes = b"") -> bytes:
    """An RTM_GETLINK request; with ``name`` it carries IFLA_IFNAME (so its length is odd)."""
    body = struct.pack("=BxHiII", 0, 0, index, 0, 0)
    if name:
        body += struct.pack("=HH", 4 + len(name) + 1, 3) + name + b"\0"
    return _msg(18, 1, seq, body)


def _pad(msg: bytes) -> bytes:
    return msg + bytes(-len(msg) % 4)


def _hexdump(data: bytes) -> list[str]:
    """Hex lines as strace 6.1 prints them (format taken from its real output, see below)."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        cols = [f"{b:02x} " for b in chunk] + ["   "] * (16 - len(chunk))
        text = "".join(cols[:8]) + " " + "".join(cols[8:])
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk).ljust(16)
        lines.append(f" | {off:05x}  {text} {asc} |")
    return lines


# --- unprivileged: parsing and splitting -------------------------------------------------

def test_parse_strace_joins_iovecs_and_keeps_call_order() -> None:
    m1, m2, m3 = _getlink(7, name=b"lo"), _getlink(8, 2), _getlink(9, 3)
    joined = _pad(m1) + m2 + m3
    iov0, iov1 = joined[:20], joined[20:]
    text = "\n".join([
        "4131  sendmsg(3, {msg_iov=[...], msg_iovlen=2}, 0) = 104",
        f" * {len(iov0)} bytes in buffer 0", *_hexdump(iov0),
        f" * {len(iov1)} bytes in buffer 1", *_hexdump(iov1),
        "4131  sendto(3, [...], 32, 0, NULL, 0) = 32", *_hexdump(m2),
    ]) + "\n"
    calls = cap.parse_strace(text)
    assert calls == [("sendmsg", joined), ("sendto", m2)]
    msgs, rest = cap.split_messages(calls[0][1])
    assert msgs == [m1, m2, m3]
    assert len(m1) == 39 and rest == b""


def test_parse_strace_rejects_an_offset_gap() -> None:
    lines = _hexdump(bytes(range(48)))
    text = "\n".join(["sendto(3, [...], 48, 0, NULL, 0) = 48", lines[0], lines[2]])
    with pytest.raises(cap.CaptureError, match="expected 0x10"):
        cap.parse_strace(text)


def test_split_stops_at_zero_length_trailer() -> None:
    dump = _msg(22, 0x301, 5, struct.pack("=BBBBI", 10, 0, 0, 0, 3))
    msgs, rest = cap.split_messages(dump + bytes(128))
    assert msgs == [dump] and rest == bytes(128)


@pytest.mark.parametrize("length", [1, 15, 41])
def test_split_rejects_bad_lengths(length: int) -> None:
    buf = HDR.pack(length, 18, 1, 0, 0) + bytes(24)
    with pytest.raises(ValueError, match=f"nlmsg_len {length} at offset 0"):
        cap.split_messages(buf)


def test_normalise_and_with_ifindex() -> None:
    msg = _msg(20, 0x605, 0xDEADBEEF, struct.pack("=BBBBI", 2, 24, 0, 0, 3), pid=77)
    got = cap.Captured(msg, "sendmsg")
    assert got.normalised == msg[:8] + bytes(8) + msg[16:]
    assert cap.with_ifindex(msg, 9)[20:24] == struct.pack("=I", 9)
    assert cap.with_ifindex(msg, 9)[:20] == msg[:20]
    with pytest.raises(ValueError):
        cap.with_ifindex(_msg(2, 0, 0, bytes(20)), 1)


def test_golden_covers_every_case_once() -> None:
    names = [e["name"] for e in cap.load_golden()]
    assert names == [c.name for c in cap.CASES]


# --- live: needs root or a user namespace, and strace ------------------------------------

def _can_run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        return f"{argv[0]}: {exc}"
    return "" if done.returncode == 0 else f"{' '.join(argv)}: {done.stderr.strip()}"


@pytest.fixture(scope="module")
def live() -> None:
    for tool in ("strace", "unshare", "ip"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not available (not installed)")
    why = _can_run([*cap._unshare_argv(), "true"])
    if why:
        pytest.skip(f"cannot create a network namespace: {why}")
    why = _can_run([*cap._unshare_argv(), "strace", "-qq", "-o", "/dev/null", "true"])
    if why:
        pytest.skip(f"strace cannot trace here: {why}")


@pytest.mark.kernel
def test_capture_addr_add(live: None) -> None:
    host_before = socket.if_nameindex()
    res = cap.run_capture(["addr", "add", "198.51.100.1/24", "dev", "v0"])
    assert res.returncode == 0 and res.stderr == ""
    assert res.ifindex == {"lo": 1, "v1": 2, "v0": 3}
    getlink, newaddr = res.messages
    assert (getlink.syscall, newaddr.syscall) == ("sendmsg", "sendmsg")
    assert HDR.unpack_from(getlink.data)[:3] == (48, 18, 1)
    assert getlink.data[-8:] == struct.pack("=HH", 7, 3) + b"v0\0\0"
    length, mtype, flags, _seq, _pid = HDR.unpack_from(newaddr.data)
    assert (length, mtype, flags) == (40, 20, 0x605)
    assert len(newaddr.data) == 40
    assert newaddr.data[16:24] == struct.pack("=BBBBI", 2, 24, 0, 0, res.ifindex["v0"])
    assert newaddr.data[24:] == (struct.pack("=HH", 8, 2) + socket.inet_aton("198.51.100.1")
                                 + struct.pack("=HH", 8, 1) + socket.inet_aton("198.51.100.1"))
    assert newaddr.normalised[8:16] == bytes(8)
    assert socket.if_nameindex() == host_before


@pytest.mark.kernel
def test_capture_keeps_dump_trailer_out(live: None) -> None:
    res = cap.run_capture(["-6", "addr", "show", "dev", "v0"])
    assert res.returncode == 0
    dump = res.messages[-1]
    assert dump.syscall == "sendto" and len(dump.data) == 24
    assert HDR.unpack_from(dump.data)[1:3] == (22, 0x301)
    assert res.discarded == (bytes(128),)


@pytest.mark.kernel
def test_capture_check_raises_on_failure(live: None) -> None:
    argv = ["addr", "add", "198.51.100.1/24", "dev", "nosuchdev"]
    with pytest.raises(cap.CaptureError, match="exited 1"):
        cap.capture(argv)
    assert cap.run_capture(argv).returncode == 1
    with pytest.raises(cap.CaptureError, match="setup"):
        cap.run_capture(["link", "show"], [["ip", "link", "set", "nosuchdev", "up"]])


@pytest.mark.kernel
def test_iproute2_6_1_has_no_addr_proto(live: None) -> None:
    """If this starts failing, iproute2 learnt ``proto``: add a golden case for it."""
    if cap.ip_version() != "6.1.0":
        pytest.skip(f"iproute2 6.1.0, for which the fact was recorded, is not available here "
                    f"(have {cap.ip_version()})")
    res = cap.run_capture(["addr", "add", "198.51.100.1/24", "dev", "v0", "proto", "99"])
    assert res.returncode == 255
    assert '"proto" is a garbage' in res.stderr
    assert all(HDR.unpack_from(m.data)[1] != 20 for m in res.messages)


@pytest.mark.kernel
def test_real_strace_multi_iovec_multi_message(live: None, tmp_path: Path) -> None:
    """A real sendmsg with two iovecs and three messages straddling them, traced by strace."""
    m1, m2, m3 = _getlink(1, name=b"lo"), _getlink(2), _getlink(3)
    joined = _pad(m1) + m2 + m3
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_NETLINK,socket.SOCK_RAW,0)\n"
            f"b=bytes.fromhex('{joined.hex()}')\n"
            "s.sendmsg([b[:20],b[20:]],[],0,(0,0))\n"
            "s.sendto(b[40:72],(0,0))\n")
    trace = tmp_path / "trace"
    argv = [*cap._unshare_argv(), *cap.STRACE, "-o", str(trace), sys.executable, "-c", code]
    subprocess.run(argv, check=True, timeout=60, capture_output=True)
    text = trace.read_text()
    assert " * 20 bytes in buffer 0" in text and " * 84 bytes in buffer 1" in text
    calls = cap.parse_strace(text)
    assert calls == [("sendmsg", joined), ("sendto", m2)]
    assert cap.split_messages(calls[0][1]) == ([m1, m2, m3], b"")


def _golden_ids() -> list[str]:
    return [e["name"] for e in cap.load_golden()]


@pytest.mark.kernel
@pytest.mark.parametrize("entry", cap.load_golden(), ids=_golden_ids())
def test_golden_is_current(live: None, entry: dict[str, Any]) -> None:
    """The stored fixture equals a fresh capture (rerun --regenerate if iproute2 changed)."""
    if cap.ip_version() != entry["iproute2"]:
        pytest.skip(f"iproute2 {entry['iproute2']}, the recording's, is not available here "
                    f"(have {cap.ip_version()})")
    case = next(c for c in cap.CASES if c.name == entry["name"])
    assert cap.record(case) == entry


def _family_entries() -> list[tuple[Any, dict[str, Any]]]:
    import iproute2_families as fam

    return [(c, e) for path, cases in fam.GOLDENS
            for c, e in zip(cases, cap.load_golden(path))]


def test_family_goldens_cover_every_case_once() -> None:
    assert all(c.name == e["name"] for c, e in _family_entries())
    import iproute2_families as fam

    assert [len(cap.load_golden(p)) for p, _c in fam.GOLDENS] == [len(c) for _p, c in
                                                                 fam.GOLDENS]


@pytest.mark.kernel
@pytest.mark.parametrize("case,entry", _family_entries(),
                         ids=[e["name"] for _c, e in _family_entries()])
def test_family_golden_is_current(live: None, case: cap.Case, entry: dict[str, Any]) -> None:
    """Each route/neigh/link fixture equals a fresh capture of its command."""
    if cap.ip_version() != entry["iproute2"]:
        pytest.skip(f"iproute2 {entry['iproute2']}, the recording's, is not available here "
                    f"(have {cap.ip_version()})")
    got = cap.record(case)
    if case.name == "r4_multipath_inet6_onlink":  # iproute2 leaves nexthop padding unset
        got["messages"][-1] = got["messages"][-1][:-4] + entry["messages"][-1][-4:]
    assert got == entry
