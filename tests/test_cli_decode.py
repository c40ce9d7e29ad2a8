"""``nlcore decode``: the Kata vector in every input form, --errno wrapping, the exact JSON, and
malformed input (exit 1, one line naming the offset, never a traceback)."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.cli.decode import parse_bytes
from nlcore.cli.main import main
from nlcore.codec import wire

REPO = Path(__file__).resolve().parents[1]
# kata-containers#11200: the echoed request of the failing RTM_NEWADDR, as the agent logged it
KATA_LIST = ("[64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, 0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0, 20, 0,"
             " 1, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183, 20, 0, 2, 0,"
             " 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183]")
KATA = bytes(json.loads(KATA_LIST))
LL = "fe80::c44c:1cff:fe84:f6b7"
KATA_JSON = {
    "type": "RTM_NEWADDR", "len": 64,
    "flags": ["NLM_F_REQUEST", "NLM_F_ACK", "NLM_F_REPLACE", "NLM_F_CREATE"],
    "seq": 19, "pid": 0, "family": "inet6", "prefixlen": 64, "ifa_flags": 0, "scope": 0,
    "index": 2, "attrs": [{"type": "IFA_ADDRESS", "value": LL}, {"type": "IFA_LOCAL", "value": LL}],
    "flag_names": [],
}


def run(args: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def decode_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    rc, out, err = run(["decode", "-j", *args], capsys)
    assert (rc, err) == (0, "")
    result: list[dict[str, object]] = json.loads(out)
    return result


# ---------------------------------------------------------------------------- input forms
def test_kata_decimal_list_json_is_exact(capsys: pytest.CaptureFixture[str]) -> None:
    assert decode_json([KATA_LIST], capsys) == [KATA_JSON]


@pytest.mark.parametrize("text", [
    KATA.hex(),
    " ".join(f"{b:02x}" for b in KATA),
    ":".join(f"{b:02x}" for b in KATA),
    "0x" + KATA.hex(),
    "".join(f"\\x{b:02x}" for b in KATA),  # strace -xx
    "\n".join(KATA[i:i + 16].hex(" ") for i in range(0, 64, 16)) + "\n",
    " ".join(str(b) for b in KATA).join("[]"),  # Go's %v of a []byte
    KATA_LIST.replace(", ", ","),
], ids=["hex", "spaces", "colons", "0x", "strace", "lines", "go", "compact-list"])
def test_every_input_form_gives_the_same_bytes(text: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_bytes(text) == KATA
    assert decode_json([text], capsys) == [KATA_JSON]


def test_hex_split_over_several_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    words = [KATA[i:i + 4].hex() for i in range(0, 64, 4)]
    assert decode_json(words, capsys) == [KATA_JSON]


@pytest.mark.parametrize("args", [[], ["-"]], ids=["no-arg", "dash"])
def test_stdin(args: list[str], capsys: pytest.CaptureFixture[str],
               monkeypatch: pytest.MonkeyPatch) -> None:
    rc, out, err = run(["decode", "-j", *args], capsys, stdin=KATA_LIST + "\n",
                       monkeypatch=monkeypatch)
    assert (rc, err) == (0, "") and json.loads(out) == [KATA_JSON]


def test_python_m_nlcore_reads_stdin_hex() -> None:
    r = subprocess.run([sys.executable, "-m", "nlcore", "decode", "--json"], input=KATA.hex(" "),
                       capture_output=True, text=True, cwd=REPO, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (r.returncode, r.stderr) == (0, "") and json.loads(r.stdout) == [KATA_JSON]


def test_human_output_reads_like_ip_monitor(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["decode", KATA_LIST], capsys)
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == ("RTM_NEWADDR len 64 flags NLM_F_REQUEST|NLM_F_ACK|NLM_F_REPLACE|"
                        "NLM_F_CREATE seq 19 pid 0")
    assert lines[1].split() == ["2:", "inet6", f"{LL}/64", "scope", "global"]
    assert f"IFA_LOCAL {LL}" in out and f"IFA_ADDRESS {LL}" in out


# ---------------------------------------------------------------------------- --errno
def test_errno_wraps_the_bare_request_as_the_kernel_would(
        capsys: pytest.CaptureFixture[str]) -> None:
    (m,) = decode_json(["--errno", "13", KATA_LIST], capsys)
    assert "nlcore repro kata-11200" in m.pop("diagnosis")[-1]
    expected = wire.encode_error_reply(KATA, -13, pid=0, ext_ack=False)
    assert m == {"type": "NLMSG_ERROR", "len": len(expected), "flags": [], "seq": 19, "pid": 0,
                 "error": -13, "errno": "EACCES", "capped": False, "request": KATA_JSON,
                 "wrapped": True}
    assert len(expected) == 84  # 16 header + 4 error + the 64 echoed bytes


@pytest.mark.parametrize("errno_arg", ["13", "-13", "EACCES", "eacces"])
def test_errno_human_output_names_eacces_and_says_wrapped(
        errno_arg: str, capsys: pytest.CaptureFixture[str]) -> None:
    # the order of `make demo`: the bytes first, then --errno
    rc, out, err = run(["decode", KATA_LIST, "--errno", errno_arg], capsys)
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("# --errno 13: the input is a bare request, shown wrapped")
    assert "EACCES" in lines[0] and "Permission denied" in lines[0]
    assert lines[1] == "NLMSG_ERROR len 84 flags 0 seq 19 pid 0"
    assert "error -13 EACCES" in lines[2]
    assert "RTM_NEWADDR" in lines[3]
    answer = next(i for i, ln in enumerate(lines) if ln.strip().startswith("=>"))
    assert lines[answer].strip() == "=> RTNETLINK answers: Permission denied (EACCES)"
    assert lines[answer + 1].strip().startswith("diagnosis: IPv6 is disabled on the device "
                                                "with index 2")
    assert lines[-1].strip() == "reproduce: .venv/bin/nlcore repro kata-11200"


def test_errno_on_a_logged_header_only_makes_a_capped_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    (m,) = decode_json(["--errno", "13", KATA[:16].hex()], capsys)
    assert m["flags"] == ["NLM_F_CAPPED"] and m["capped"] is True and m["len"] == 36
    assert m["request"] == {"type": "RTM_NEWADDR", "len": 64, "flags": KATA_JSON["flags"],
                            "seq": 19, "pid": 0, "header": KATA[:16].hex()}
    assert m["errno"] == "EACCES"


def test_errno_refuses_input_that_is_already_a_reply(capsys: pytest.CaptureFixture[str]) -> None:
    reply = wire.encode_error_reply(KATA, -13, pid=0)
    rc, out, err = run(["decode", "--errno", "13", reply.hex()], capsys)
    assert rc == 1 and out == "" and len(err.splitlines()) == 1 and "NLMSG_ERROR" in err


@pytest.mark.parametrize("bad", ["0", "x", "5000", "ENOSUCH"])
def test_bad_errno_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["decode", "--errno", bad, KATA.hex()], capsys)
    assert rc == 2 and out == "" and repr(bad) in err


# ---------------------------------------------------------------------------- JSON of replies
def test_error_with_extack_json(capsys: pytest.CaptureFixture[str]) -> None:
    reply = wire.encode_error_reply(KATA, -13, pid=77, msg="ipv6: IPv6 is disabled on this device",
                                    offset="IFA_LOCAL", cookie=b"\xab\xcd")
    (m,) = decode_json([reply.hex()], capsys)
    assert set(m) == {"type", "len", "flags", "seq", "pid", "error", "errno", "capped", "request",
                      "diagnosis", "extack"}
    assert (m["type"], m["error"], m["errno"], m["pid"]) == ("NLMSG_ERROR", -13, "EACCES", 77)
    assert m["flags"] == ["NLM_F_ACK_TLVS"] and m["request"] == KATA_JSON
    assert m["extack"] == {"msg": "ipv6: IPv6 is disabled on this device", "offset": 44,
                           "attr": {"type": "IFA_LOCAL"}, "cookie": "abcd"}


def test_address_message_keys_are_exact(capsys: pytest.CaptureFixture[str]) -> None:
    (m,) = decode_json([KATA.hex()], capsys)
    assert list(m) == ["type", "len", "flags", "seq", "pid", "family", "prefixlen", "ifa_flags",
                       "scope", "index", "attrs", "flag_names"]
    assert all(list(a) == ["type", "value"] for a in m["attrs"])  # type: ignore[attr-defined]


def test_ack_and_done_in_one_buffer(capsys: pytest.CaptureFixture[str]) -> None:
    ack = wire.encode_error_reply(KATA, 0, pid=5)
    done = struct.pack("=IHHIIi", 20, 3, 2, 20, 5, 0)
    msgs = decode_json([(ack + done).hex()], capsys)
    assert [(m["type"], m["error"], m["seq"]) for m in msgs] == [("NLMSG_ERROR", 0, 19),
                                                                  ("NLMSG_DONE", 0, 20)]
    assert msgs[0]["flags"] == ["NLM_F_CAPPED"] and msgs[0]["errno"] is None


# ---------------------------------------------------------------------------- malformed input
def _lying_attr() -> bytes:
    bad = bytearray(KATA)
    struct.pack_into("=H", bad, 24, 200)  # IFA_ADDRESS says 200 bytes; 40 are left
    return bytes(bad)


MALFORMED = {
    "truncated": (KATA[:60].hex(), "offset 0"),
    "lying-nlmsg_len": ((struct.pack("=I", 200) + KATA[4:]).hex(), "offset 0"),
    "lying-attr-len": (_lying_attr().hex(), "offset 24"),
    "short-tail": ((KATA + b"\x01\x02").hex(), "offset 64"),
    "zero-len": ((KATA + bytes(16)).hex(), "offset 64"),
    "non-hex": ("40 00 zz 00", "offset 6"),
    "odd-digits": ("400", "offset 0"),
    "byte-256": ("[64, 256]", "offset 5"),
    "list-garbage": ("[64, x]", "offset 5"),
    "unclosed-list": ("[64, 0", "offset 0"),
    "empty": ("   ", "offset 0"),
    "short-error": (struct.pack("=IHHIIi", 20, 2, 0, 1, 0, -13).hex(), "offset 0"),
}


@pytest.mark.parametrize("text,where", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_exits_1_with_one_line_naming_the_offset(
        text: str, where: str, capsys: pytest.CaptureFixture[str]) -> None:
    for extra in ([], ["-j"], ["--errno", "13"]):
        rc, out, err = run(["decode", *extra, text], capsys)
        assert rc == 1 and out == "", (extra, out, err)
        assert len(err.splitlines()) == 1 and "offset" in err, err
        if not extra:
            assert where in err, err


def test_malformed_input_never_prints_a_traceback() -> None:
    for text, _ in MALFORMED.values():
        r = subprocess.run([sys.executable, "-m", "nlcore", "decode", text], capture_output=True,
                           text=True, cwd=REPO, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
        assert r.returncode == 1 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=96) | st.builds(lambda k, v: KATA[:k] + v + KATA[k + len(v):],
                                         st.integers(0, 63), st.binary(min_size=1, max_size=4)))
def test_random_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    import contextlib

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["decode", "-j", data.hex() or "00"])
    if rc == 0:
        assert isinstance(json.loads(out.getvalue()), list) and err.getvalue() == ""
    else:
        assert rc == 1 and len(err.getvalue().splitlines()) == 1 and "offset" in err.getvalue()
