"""csrc/supervise.c (the native supervisor of ``nlcore inject``) on its own and against its
pure twin.

* Under AddressSanitizer and UBSan, through tests/c/sup_harness.c (no Python involved):
  the batching client in every send/receive mode gets the replies the Python-driven tests
  expect, and tests/c/hostile_client.c's bad pointers, bad lengths and malformed netlink
  get the kernel's own answers, without a sanitizer report or a leak.
* ``nlc_rules_decide`` equals ``RuleSet.decide`` (result and counts) on random messages.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from _util import veth_space
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_native_sanitizers import CSRC, RUN_ENV, SANITIZE, STRICT, _gcc, _unavailable

from nlcore.faults.seccomp import native as _native
from nlcore.faults.seccomp.rules import Rule, RuleSet
from nlcore.net.netns import ThrowawayNetns

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "tests" / "c"
EXAMPLES = int(os.environ.get("NLCORE_FUZZ_EXAMPLES", "200"))
MIXED = ["198.51.100.1/24", "fe80::1/64", "198.51.100.2/24", "2001:db8::1/64",
         "198.51.100.3/24"]


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The sanitized harness (supervise.c + sup_harness.c) and the two clients."""
    if shutil.which("gcc") is None:
        _unavailable("gcc is not installed")
    out = tmp_path_factory.mktemp("sup")
    res = _gcc([*STRICT, *SANITIZE, f"-I{CSRC}", *(str(p) for p in sorted(CSRC.glob("sup*.c"))),
                str(C_DIR / "sup_harness.c"), "-o", str(out / "sup")])
    if res.returncode and "sanitize" in res.stderr:
        _unavailable(f"gcc cannot link -fsanitize=address,undefined here: {res.stderr}")
    assert res.returncode == 0, res.stderr
    for name in ("batch_client", "hostile_client", "storm_client"):
        res = _gcc(["-O2", "-Wall", "-Wextra", "-Werror", str(C_DIR / f"{name}.c"), "-o",
                    str(out / name)])
        assert res.returncode == 0, res.stderr
    return {n: str(out / n) for n in ("sup", "batch_client", "hostile_client", "storm_client")}


@pytest.fixture
def ns() -> Iterator[ThrowawayNetns]:
    """A throwaway namespace with a veth pair v0/v0p."""
    yield from veth_space()


def _sup(ns: ThrowawayNetns, sup: str, *args: str) -> subprocess.CompletedProcess[str]:
    return ns.run([sup, *args], env={**os.environ, **RUN_ENV}, timeout=60)


def _stats(stderr: str) -> list[int]:
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    line = [x for x in stderr.splitlines() if x.startswith("sup: stats ")]
    assert len(line) == 1, stderr
    return [int(x) for x in line[0].split()[2:7]]


def _addrs(ns: ThrowawayNetns) -> set[str]:
    out = json.loads(ns.run(["ip", "-j", "addr", "show", "dev", "v0"], check=True).stdout)
    return {f"{a['local']}/{a['prefixlen']}" for link in out for a in link["addr_info"]}


@pytest.mark.parametrize("mode", [
    ["--send=sendmsg", "--recv=recvmsg"], ["--send=sendto", "--recv=recvfrom"],
    ["--send=write", "--recv=read"], ["--send=sendmmsg", "--recv=recvmmsg"],
    ["--wait=poll", "--peek"], ["--wait=epoll", "--peek", "--ext-ack"],
    ["--cap-ack", "--ext-ack", "--recv=recvfrom"]])
def test_batches_under_asan(bins: dict[str, str], ns: ThrowawayNetns, mode: list[str]) -> None:
    """Mixed batches: the v6 requests fail (with the extack where enabled), the v4 ones
    reach the kernel, every reply in sequence order; nothing leaked, nothing pending."""
    res = _sup(ns, bins["sup"], "--extack=no v6 here", "20,family=10", "--",
               bins["batch_client"], *mode, "v0", *MIXED)
    ext = " extack=no v6 here" if "--ext-ack" in mode else ""
    assert res.stdout == "".join(f"seq={i} error={e} pid=ok{ext if e else ''}\n"
                                 for i, e in enumerate([0, -13, 0, -13, 0], 1))
    assert res.returncode == 1
    notifications, continued, failed, delivered, errors = _stats(res.stderr)
    assert (failed, delivered, errors) == (2, 2, 0)
    assert " pending 0 counts 2 error=\n" in res.stderr
    assert notifications > continued
    assert _addrs(ns) == {"198.51.100.1/24", "198.51.100.2/24", "198.51.100.3/24"}


def test_interruptible_storm_under_asan(bins: dict[str, str], ns: ThrowawayNetns) -> None:
    """The listener without WAIT_KILLABLE_RECV (the harness's) and a 50 us SIGALRM storm:
    restarted sends are recognised (sup_redo.c) and never performed twice, every reply is
    delivered at most once (one the kernel discarded is lost: docs/inject.md, "Receives
    are not remembered"), and the sanitizers stay quiet over the restart records."""
    res = _sup(ns, bins["sup"], "--interruptible", "20,family=10,when=1-300", "--",
               bins["storm_client"], "--us=50", "--rounds=300", "v0", "198.51.100.1/24",
               "fe80::1/64")
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    lost = got["lost"]
    assert got == {"rounds": 300, "ok": 300, "dup": 0, "lost": lost, "other": 0,
                   "err": {"13": 300 - lost} if lost < 300 else {}}, res.stderr
    _notifications, _continued, failed, delivered, errors = _stats(res.stderr)
    assert (failed, delivered, errors) == (300, 300, 0)
    assert " pending 0 counts 300 error=\n" in res.stderr


HOSTILE = """\
sendto-bad-buffer ret=-1 errno=EFAULT
sendto-bad-addr ret=-1 errno=EFAULT
sendmsg-iovlen-5000 ret=-1 errno=EMSGSIZE
sendmsg-bad-iov ret=-1 errno=EFAULT
sendmsg-bad-msghdr ret=-1 errno=EFAULT
sendmmsg-bad-vector ret=-1 errno=EFAULT
send-malformed-attr ret=48 errno=0
send-malformed-attr ret=48 errno=0
send-malformed-attr ret=48 errno=0
send-nlmsg-len-huge ret=44 errno=0
send-nlmsg-len-15 ret=44 errno=0
send-v6 ret=44 errno=0
recvmsg-bad-msghdr ret=-1 errno=EFAULT
send-v6-again ret=44 errno=0
recv-1-byte-trunc ret={trunc} errno=0
send-v6-third ret=44 errno=0
recvmsg-bad-piece ret=-1 errno=EFAULT
send-v6-fourth ret=44 errno=0
recvfrom-bad-addr ret=-1 errno=EFAULT
reopen-same-number ret=0 errno=0
send-v6-new-socket ret=44 errno=0
recv-new-socket ret={trunc} errno=0
"""


def test_hostile_client_under_asan(bins: dict[str, str], ns: ThrowawayNetns) -> None:
    """Every bad pointer and length gets the kernel's answer (the bare run is the
    reference), malformed netlink passes to the kernel, a new socket under a closed one's
    fd number is recognised as new, and the sanitizers stay quiet."""
    index = json.loads(ns.run(["ip", "-j", "link", "show", "v0"]).stdout)[0]["ifindex"]
    bare = ns.run([bins["hostile_client"], str(index)])
    # the kernel's EACCES-free reply to the v6 request: an ack (36 bytes, capped echo)
    assert bare.stdout == HOSTILE.format(trunc=36)
    res = _sup(ns, bins["sup"], "20,family=10", "20,addr=fe80::/64", "--",
               bins["hostile_client"], str(index))
    # the synthetic NLMSGERR echoes the 44-byte request whole: 16 + 4 + 44
    assert res.stdout == HOSTILE.format(trunc=64)
    assert res.returncode == 0
    stats = _stats(res.stderr)
    # the 8 bad pointers the supervisor could not read (iovlen 5000 is answered EMSGSIZE
    # as the kernel answers it, without reading anything: not an error)
    assert stats[4] == 8
    assert "error=sendto: [Errno 14] Bad address" in res.stderr


# ---------------------------------------------------------------- rules: native == pure
def _rules() -> st.SearchStrategy[list[Rule]]:
    prefix = st.one_of(
        st.none(),
        st.builds(lambda a, p: ipaddress.ip_network((a, p), strict=False),
                  st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address), st.integers(0, 32)),
        st.builds(lambda a, p: ipaddress.ip_network((a, p), strict=False),
                  st.sampled_from(["fe80::", "2001:db8::", "::"]).map(ipaddress.IPv6Address),
                  st.integers(0, 128)))
    rule = st.builds(
        lambda t, f, i, p, w, e: Rule("r", t, f, i, p, w[0], w[1], e),
        st.sampled_from([16, 19, 20, 21, 22]), st.sampled_from([None, 0, 2, 10]),
        st.sampled_from([None, 1, 2]), prefix,
        st.sampled_from([(1, None), (2, 2), (1, 3), (3, None)]), st.sampled_from([None, 1]))
    return st.lists(rule, min_size=1, max_size=4)


def _message() -> st.SearchStrategy[bytes]:
    attr = st.builds(lambda t, v: struct.pack("=HH", 4 + len(v), t) + v + bytes(-len(v) % 4),
                     st.sampled_from([1, 2, 3, 8]),
                     st.sampled_from([4, 16, 0, 5]).flatmap(lambda n: st.binary(
                         min_size=n, max_size=n)))
    body = st.builds(lambda fam, idx, attrs, junk: struct.pack("=BBBBI", fam, 64, 0, 0, idx)
                     + b"".join(attrs) + junk,
                     st.sampled_from([0, 2, 10]), st.sampled_from([1, 2]),
                     st.lists(attr, max_size=3),
                     st.sampled_from([b"", b"\x02\x00", b"\x00\x00\x01\x00", b"\xff\xff\x02\x00"]))
    msg = st.builds(lambda t, fl, b: struct.pack("=IHHII", 16 + len(b), t, fl, 1, 0) + b,
                    st.sampled_from([16, 19, 20, 21, 22]), st.sampled_from([0x5, 0x0, 0x301]),
                    body)
    return msg | st.binary(max_size=40)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rules=_rules(), msgs=st.lists(_message(), min_size=1, max_size=6))
def test_rules_decide_native_equals_pure(rules: list[Rule], msgs: list[bytes]) -> None:
    """Per message: the same firing rule; after all of them: the same counts."""
    native = _native.load()
    if native is None:
        _unavailable("the native extension is not built")
        return
    pure = RuleSet(rules)
    crules = _native.compile_rules(native.ffi, RuleSet(rules), 13)
    counts = native.ffi.new("uint32_t[]", len(rules))
    for m in msgs:
        got = native.lib.nlc_rules_decide(crules, len(rules), counts, m, len(m))
        want = pure.decide(m)
        assert (None if got < 0 else got) == want, m.hex()
    assert list(counts) == pure.counts
