"""Capture the exact netlink messages iproute2's ``ip`` sends, for golden tests.

``capture(["addr", "add", "198.51.100.1/24", "dev", "v0"])`` runs, inside a fresh network
namespace made for this one call (``unshare -n`` as root, ``unshare -rn`` otherwise), the setup
commands (default: ``ip link add v0 type veth peer name v1``, left down) and then ``ip ARGS``
under ``strace -f -qq -e trace=sendmsg,sendto -e write=all -e signal=none``. The namespace dies
with its last process; strace writes into a memfd, so a killed run leaves nothing behind.

Facts this relies on (strace 6.1, iproute2 6.1, checked by tests/test_iproute2_capture.py):

* ``-e write=all`` follows each sendmsg with `` * N bytes in buffer K`` and then its hex lines,
  once per iovec; sendto has no such line, only the hex lines. A hex line is
  `` | OFFSET  <49 columns: 16 bytes as "xx ", one extra space after the 8th>  ASCII |``.
  With ``-f`` the syscall line starts with the pid; hex lines never do.
* ``ip addr add ... dev v0`` first resolves the name: an RTM_GETLINK with IFLA_IFNAME on a second
  socket, then the RTM_NEWADDR; ``op_index`` in the fixtures marks the operation message.
* Every ``ip link`` command starts with a sendto of an empty 32-byte RTM_NEWLINK (REQUEST|ACK),
  iproute2's probe for RTM_NEWLINK support. The operation is not always last: ``ip link show dev
  v0`` then asks for link 2 (the peer v1) to print ``v0@v1``.
* IPv6 flags above 0xff (noprefixroute) go whole into IFA_FLAGS and ifa_flags becomes 0, even
  with nodad; below that, only ifa_flags. IFA_LOCAL comes first and IFA_ADDRESS last, except in
  the peer form, where IFA_ADDRESS (the peer) comes first.
* A dump (``ip -6 addr show dev v0``) is one sendto of 152 bytes: a 24-byte RTM_GETADDR followed by
  a 128-byte all-zero trailer (iproute2 sends its request struct whole, strace shows the trailer
  as a header with nlmsg_len=0). Splitting stops at nlmsg_len == 0; the trailer is kept in
  ``CaptureResult.discarded``, never among the messages.
* iproute2 6.1 has no ``proto`` for ``ip addr`` (it fails with 'either "local" is duplicate, or
  "proto" is a garbage' and sends no RTM_NEWADDR); IFA_PROTO fixtures must come from elsewhere.
* In a fresh namespace with the default setup, v1 is ifindex 2 and v0 is ifindex 3 (the veth peer
  is registered first). Fixtures keep the real index and record ``ifindex``; for RTM_*LINK and
  RTM_*ADDR messages the index is the u32 at byte 20 (ifinfomsg and ifaddrmsg both keep it at
  offset 4): ``with_ifindex(msg, n)`` rewrites it.

``python3 tests/iproute2_capture.py --regenerate`` rewrites tests/golden/iproute2.json and the
route, neighbour and link files whose cases live in tests/iproute2_families.py.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

GOLDEN = Path(__file__).resolve().parent / "golden" / "iproute2.json"
DEFAULT_SETUP: list[list[str]] = [["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"]]
STRACE = ["strace", "-f", "-qq", "-e", "trace=sendmsg,sendto", "-e", "write=all",
          "-e", "signal=none"]
TIMEOUT = 60.0
_HDR = struct.Struct("=IHHII")
_CALL = re.compile(r"^(?:\d+ +)?(?:<\.\.\. )?(sendmsg|sendto)\b")
_HEX = re.compile(r"^ \| ([0-9a-f]+)  (.{1,49})")
_BUFFER = re.compile(r"^ \* (\d+) bytes in buffer (\d+)")


class CaptureError(RuntimeError):
    """A setup command or ``ip`` failed, or strace's output could not be read."""


@dataclass(frozen=True)
class Captured:
    """One netlink message exactly as sent (``nlmsg_len`` bytes) and by which syscall."""

    data: bytes
    syscall: str
    normalised: bytes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "normalised", normalise(self.data))


@dataclass(frozen=True)
class CaptureResult:
    """Everything one capture saw: messages, ip's exit status and output, interface indexes."""

    messages: tuple[Captured, ...]
    returncode: int
    stdout: str
    stderr: str
    ifindex: dict[str, int]
    discarded: tuple[bytes, ...]  # bytes after the last real message of each syscall (if any)


def normalise(msg: bytes) -> bytes:
    """``msg`` with nlmsg_seq and nlmsg_pid (bytes 8..16) zeroed."""
    if len(msg) < _HDR.size:
        raise ValueError(f"{len(msg)} bytes is shorter than a netlink header")
    return msg[:8] + bytes(8) + msg[16:]


def with_ifindex(msg: bytes, ifindex: int) -> bytes:
    """``msg`` with the ifinfomsg/ifaddrmsg index (u32 at byte 20) set to ``ifindex``."""
    mtype = _HDR.unpack_from(msg)[1]
    if not 16 <= mtype <= 23 or len(msg) < 24:
        raise ValueError(f"message type {mtype} has no ifindex at byte 20")
    return msg[:20] + struct.pack("=I", ifindex) + msg[24:]


def parse_strace(text: str) -> list[tuple[str, bytes]]:
    """(syscall, bytes written) for each sendmsg/sendto in strace ``-e write=all`` output.

    The buffers of a multi-iovec sendmsg are concatenated in order; a gap or a restart in the
    hex offsets raises ``CaptureError``.
    """
    calls: list[tuple[str, bytearray]] = []
    expect = 0
    for line in text.splitlines():
        if m := _CALL.match(line):
            if "resumed>" not in line:
                calls.append((m.group(1), bytearray()))
            expect = 0
        elif _BUFFER.match(line):
            expect = 0
        elif m := _HEX.match(line):
            if not calls:
                raise CaptureError(f"hex dump before any syscall: {line!r}")
            buf = calls[-1][1]
            off = int(m.group(1), 16)
            if off != expect:
                raise CaptureError(f"hex offset {off:#x}, expected {expect:#x}: {line!r}")
            chunk = bytes.fromhex(m.group(2))
            buf += chunk
            expect += len(chunk)
    return [(name, bytes(buf)) for name, buf in calls]


def split_messages(buf: bytes) -> tuple[list[bytes], bytes]:
    """Split one syscall's bytes into netlink messages by nlmsg_len.

    Stops at a header with nlmsg_len == 0 or when fewer than 16 bytes remain; returns the
    messages and the bytes left over. A length below 16 or past the end raises ``ValueError``.
    """
    msgs: list[bytes] = []
    off = 0
    while len(buf) - off >= _HDR.size:
        length = _HDR.unpack_from(buf, off)[0]
        if length == 0:
            break
        if length < _HDR.size or length > len(buf) - off:
            raise ValueError(f"nlmsg_len {length} at offset {off} of a {len(buf)}-byte buffer")
        msgs.append(buf[off:off + length])
        off += (length + 3) & ~3
    return msgs, buf[min(off, len(buf)):]


def _unshare_argv() -> list[str]:
    return ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]


def run_capture(ip_args: list[str], setup: Optional[list[list[str]]] = None) -> CaptureResult:
    """Run ``ip ip_args`` under strace in a throwaway namespace and return what it sent.

    A failing setup command raises ``CaptureError``; ip's own failure is reported in the result.
    """
    request = {"setup": DEFAULT_SETUP if setup is None else setup, "ip_args": list(ip_args)}
    argv = [*_unshare_argv(), "--", sys.executable, "-I", str(Path(__file__).resolve()),
            "--inner"]
    proc = subprocess.run(argv, input=json.dumps(request), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    if proc.returncode != 0:
        raise CaptureError(f"capture runner failed ({proc.returncode}): {proc.stderr.strip()}")
    out: dict[str, Any] = json.loads(proc.stdout)
    if out["error"]:
        raise CaptureError(out["error"])
    messages: list[Captured] = []
    discarded: list[bytes] = []
    for name, buf in parse_strace(out["trace"]):
        msgs, rest = split_messages(buf)
        messages.extend(Captured(m, name) for m in msgs)
        if rest:
            discarded.append(rest)
    return CaptureResult(tuple(messages), out["returncode"], out["stdout"], out["stderr"],
                         dict(out["ifindex"]), tuple(discarded))


def capture(ip_args: list[str], setup: Optional[list[list[str]]] = None, *,
            check: bool = True) -> list[Captured]:
    """The messages ``ip ip_args`` sends; with ``check``, raise ``CaptureError`` if ip fails."""
    res = run_capture(ip_args, setup)
    if check and res.returncode != 0:
        raise CaptureError(f"ip {' '.join(ip_args)} exited {res.returncode}: {res.stderr.strip()}")
    return list(res.messages)


def _inner() -> int:
    """Inside the namespace: run setup, then ip under strace; report JSON on stdout."""
    request = json.loads(sys.stdin.read())
    reply: dict[str, Any] = {"error": "", "trace": "", "returncode": -1, "stdout": "",
                             "stderr": "", "ifindex": {}}
    for cmd in request["setup"]:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        if done.returncode != 0:
            reply["error"] = f"setup {cmd} exited {done.returncode}: {done.stderr.strip()}"
            print(json.dumps(reply))
            return 0
    reply["ifindex"] = {name: idx for idx, name in socket.if_nameindex()}
    fd = os.memfd_create("strace")
    try:
        argv = [*STRACE, "-o", f"/proc/self/fd/{fd}", "ip", *request["ip_args"]]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False, pass_fds=(fd,))
        with open(f"/proc/self/fd/{fd}", encoding="utf-8", errors="replace") as f:
            reply["trace"] = f.read()
    finally:
        os.close(fd)
    reply.update(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)
    print(json.dumps(reply))
    return 0


# --- golden cases --------------------------------------------------------------------------

_ADD4 = ["ip", "addr", "add", "198.51.100.1/24", "dev", "v0"]
_ADD6 = ["ip", "-6", "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad"]


@dataclass(frozen=True)
class Case:
    """One golden capture: ``ip argv`` after ``setup``; message ``at`` is the operation ``op``."""

    name: str
    argv: tuple[str, ...]
    op: str
    at: int
    setup: tuple[tuple[str, ...], ...]


def _c(name: str, argv: str, op: str, at: int = 1, extra: Optional[list[str]] = None) -> Case:
    setup = [*DEFAULT_SETUP, *([extra] if extra else [])]
    return Case(name, tuple(argv.split()), op, at, tuple(tuple(c) for c in setup))


CASES: tuple[Case, ...] = (
    _c("v4_add", "addr add 198.51.100.1/24 dev v0", "RTM_NEWADDR"),
    _c("v4_add_brd_plus_label", "addr add 198.51.100.1/24 dev v0 broadcast + label v0:lab",
       "RTM_NEWADDR"),
    _c("v4_add_brd_explicit", "addr add 198.51.100.1/24 dev v0 broadcast 198.51.100.255",
       "RTM_NEWADDR"),
    _c("v6_add", "-6 addr add 2001:db8::1/64 dev v0", "RTM_NEWADDR"),
    _c("v6_add_nodad", "-6 addr add 2001:db8::1/64 dev v0 nodad", "RTM_NEWADDR"),
    _c("v6_add_noprefixroute", "-6 addr add 2001:db8::1/64 dev v0 noprefixroute",
       "RTM_NEWADDR"),
    _c("v6_add_nodad_noprefixroute", "-6 addr add 2001:db8::1/64 dev v0 nodad noprefixroute",
       "RTM_NEWADDR"),
    _c("v6_add_lifetimes", "-6 addr add 2001:db8::1/64 dev v0 valid_lft 100 preferred_lft 50",
       "RTM_NEWADDR"),
    _c("v6_add_all_four", "-6 addr add 2001:db8::1/64 dev v0 nodad noprefixroute "
       "valid_lft 100 preferred_lft 50", "RTM_NEWADDR"),
    _c("v4_add_metric", "addr add 198.51.100.1/24 dev v0 metric 7", "RTM_NEWADDR"),
    _c("v6_add_metric", "-6 addr add 2001:db8::1/64 dev v0 metric 7", "RTM_NEWADDR"),
    _c("v4_add_scope_link", "addr add 198.51.100.1/24 dev v0 scope link", "RTM_NEWADDR"),
    _c("v4_add_peer", "addr add 198.51.100.1 peer 198.51.100.2/24 dev v0", "RTM_NEWADDR"),
    _c("v4_del", "addr del 198.51.100.1/24 dev v0", "RTM_DELADDR", extra=_ADD4),
    _c("v6_del", "-6 addr del 2001:db8::1/64 dev v0", "RTM_DELADDR", extra=_ADD6),
    _c("v4_replace", "addr replace 198.51.100.1/24 dev v0", "RTM_NEWADDR"),
    _c("v6_replace_kata", "-6 addr replace peer fe80::c44c:1cff:fe84:f6b7/64 "
       "fe80::c44c:1cff:fe84:f6b7 dev v0", "RTM_NEWADDR"),
    _c("v6_show_dev", "-6 addr show dev v0", "RTM_GETADDR", 2),
    _c("v4_show_all", "-4 addr show", "RTM_GETADDR"),
    _c("link_show_dev", "link show dev v0", "RTM_GETLINK", 2),
    _c("link_set_up", "link set v0 up", "RTM_NEWLINK", 2),
    _c("link_set_down", "link set v0 down", "RTM_NEWLINK", 2, ["ip", "link", "set", "v0", "up"]),
    _c("link_set_mtu", "link set v0 mtu 1400", "RTM_NEWLINK", 2),
)

_TYPES = {"RTM_NEWLINK": 16, "RTM_GETLINK": 18, "RTM_NEWADDR": 20, "RTM_DELADDR": 21,
          "RTM_GETADDR": 22, "RTM_NEWROUTE": 24, "RTM_DELROUTE": 25, "RTM_GETROUTE": 26,
          "RTM_NEWNEIGH": 28, "RTM_DELNEIGH": 29, "RTM_GETNEIGH": 30}


@functools.lru_cache(maxsize=1)
def ip_version() -> str:
    """The installed iproute2 version, e.g. ``"6.1.0"`` (from ``ip -V``)."""
    out = subprocess.run(["ip", "-V"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"iproute2-v?([0-9.]+)", out)
    return m.group(1).rstrip(".") if m else out.strip()


def record(case: Case) -> dict[str, Any]:
    """Capture ``case`` live and return its fixture entry (as stored in the golden JSON)."""
    res = run_capture(list(case.argv), [list(c) for c in case.setup])
    if res.returncode != 0:
        raise CaptureError(f"{case.name}: ip exited {res.returncode}: {res.stderr.strip()}")
    types = [_HDR.unpack_from(m.data)[1] for m in res.messages]
    at = case.at
    if at < 0:  # the last message of the operation's type (ip link sends a probe first)
        at = max((i for i, t in enumerate(types) if t == _TYPES[case.op]), default=len(types))
        case = Case(case.name, case.argv, case.op, at, case.setup)
    if case.at >= len(types) or types[case.at] != _TYPES[case.op]:
        raise CaptureError(f"{case.name}: message {case.at} is not {case.op}: types {types}")
    return {"name": case.name, "argv": ["ip", *case.argv], "setup": [list(c) for c in case.setup],
            "op_type": case.op, "op_index": case.at,
            "ifindex": res.ifindex, "syscalls": [m.syscall for m in res.messages],
            "discarded_bytes": [len(d) for d in res.discarded], "iproute2": ip_version(),
            "messages": [m.normalised.hex() for m in res.messages]}


def load_golden(path: Path = GOLDEN) -> list[dict[str, Any]]:
    """The stored fixtures, a list of entries like ``record()`` returns."""
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def regenerate(path: Path = GOLDEN, cases: tuple[Case, ...] = CASES) -> None:
    """Capture every case in ``cases`` and rewrite ``path``."""
    entries = [record(case) for case in cases]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_golden(entries), encoding="utf-8")


def dump_golden(entries: list[dict[str, Any]]) -> str:
    """The golden file's text: one entry per block, one message per line."""
    blocks = []
    for entry in entries:
        head = {k: v for k, v in entry.items() if k != "messages"}
        msgs = ",\n    ".join(json.dumps(m) for m in entry["messages"])
        blocks.append(f' {json.dumps(head)[:-1]},\n  "messages": [\n    {msgs}]}}')
    return "[\n" + ",\n".join(blocks) + "\n]\n"


def main(argv: list[str]) -> int:
    """``--regenerate`` rewrites the golden JSON; ``--inner`` is the in-namespace runner."""
    if argv == ["--inner"]:
        return _inner()
    if argv == ["--regenerate"]:
        if shutil.which("strace") is None:
            print("strace is not installed", file=sys.stderr)
            return 1
        import iproute2_families as fam

        for path, cases in ((GOLDEN, CASES), *fam.GOLDENS):
            regenerate(path, cases)
            print(f"wrote {len(cases)} cases to {path}")
        return 0
    print("usage: iproute2_capture.py --regenerate", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
