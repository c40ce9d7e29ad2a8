"""``nlcore decode`` reads what people paste: the Rust agent's whole log line, Go and Python
dumps, a file path, raw binary on stdin, strace output, pcap files (nlmon, link type 253);
every error ends with a diagnosis; one JSON schema; the input cap (issue 11.12), and no
traceback under a memory limit.

The strace files in tests/golden/ are real: ``ip addr add 2001:db8::1/64 dev v0`` on a veth
whose IPv6 is disabled, in a throwaway namespace (``strace -f -xx -s 65536`` from outside the
namespace, which is when strace leaves payloads as strings; and ``-e write=all -e read=all``
hex dumps). nlmon is not available on this kernel (CONFIG_NLMON is not set), so
tests/golden/nlmon-ipv6-disabled.pcap holds those same two captured messages (the request and
the kernel's NLMSG_ERROR with extack) written with libpcap's cooked netlink header by
``nlcore.cli.pcap.write_pcap``; :func:`test_live_nlmon_capture` captures with a real nlmon
device where the kernel has one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nlcore.cli.main import main
from nlcore.cli.paste import errno_in, extract
from nlcore.cli.pcap import read_pcap, write_pcap
from nlcore.codec import wire

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
KATA_LIST = ("[64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, 0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0, 20, 0,"
             " 1, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183, 20, 0, 2, 0,"
             " 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183]")
KATA = bytes(json.loads(KATA_LIST))
RUST_LINE = ("Failed to add address: NetlinkError(ErrorMessage { code: Some(-13), header: "
             f"{KATA_LIST} }})")
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def decode(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["decode", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def as_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    rc, out, err = decode(["-j", *args], capsys)
    assert (rc, err) == (0, ""), err
    got: list[dict[str, object]] = json.loads(out)
    return got


# ---------------------------------------------------------------------------- log lines
def test_rust_agent_line_sets_the_errno_from_code(capsys: pytest.CaptureFixture[str]) -> None:
    (m,) = as_json([RUST_LINE], capsys)
    assert (m["type"], m["error"], m["errno"], m["wrapped"]) == ("NLMSG_ERROR", -13, "EACCES",
                                                                   True)
    assert m["request"]["type"] == "RTM_NEWADDR"  # type: ignore[index]
    diag = m["diagnosis"]
    assert isinstance(diag, list) and diag[0].startswith("IPv6 is disabled on the device with "
                                                         "index 2")
    assert any("net.ipv6.conf.DEV.disable_ipv6" in d for d in diag)
    assert diag[-1] == "reproduce: .venv/bin/nlcore repro kata-11200"


def test_rust_line_text_ends_with_the_diagnosis(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = decode([RUST_LINE], capsys)
    assert (rc, err) == (0, "")
    assert out.splitlines()[0] == "# Rust ErrorMessage"
    assert "=> RTNETLINK answers: Permission denied (EACCES)" in out
    assert out.rstrip().endswith("reproduce: .venv/bin/nlcore repro kata-11200")


def test_rust_line_with_a_header_only_echo_is_capped(capsys: pytest.CaptureFixture[str]) -> None:
    line = f"ErrorMessage {{ code: Some(-17), header: {list(KATA[:16])} }}"
    (m,) = as_json([line], capsys)
    assert (m["errno"], m["capped"]) == ("EEXIST", True)
    assert any("exist_ok=True" in d for d in m["diagnosis"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("text,source", [
    ("err: " + "b'" + "".join(f"\\x{b:02x}" for b in KATA) + "' [Errno 13] Permission denied",
     "Python bytes"),
    ("bytearray(" + repr(KATA) + "): Permission denied", "Python bytes"),
    ("netlink: permission denied: []byte{" + ", ".join(f"{b:#x}" for b in KATA) + "}",
     "Go []byte"),
    (f"time=... msg=\"add failed\" error=\"permission denied\" req={KATA_LIST.replace(',', '')}",
     "byte list"),
], ids=["python-bytes", "python-bytearray", "go-bytes", "go-%v"])
def test_go_and_python_dumps(text: str, source: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    (c,) = extract(text.encode())
    assert (c.data, c.source, c.errno) == (KATA, source, 13)
    (m,) = as_json([text], capsys)
    assert (m["errno"], m["source"]) == ("EACCES", source)


def test_errno_in_a_line_needs_exactly_one() -> None:
    assert errno_in("[Errno 17] File exists") == 17
    assert errno_in("errno=-19") == 19
    assert errno_in("EPERM and EACCES") is None
    assert errno_in("nothing here") is None


# ---------------------------------------------------------------------------- files, binary
def test_file_path_argument_and_binary_stdin(tmp_path: Path) -> None:
    reply = wire.encode_error_reply(KATA, -13, pid=0, msg="ipv6: IPv6 is disabled on this device")
    hexfile, binfile = tmp_path / "capture.hex", tmp_path / "reply.bin"
    hexfile.write_text(reply.hex(" "))
    binfile.write_bytes(reply)
    for argv, stdin in ((["decode", "-j", str(hexfile)], None), (["decode", "-j"], reply),
                        (["decode", "-j", str(binfile)], None)):
        r = subprocess.run([sys.executable, "-m", "nlcore", *argv], input=stdin,
                           capture_output=True, cwd=REPO, env=ENV, timeout=60)
        assert (r.returncode, r.stderr) == (0, b""), r.stderr
        (m,) = json.loads(r.stdout)
        assert m["extack"]["msg"] == "ipv6: IPv6 is disabled on this device"


def test_missing_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = decode(["nosuch/capture.hex"], capsys)
    assert rc == 1 and out == "" and err == ("Error: cannot read nosuch/capture.hex: No such "
                                             "file or directory\n")


# ---------------------------------------------------------------------------- strace, pcap
def test_strace_xx_output(capsys: pytest.CaptureFixture[str]) -> None:
    req, reply = as_json([str(GOLDEN / "strace-xx-ipv6-disabled.txt")], capsys)
    assert (req["type"], req["family"], req["source"]) == ("RTM_NEWADDR", "inet6",
                                                           "strace line 1 (sendmsg, sent)")
    assert req["attrs"] == [{"type": "IFA_LOCAL", "value": "2001:db8::1"},
                            {"type": "IFA_ADDRESS", "value": "2001:db8::1"}]
    assert (reply["errno"], reply["extack"]) == ("EACCES", {  # type: ignore[comparison-overlap]
        "msg": "ipv6: IPv6 is disabled on this device"})
    assert reply["request"]["index"] == 3  # type: ignore[index]


def test_strace_hex_dumps_give_the_kernel_reply_byte_for_byte(
        capsys: pytest.CaptureFixture[str]) -> None:
    chunks = extract((GOLDEN / "strace-hexdump-ipv6-disabled.txt").read_bytes())
    assert [len(c.data) for c in chunks] == [64, 128]
    _, reply = as_json([str(GOLDEN / "strace-hexdump-ipv6-disabled.txt")], capsys)
    assert reply["pid"] != 0 and reply["flags"] == ["NLM_F_ACK_TLVS"]
    assert reply["extack"]["msg"] == "ipv6: IPv6 is disabled on this device"  # type: ignore


def test_pcap_from_nlmon_link_type(capsys: pytest.CaptureFixture[str]) -> None:
    path = GOLDEN / "nlmon-ipv6-disabled.pcap"
    raw = path.read_bytes()
    assert int.from_bytes(raw[20:24], "little") == 253
    packets = read_pcap(raw)
    assert [src for _, src in packets] == ["pcap packet 1", "pcap packet 2"]
    req, reply = as_json([str(path)], capsys)
    assert req["type"] == "RTM_NEWADDR" and reply["errno"] == "EACCES"
    assert reply["diagnosis"][-1] == "reproduce: .venv/bin/nlcore repro kata-11200"  # type: ignore


def test_pcap_of_another_link_type_is_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    raw = bytearray(write_pcap([KATA]))
    raw[20:24] = (1).to_bytes(4, "little")  # Ethernet
    (tmp_path / "eth.pcap").write_bytes(bytes(raw))
    rc, out, err = decode([str(tmp_path / "eth.pcap")], capsys)
    assert rc == 1 and out == "" and "link type 1, not netlink (253)" in err


@pytest.mark.kernel
def test_live_nlmon_capture(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("tcpdump") or not shutil.which("unshare"):
        pytest.skip("a live nlmon capture needs root, unshare and tcpdump")
    probe = subprocess.run(["unshare", "-n", "ip", "link", "add", "nlmon0", "type", "nlmon"],
                           capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"no nlmon device on this kernel (CONFIG_NLMON): {probe.stderr.strip()}")
    out = tmp_path / "cap.pcap"
    script = (f"ip link add nlmon0 type nlmon && ip link set nlmon0 up && ip link set lo up && "
              f"(tcpdump -i nlmon0 -U -w {out} & sleep 1; "
              f"ip addr add 198.51.100.1/24 dev lo; ip addr add 198.51.100.1/24 dev lo; sleep 1;"
              f" kill %1; wait)")
    subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, timeout=60)
    r = subprocess.run([sys.executable, "-m", "nlcore", "decode", "-j", str(out)],
                       capture_output=True, text=True, cwd=REPO, env=ENV, timeout=60)
    msgs = json.loads(r.stdout)
    assert "EEXIST" in {m.get("errno") for m in msgs}


# ---------------------------------------------------------------------------- JSON schema
def test_unknown_types_are_ints_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    odd = bytes([20, 0, 0, 0, 200, 0, 1, 0]) + bytes(12)  # type 200, no name
    (m,) = as_json([odd.hex()], capsys)
    assert m["type"] == 200
    unknown_attr = bytearray(KATA)
    unknown_attr[26] = 99  # IFA_LOCAL -> attribute 99
    reply = wire.encode_error_reply(bytes(unknown_attr), -22, pid=0, msg="bad", offset=24)
    (e,) = as_json([reply.hex()], capsys)
    assert {"type": 99, "value": "fe80000000000000c44c1cfffe84f6b7"} in e["request"]["attrs"]  # type: ignore
    assert e["extack"]["attr"] == {"type": 99}  # type: ignore[index]
    assert e["diagnosis"] == ["the kernel rejected a value: bad"]


# ---------------------------------------------------------------------------- bounds (11.12)
def test_input_over_the_cap_is_refused_before_it_is_read(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    big = tmp_path / "big.hex"
    with open(big, "wb") as f:
        f.truncate(17 * 1024 * 1024)
    rc, out, err = decode([str(big)], capsys)
    assert rc == 1 and out == "" and len(err.splitlines()) == 1
    assert "--max-bytes" in err and "16 MiB" in err
    rc, out, err = decode(["--max-bytes", "64", KATA.hex() * 2], capsys)
    assert rc == 1 and "larger than --max-bytes 64" in err


def test_max_bytes_raises_the_cap(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = decode(["--max-bytes", "1K", KATA.hex()], capsys)
    assert (rc, err) == (0, "")


@pytest.mark.parametrize("limit_mb", [200])
def test_no_traceback_under_a_memory_limit(limit_mb: int, tmp_path: Path) -> None:
    """150 MB of hex (75 MB of messages) under RLIMIT_AS: either decoded, or one line."""
    msg = KATA.hex()
    path = tmp_path / "huge.hex"
    with open(path, "w") as f:
        for _ in range(150_000_000 // len(msg)):
            f.write(msg)
    code = ("import resource, sys; from nlcore.cli.main import main; "
            f"resource.setrlimit(resource.RLIMIT_AS, ({limit_mb << 20}, {limit_mb << 20})); "
            f"sys.exit(main(['decode', '--max-bytes', '1G', {str(path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env=ENV, timeout=600)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == 1 and r.stderr.startswith("Error: out of memory"), r.stderr[-500:]
    assert len(r.stderr.splitlines()) == 1
