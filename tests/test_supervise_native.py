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

from nlcore.faults.route_faults import encode_neigh, encode_route
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
                str(CSRC / "attrs.c"),
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


def test_rule_fields_fuzzed_under_asan(bins: dict[str, str]) -> None:
    """nlc_rules_decide with route and neighbour fields (sup_fields.c) on 300,000 random
    messages, each in a heap block of exactly its size: lying nlmsg_len, malformed and cut
    attributes; the sanitizers stay quiet and some rules fire."""
    res = subprocess.run([bins["sup"], "--fuzz-rules=300000"], capture_output=True,
                         text=True, env={**os.environ, **RUN_ENV}, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert "Sanitizer" not in res.stderr and "runtime error" not in res.stderr, res.stderr
    words = res.stdout.split()
    assert words[:3] == ["fuzz-rules:", "OK", "300000"] and int(words[3]) > 1000, res.stdout


# ---------------------------------------------------------------- rules: native == pure
_NETS = [ipaddress.ip_network(n) for n in
         ("198.51.100.0/24", "198.51.100.0/29", "2001:db8::/64", "2001:db8::/32", "0.0.0.0/0",
          "::/0", "192.0.2.7/32")]
_VIAS = [ipaddress.ip_address(a) for a in ("198.51.100.1", "2001:db8::1", "192.0.2.1")]
_PACKED = [*(n.network_address.packed for n in _NETS), *(a.packed for a in _VIAS),
           ipaddress.ip_address("198.51.100.3").packed, ipaddress.ip_address("2001:db8::9").packed]
_U32S = [struct.pack("=I", v) for v in (1, 2, 254, 1000)]
_VALUES = [*_PACKED, *_U32S, *(b"\x02\x00" + a.packed for a in _VIAS[::2]),
           b"\x0a\x00" + _VIAS[1].packed, b"", b"\x02\x00", b"\x01\x02\x03\x04\x05\x06"]


def _fields() -> st.SearchStrategy[tuple[tuple[str, object], ...]]:
    one = {"dst": st.sampled_from([None, *_NETS]), "via": st.sampled_from(_VIAS),
           "table": st.sampled_from([254, 100, 1000]), "oif": st.sampled_from([1, 2])}
    return st.sets(st.sampled_from(sorted(one)), max_size=3).flatmap(
        lambda keys: st.tuples(*(st.tuples(st.just(k), one[k]) for k in sorted(keys))))


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
    return st.lists(rule | _routed(), min_size=1, max_size=4)


def _routed() -> st.SearchStrategy[Rule]:
    """Rules with route and neighbour fields (and now and then addr=, which never meets
    them: the two read different messages)."""
    return st.builds(
        lambda t, f, fields, p, w: Rule("r", t, f, None, p, w[0], w[1], None, fields),
        st.sampled_from([24, 25, 28, 29, 20]), st.sampled_from([None, None, 2, 10]),
        _fields(), st.sampled_from([None, None, None, _NETS[0]]),
        st.sampled_from([(1, None), (2, 2), (1, 3)]))


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
    return msg | _rmsg() | _real().map(lambda r: r[0]) | st.binary(max_size=40)


def _rmsg() -> st.SearchStrategy[bytes]:
    """Route and neighbour messages of random attributes (the matched types, with the
    rules' values or random bytes, good and bad lengths), junk after them, lying lengths."""
    rattr = st.builds(lambda t, v: struct.pack("=HH", 4 + len(v), t) + v + bytes(-len(v) % 4),
                      st.sampled_from([1, 4, 5, 15, 18, 0x8001]),
                      st.sampled_from(_VALUES) | st.sampled_from([0, 4, 6, 16, 18]).flatmap(
                          lambda n: st.binary(min_size=n, max_size=n)))
    # rtmsg (family, dst_len, src_len, tos, table/protocol/scope/type, flags) or ndmsg
    # (family, pads, ifindex, state/flags/type): the u32 at 20 is the table byte or ifindex
    rbody = st.builds(lambda fam, plen, word, attrs, junk: struct.pack(
                          "=BBBBII", fam, plen, 0, 0, word, 0) + b"".join(attrs) + junk,
                      st.sampled_from([2, 10, 0]), st.sampled_from([0, 24, 29, 32, 64, 128, 200]),
                      st.sampled_from([254, 1, 2, 0, 100]), st.lists(rattr, max_size=4),
                      st.sampled_from([b"", b"\x02\x00", b"\x08\x00\x01\x00", b"\xff\xff\x05\x00"]))
    return st.builds(lambda t, fl, b, cut: (struct.pack("=IHHII", 16 + len(b) - cut, t, fl, 1, 0)
                                            + b)[:len(b) + 16 - cut // 2],
                     st.sampled_from([24, 25, 26, 28, 29, 30]), st.sampled_from([0x5, 0x0]),
                     rbody, st.sampled_from([0, 0, 0, 4, 8]))


_DSTS = ["198.51.100.0/24", "198.51.100.3/24", "2001:db8::/64", "0.0.0.0/0", "::/0",
         "192.0.2.7/32"]


@st.composite
def _real(draw: st.DrawFn) -> tuple[bytes, dict[str, object]]:
    """A route or neighbour request as ip sends it, retyped, given a big table or an
    RTA_VIA, or cut (in the bytes or in nlmsg_len); and what a rule must say to match it."""
    oif = draw(st.sampled_from([1, 2]))
    if draw(st.booleans()):
        dst = draw(st.sampled_from(_DSTS))
        gw = draw(st.sampled_from([None, "2001:db8::1" if ":" in dst else "198.51.100.1"]))
        m = bytearray(encode_route(dst, oif, gw))
        net = ipaddress.ip_network(dst, strict=False)
        facts: dict[str, object] = {"type": draw(st.sampled_from([24, 25, 26])), "oif": oif,
                                    "dst": net if net.prefixlen or draw(st.booleans()) else None,
                                    "table": 254, "via": gw and ipaddress.ip_address(gw)}
        extra = draw(st.sampled_from([0, 0, 1, 2]))
        if extra == 1:  # table 1000: RT_TABLE_UNSPEC in rtm_table, RTA_TABLE
            m[20] = 0
            m += struct.pack("=HHI", 8, 15, 1000)
            facts["table"] = 1000
        elif extra == 2 and gw is None:
            m += struct.pack("=HHH", 10, 18, 2) + _VIAS[2].packed + bytes(2)
            facts["via"] = _VIAS[2]
    else:
        addr = draw(st.sampled_from(["198.51.100.3", "2001:db8::9", "192.0.2.7"]))
        m = bytearray(encode_neigh(addr, oif))
        plen = draw(st.sampled_from([0, 24, 32] if "." in addr else [0, 64, 128]))
        facts = {"type": draw(st.sampled_from([28, 29, 30])), "oif": oif,
                 "dst": ipaddress.ip_network(f"{addr}/{plen}", strict=False)}
    facts["family"] = m[16]
    m[4:6] = struct.pack("=H", facts["type"])
    cut = draw(st.sampled_from([0, 0, 0, 0, 4, 12, 20]))
    struct.pack_into("=I", m, 0, len(m) - (cut if cut < 8 else 0))
    return bytes(m[:len(m) - (cut - 8 if cut >= 8 else 0)]), facts


@st.composite
def _aimed(draw: st.DrawFn, facts: dict[str, object]) -> Rule:
    """A rule aimed at a message: each of its facts left out, kept, or just missed."""
    miss = {"oif": 3, "table": 100, "via": _VIAS[0] if facts.get("via") != _VIAS[0]
            else _VIAS[1], "dst": _NETS[1]}
    fields = []
    for key in ("dst", "table", "oif", "via"):
        if key not in facts or (facts[key] is None and key == "via"):
            how = draw(st.sampled_from(["out", "out", "miss"]))
        else:
            how = draw(st.sampled_from(["out", "keep", "keep", "miss"]))
        if how != "out":
            fields.append((key, facts[key] if how == "keep" else miss[key]))
    tp = int(str(facts["type"])) if draw(st.integers(0, 4)) else 20
    fam = int(str(facts["family"]))
    family = draw(st.sampled_from([None, None, fam, 12 - fam]))
    w = draw(st.sampled_from([(1, None), (2, 2), (1, 3)]))
    return Rule("r", tp, family, None, None, w[0], w[1], None, tuple(fields))


@st.composite
def _aimed_case(draw: st.DrawFn) -> tuple[list[Rule], list[bytes]]:
    msgs = draw(st.lists(_real(), min_size=1, max_size=6))
    rules = [draw(_aimed(draw(st.sampled_from([f for _, f in msgs]))))
             for _ in range(draw(st.integers(1, 3)))]
    return rules, [raw for raw, _ in msgs] + draw(st.lists(_rmsg(), max_size=2))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rules=_rules(), msgs=st.lists(_message(), min_size=1, max_size=6))
def test_rules_decide_native_equals_pure(rules: list[Rule], msgs: list[bytes]) -> None:
    """Per message: the same firing rule; after all of them: the same counts."""
    _same_decisions(rules, msgs)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=_aimed_case())
def test_route_fields_native_equals_pure(case: tuple[list[Rule], list[bytes]]) -> None:
    """dst= (default, exact prefix, a neighbour inside it), table= (rtm_table, RTA_TABLE),
    oif=, via= (RTA_GATEWAY, RTA_VIA), on requests the rules aim at (or just miss):
    sup_fields.c decides as rules_route.py does."""
    _same_decisions(*case)


def _same_decisions(rules: list[Rule], msgs: list[bytes]) -> None:
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
