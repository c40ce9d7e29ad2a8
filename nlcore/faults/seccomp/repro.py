"""``nlcore repro kata-11200 --layer seccomp``: the Kata failure through ``nlcore inject``.

In a throwaway namespace whose index 2 is a veth with IPv6 *enabled* (so the kernel would
accept the request), a stdlib-only client sends the Kata agent's request (seq 19, ifindex 2,
fe80::c44c:1cff:fe84:f6b7/64, flags 0x505, IFA_ADDRESS before IFA_LOCAL) under the seccomp
supervisor with the rule ``RTM_NEWADDR family=inet6 index=2``. The client receives the
NLMSGERR -13 built as the kernel's ``netlink_ack()`` builds it; the address never reaches
the kernel, which the layer checks by dumping the device's addresses afterwards.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...codec import consts as C
from ...codec.errors import errno_name
from ...codec.spec import AddrSpec
from ...codec.wire import AddrMsg, ErrorMsg, decode, encode_addr, encode_getaddr, error_of
from ...net.conn import Conn
from ...net.netns import ThrowawayNetns
from ...ops.link import add_veth
from .inject import run

if TYPE_CHECKING:
    from ..kernel import Scenario
    from ..repro import Outcome

#: The echoed request in kata-containers issue 11200 (the agent's log), byte for byte.
KATA_ISSUE_BYTES = bytes([
    64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, 0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0, 20, 0, 1, 0,
    254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183, 20, 0, 2, 0, 254, 128,
    0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183])
KATA_ADDRESS = "fe80::c44c:1cff:fe84:f6b7"
KATA_EXTACK = "ipv6: IPv6 is disabled on this device"
KATA_RULE = "RTM_NEWADDR family=inet6 index=2"

# argv: REQUEST_HEX EXT_ACK(0|1); prints the first reply datagram as hex.
_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
if sys.argv[2] == "1":
    s.setsockopt(270, 11, 1)
s.bind((0, 0))
s.sendto(bytes.fromhex(sys.argv[1]), (0, 0))
print(s.recv(65536).hex())
"""


def kata_request() -> bytes:
    """The Kata agent's RTM_NEWADDR, built by nlcore's encoder."""
    spec = AddrSpec(KATA_ADDRESS + "/64", index=2, op="replace", address_first=True)
    return encode_addr(spec, seq=19)


def _index2(ns: ThrowawayNetns) -> None:
    with Conn(ns=ns) as conn:
        idx = add_veth(conn, "v0", "v0p")
        if 2 not in idx:
            raise OSError(errno.ENODEV, f"expected the veth at index 2, got {idx}")


def _kernel_has(ns: ThrowawayNetns) -> bool:
    with Conn(ns=ns) as conn:
        msgs = conn.request(encode_getaddr(C.AF_INET6, index=2))
    return any(isinstance(m, AddrMsg) and m.local == KATA_ADDRESS for m in msgs)


@dataclass(frozen=True)
class KataRun:
    """One run of the Kata request under the seccomp supervisor."""

    request: bytes
    reply: bytes  # the first datagram the client received
    returncode: int
    kernel_untouched: bool  # the address is absent from the kernel afterwards
    mode: str  # "root" or "userns": how the throwaway namespace was made


def run_kata(ext_ack: bool) -> KataRun:
    """Send the Kata request from a client under ``nlcore inject`` in a throwaway namespace
    (OSError/PermissionError when none can be made)."""
    request = kata_request()
    with ThrowawayNetns() as ns, tempfile.TemporaryFile("w+") as out:
        _index2(ns)
        res = run([sys.executable, "-I", "-S", "-c", _CLIENT, request.hex(), str(int(ext_ack))],
                  [KATA_RULE], errno=errno.EACCES, extack=KATA_EXTACK, popen=ns.popen,
                  stdin=subprocess.DEVNULL, stdout=out)
        out.seek(0)
        reply = bytes.fromhex(out.read().strip() or "")
        untouched = not _kernel_has(ns)
        mode = "userns" if ns.userns else "root"
    return KataRun(request, reply, res.returncode, untouched, mode)


def repro(scenario: str, ext_ack: bool) -> dict[str, Any]:
    """Run ``scenario`` (only ``kata-11200``) through the seccomp layer.

    Returns the ``nlcore repro -j`` object: ``scenario``, ``layer`` ("seccomp"),
    ``reproduced`` (errno -13, the expected extack, the issue's echo and the kernel left
    untouched), ``error`` (-13), ``errno`` ("EACCES"), ``extack`` (str or None),
    ``echo_matches_issue``, ``request_hex``, ``reply_hex``, plus ``kernel_untouched``,
    ``mode`` and ``message`` (the KernelError as text).
    """
    if scenario != "kata-11200":
        raise ValueError(f"the seccomp layer knows only kata-11200, not {scenario!r}")
    r = run_kata(ext_ack)
    msgs = decode(r.reply) if r.reply else []
    msg = msgs[0] if msgs and isinstance(msgs[0], ErrorMsg) else None
    err = error_of(msg, {19: r.request}) if msg is not None else None
    extack = msg.extack.msg if msg is not None and msg.extack is not None else None
    echo = msg is not None and msg.request == KATA_ISSUE_BYTES
    expected_extack = KATA_EXTACK if ext_ack else None
    reproduced = (r.returncode == 0 and msg is not None and msg.error == -errno.EACCES
                  and extack == expected_extack and echo and r.kernel_untouched)
    return {"scenario": scenario, "layer": "seccomp", "reproduced": reproduced,
            "error": msg.error if msg is not None else None,
            "errno": errno_name(msg.error) if msg is not None and msg.error else None,
            "extack": extack, "echo_matches_issue": echo, "request_hex": r.request.hex(),
            "reply_hex": r.reply.hex(), "kernel_untouched": r.kernel_untouched,
            "mode": r.mode, "message": str(err) if err is not None else None}


def outcome(scenario: Scenario, ext_ack: bool) -> Outcome:
    """The same run as a :class:`nlcore.faults.repro.Outcome` (that module's layer hook)."""
    from ..repro import Outcome, Unsupported

    if scenario.name != "kata-11200":
        raise Unsupported(f"the seccomp layer reproduces kata-11200 only, not {scenario.name}")
    r = run_kata(ext_ack)
    note = (f"nlcore inject --match {KATA_RULE!r}: the request never reached the kernel "
            "(the address is absent; IPv6 is enabled on the device)" if r.kernel_untouched
            else "the address reached the kernel: the interception failed")
    return Outcome(scenario=scenario, layer="seccomp", request=r.request, reply=r.reply,
                   ext_ack=ext_ack, expected_error=scenario.error,
                   expected_extack=scenario.extack, notes=[note], mode=r.mode)
