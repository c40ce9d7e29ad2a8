"""``inject --match`` on route and neighbour fields: ``dst=``, ``table=``, ``oif=``, ``via=``,
read from the request bytes; and end to end, ``ip route add`` under ``nlcore inject`` fails
for the matched route only (checked with ``ip -j route``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from _util import supervisor
from hypothesis import given
from hypothesis import strategies as st

from nlcore.faults.route_faults import encode_neigh, encode_route
from nlcore.faults.seccomp.inject import run as inject_run
from nlcore.faults.seccomp.rules import Rule, RuleSet, parse_rule
from nlcore.net.netns import ThrowawayNetns

ROOT = Path(__file__).resolve().parent.parent


def fires(rule: str, raw: bytes) -> bool:
    return RuleSet([parse_rule(rule)]).decide(raw) == 0


def test_dst_is_the_exact_prefix() -> None:
    r6 = encode_route("2001:db8::/64", 2)
    assert fires("RTM_NEWROUTE family=inet6 dst=2001:db8::/64", r6)
    assert not fires("RTM_NEWROUTE dst=2001:db8::/48", r6)
    assert not fires("RTM_NEWROUTE dst=2001:db8::/64", encode_route("2001:db8::/65", 2))
    assert not fires("RTM_NEWROUTE family=inet dst=2001:db8::/64", r6)
    assert fires("RTM_NEWROUTE dst=default", encode_route("0.0.0.0/0", 2))
    assert not fires("RTM_NEWROUTE dst=default", encode_route("198.51.100.0/24", 2))


def test_oif_table_via() -> None:
    r = encode_route("203.0.113.0/24", 3, "198.51.100.1")
    assert fires("RTM_NEWROUTE oif=3 table=main via=198.51.100.1", r)
    assert not fires("RTM_NEWROUTE oif=2", r)
    assert not fires("RTM_NEWROUTE table=100", r)
    assert not fires("RTM_NEWROUTE via=198.51.100.2", r)
    # table > 255 goes in RTA_TABLE (rtm_table RT_TABLE_UNSPEC), as iproute2 sends it
    big = bytearray(r)
    big[20] = 0
    big += (8).to_bytes(2, "little") + (15).to_bytes(2, "little") + (1000).to_bytes(4, "little")
    big[0:4] = len(big).to_bytes(4, "little")
    assert fires("RTM_NEWROUTE table=1000", bytes(big))


def test_neighbour_fields() -> None:
    n = encode_neigh("192.0.2.9", 2)
    assert fires("28 oif=2 dst=192.0.2.0/24", n)
    assert not fires("28 oif=3", n)
    assert not fires("28 dst=2001:db8::/32", n)
    assert not fires("28 table=main", n)  # no table in a neighbour


@pytest.mark.parametrize("bad", ["RTM_NEWROUTE dst=x", "RTM_NEWROUTE oif=-1",
                                 "RTM_NEWROUTE table=mine", "RTM_NEWROUTE via=1.2.3"])
def test_bad_values_named(bad: str) -> None:
    with pytest.raises(ValueError, match=bad.split()[1].split("=")[0] + "="):
        parse_rule(bad)


def test_a_key_given_twice_is_refused() -> None:
    """Fields are one value each (the native supervisor holds one): a repeat is named."""
    for bad in ("RTM_NEWROUTE dst=2001:db8::/64 dst=2001:db8::/48", "20 addr=fe80::/64 "
                "addr=2001:db8::/32", "RTM_NEWROUTE oif=2 oif=3"):
        with pytest.raises(ValueError, match="given twice"):
            parse_rule(bad)
    with pytest.raises(ValueError, match="a route field given twice"):  # built by hand too
        Rule("r", 24, fields=(("oif", 2), ("oif", 3)))


@given(st.binary(max_size=96), st.sampled_from(["dst=2001:db8::/64", "oif=2", "table=main",
                                                 "via=192.0.2.1", "dst=default"]))
def test_never_crashes_on_garbage(data: bytes, field: str) -> None:
    for tp in (24, 28):
        raw = bytearray(data.ljust(28, b"\0"))
        raw[4:6] = tp.to_bytes(2, "little")
        raw[6:8] = (1).to_bytes(2, "little")
        RuleSet([parse_rule(f"{tp} {field}")]).decide(bytes(raw))


@pytest.fixture
def ns() -> Iterator[ThrowawayNetns]:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) not installed")
    try:
        from nlcore.faults.seccomp import notify

        notify.check_sizes()
        space = ThrowawayNetns()
    except (OSError, ImportError) as exc:
        pytest.skip(f"no seccomp user notification or throwaway namespace here: {exc}")
    with space:
        for cmd in (["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v0p"],
                    ["ip", "link", "set", "v0", "up"], ["ip", "link", "set", "v0p", "up"]):
            assert space.run(cmd).returncode == 0
        yield space


@pytest.fixture(params=["native", "pure"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both supervisors (NLCORE_PURE chooses, in this process and the CLI's)."""
    return supervisor(str(request.param), monkeypatch)


def _inject(ns: ThrowawayNetns, rule: str, cmd: str) -> subprocess.CompletedProcess[str]:
    return ns.run([sys.executable, "-m", "nlcore.faults.seccomp.inject", "--match", rule,
                   "--errno", "EACCES", "--", "sh", "-c", cmd],
                  env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)


def _routes(ns: ThrowawayNetns, table: str = "main") -> set[str]:
    """The IPv4 routes of ``table`` (a table that does not exist has none: ip then says
    "FIB table does not exist" and prints a bare "[")."""
    res = ns.run(["ip", "-j", "-4", "route", "show", "table", table])
    if "FIB table does not exist" in res.stderr:
        return set()
    return {r["dst"] for r in json.loads(res.stdout)}


@pytest.mark.kernel
def test_table_via_and_neighbour_end_to_end(ns: ThrowawayNetns, engine: str) -> None:
    """table= (RTA_TABLE 1000), via= (RTA_GATEWAY) and a neighbour's dst= and oif=, each
    failing only its own request; the engine the result names is the one chosen."""
    idx = json.loads(ns.run(["ip", "-j", "link", "show", "v0"]).stdout)[0]["ifindex"]
    assert ns.run(["ip", "addr", "add", "198.51.100.2/24", "dev", "v0"]).returncode == 0
    ll = "lladdr 02:00:00:00:00:01 dev v0"
    script = "; ".join([
        "ip route add 203.0.113.0/24 dev v0 table 1000; echo t1=$?",
        "ip route add 203.0.113.0/24 dev v0 table 1001; echo t2=$?",
        "ip route add 192.0.2.0/24 via 198.51.100.1; echo v1=$?",
        "ip route add 192.0.2.128/25 via 198.51.100.3; echo v2=$?",
        f"ip neigh add 198.51.100.5 {ll}; echo n1=$?",
        f"ip neigh add 198.51.100.9 {ll}; echo n2=$?"])
    res = inject_run(["sh", "-c", script], [
        "RTM_NEWROUTE table=1000", "RTM_NEWROUTE via=198.51.100.1",
        f"RTM_NEWNEIGH dst=198.51.100.0/29 oif={idx}"], popen=ns.popen, capture_output=True)
    assert res.engine == engine
    assert res.stdout == b"t1=2\nt2=0\nv1=2\nv2=0\nn1=2\nn2=0\n", res.stderr
    assert res.stderr.count(b"RTNETLINK answers: Permission denied\n") == 3, res.stderr
    assert res.counts == [1, 1, 1] and res.stats["errors"] == 0, res.stats
    assert _routes(ns, "1000") == set() and _routes(ns, "1001") == {"203.0.113.0/24"}
    main = _routes(ns)
    assert "192.0.2.128/25" in main and "192.0.2.0/24" not in main
    neigh = {n["dst"] for n in json.loads(ns.run(["ip", "-j", "neigh", "show", "dev",
                                                  "v0"]).stdout)}
    assert neigh == {"198.51.100.9"}


@pytest.mark.kernel
def test_ip_route_matched_prefix_fails_other_passes(ns: ThrowawayNetns, engine: str) -> None:
    res = _inject(ns, "RTM_NEWROUTE family=inet6 dst=2001:db8::/64",
                  "ip -6 route add 2001:db8::/64 dev v0; echo a=$?; "
                  "ip -6 route add 2001:db8:1::/64 dev v0; echo b=$?; "
                  "ip route add 198.51.100.0/24 dev v0; echo c=$?")
    assert res.stdout == "a=2\nb=0\nc=0\n", res.stderr
    assert "RTNETLINK answers: Permission denied" in res.stderr
    routes6 = {r["dst"] for r in json.loads(ns.run(["ip", "-6", "-j", "route"]).stdout)}
    assert "2001:db8:1::/64" in routes6 and "2001:db8::/64" not in routes6
    routes4 = {r["dst"] for r in json.loads(ns.run(["ip", "-j", "route"]).stdout)}
    assert "198.51.100.0/24" in routes4
