"""iproute2 words for route/neigh/link: the keywords each line becomes, and the exact error
line and exit status the real ``ip`` prints for a bad line (ip is run in a throwaway
namespace; a parse error never sends anything)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlcore.codec.batchfile import parse_batch
from nlcore.codec.iproute import object_of, parse_object_command
from nlcore.codec.iproute_words import CommandError

AF_INET, AF_INET6 = 2, 10


def kw(line: str, family: int = 0) -> dict[str, object]:
    words = line.split()
    cmd = parse_object_command(str(object_of(words[0])), words[1:], family)
    out = {"op": cmd.op, **cmd.kwargs}
    if cmd.family:
        out["family"] = cmd.family
    return out


@pytest.mark.parametrize("line,want", [
    ("route add 198.51.100.0/24 via 192.0.2.1 dev v0",
     {"op": "add", "dst": "198.51.100.0/24", "via": "192.0.2.1", "dev": "v0", "family": AF_INET}),
    ("r a default via 2001:db8::1", {"op": "add", "dst": "default", "via": "2001:db8::1",
                                     "family": AF_INET6}),
    ("route add blackhole 203.0.113.0/24", {"op": "add", "type": "blackhole",
                                            "dst": "203.0.113.0/24", "family": AF_INET}),
    ("route add unreach 203.0.113.0/24", {"op": "add", "type": "unreachable",
                                          "dst": "203.0.113.0/24", "family": AF_INET}),
    ("route add to prohibit 203.0.113.7", {"op": "add", "type": "prohibit",
                                           "dst": "203.0.113.7", "family": AF_INET}),
    ("route replace 198.51.100.0/24 via inet6 fe80::1 dev v0",
     {"op": "replace", "dst": "198.51.100.0/24", "via": "fe80::1", "dev": "v0",
      "family": AF_INET}),
    ("route change 198.51.100.0/24 dev v0 t 1000 p 7 pro static scope link src 192.0.2.1",
     {"op": "change", "dst": "198.51.100.0/24", "dev": "v0", "table": 1000, "metric": 7,
      "proto": 4, "scope": 253, "prefsrc": "192.0.2.1", "family": AF_INET}),
    ("route append 198.51.100.0/24 dev v0 table local preference 3 onlink",
     {"op": "append", "dst": "198.51.100.0/24", "dev": "v0", "table": 255, "metric": 3,
      "onlink": True, "family": AF_INET}),
    ("route del 198.51.100.0/24 dev v0 dev v1", {"op": "del", "dst": "198.51.100.0/24",
                                                 "dev": "v1", "family": AF_INET}),
    ("route add 198.51.100.0/24 dev v0 mtu lock 1400 advmss 1360 rtt 10ms rttvar 5 "
     "hoplimit 64 initcwnd 10 initrwnd 20 reordering 3 window 1000 cwnd 9 ssthresh 8 "
     "quickack 1 features ecn congctl lock cubic rto_min 200ms fastopen_no_cookie 1",
     {"op": "add", "dst": "198.51.100.0/24", "dev": "v0", "family": AF_INET,
      "metrics": {"mtu": 1400, "advmss": 1360, "rtt": 80, "rttvar": 5, "hoplimit": 64,
                  "initcwnd": 10, "initrwnd": 20, "reordering": 3, "window": 1000, "cwnd": 9,
                  "ssthresh": 8, "quickack": 1, "features": 1, "congctl": "cubic",
                  "rto_min": 200, "fastopen_no_cookie": 1,
                  "lock": (1 << 2) | (1 << 16) | (1 << 13)}}),
    ("route add 198.18.0.0/24 nexthop via 192.0.2.2 dev v0 weight 3 nexthop via 192.0.2.3 "
     "dev v1 onlink", {"op": "add", "dst": "198.18.0.0/24", "family": AF_INET, "nexthops": [
         {"via": "192.0.2.2", "dev": "v0", "weight": 3},
         {"via": "192.0.2.3", "dev": "v1", "onlink": True}]}),
    ("route add 198.51.100/24 dev v0", {"op": "add", "dst": "198.51.100.0/24", "dev": "v0",
                                        "family": AF_INET}),
    ("route add 2001:DB8:0::/64 dev v0", {"op": "add", "dst": "2001:db8::/64", "dev": "v0",
                                          "family": AF_INET6}),
    ("neigh add 192.0.2.9 lladdr 02:00:00:00:00:09 dev v0 nud reachable router",
     {"op": "add", "address": "192.0.2.9", "lladdr": "02:00:00:00:00:09", "dev": "v0",
      "state": "reachable", "router": True, "family": AF_INET}),
    ("n r proxy 2001:db8::9 dev v0", {"op": "replace", "address": "2001:db8::9",
                                      "proxy": True, "dev": "v0", "family": AF_INET6}),
    ("neigh change 192.0.2.9 dev v0 nud p lladdr null",
     {"op": "change", "address": "192.0.2.9", "dev": "v0", "state": "permanent",
      "family": AF_INET}),
    ("neigh del to 192.0.2.9 dev v0 nud 0x40", {"op": "del", "address": "192.0.2.9",
                                                "dev": "v0", "state": 0x40,
                                                "family": AF_INET}),
    ("link set v0 up mtu 1400", {"op": "set", "dev": "v0", "up": True, "mtu": 1400}),
    ("l s dev v0 down a 02:00:00:00:00:01 name v9 m br0",
     {"op": "set", "dev": "v0", "up": False, "address": "02:00:00:00:00:01", "name": "v9",
      "master": "br0"}),
    ("link set v0 master br0 nomaster", {"op": "set", "dev": "v0", "nomaster": True}),
])
def test_keywords(line: str, want: dict[str, object]) -> None:
    assert kw(line) == want


def test_family_option() -> None:
    assert kw("route add default via fe80::1 dev v0", AF_INET6)["family"] == AF_INET6
    assert kw("route add default dev v0", AF_INET6)["family"] == AF_INET6
    assert kw("route add default dev v0")["family"] == AF_INET
    with pytest.raises(CommandError, match="inet6 prefix is expected"):
        kw("route add 198.51.100.0/24", AF_INET6)


@pytest.mark.parametrize("line", ["route add 198.51.100.0/24 from 192.0.2.0/24",
                                  "route add 198.51.100.0/24 pref high",
                                  "route add nat 198.51.100.0/24", "route prepend default",
                                  "neigh add 192.0.2.9 dev v0 use", "link set v0 promisc on",
                                  "link add v9 type veth"])
def test_unsupported_words_are_named(line: str) -> None:
    with pytest.raises(CommandError, match="not supported by nlcore"):
        kw(line)


BAD = [
    "route add 198.51.100.0/24 metric x", "route add 198.51.100.0/24 via",
    "route add 2001:db8::/64 via 192.0.2.1", "route add 198.51.100.0/24 198.51.100.0/25",
    "route add default/0", "route add 198.51.100.0/33", "route add 198.51.100.0/24 scope bogus",
    "route add 198.51.100.0/24 table x", "route add 198.51.100.0/24 proto x",
    "route add 198.51.100.0/24 hoplimit 256", "route add 198.51.100.0/24 quickack 2",
    "route add 198.51.100.0/24 nexthop via 192.0.2.1 weight 0",
    "route add 198.51.100.0/24 nexthop via 192.0.2.1 weight 257",
    "route add 198.51.100.0/24 nexthop", "route add 198.51.100.0/24 nexthop via 192.0.2.1 foo",
    "route add 198.51.100.0/24 features x", "route add 198.51.100.0/24 advmss x",
    "route add 198.51.100.0/24 rtt x", "route add 198.51.100.0/24 mtu lock x",
    "route add 198.51.100.0/24 via 192.0.2.1 via 192.0.2.2",
    "route add 198.51.100.0/24 via inet6 192.0.2.1", "route add 198.51.100.0/24 src x",
    "route add x", "route bogus",
    "neigh add 192.0.2.9 lladdr zz dev lo", "neigh add 192.0.2.9 nud bogus dev lo",
    "neigh add 192.0.2.9 nud 3 dev lo", "neigh add 192.0.2.9",
    "neigh add 192.0.2.9 192.0.2.8 dev lo", "neigh bogus", "neigh add x dev lo",
    "neigh add 192.0.2.9 lladdr 1 lladdr 2 dev lo", "neigh add dev lo",
    "link set", "link set lo mtu x", "link set lo mtu 1 mtu 2", "link set lo name a/b",
    "link set lo lo2", "link set lo address zz", "link set lo name",
]


@pytest.fixture(scope="module")
def ip_in_netns() -> object:
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        pytest.skip("ip or unshare not installed")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode:
        pytest.skip(f"cannot unshare a network namespace: {probe.stderr.decode().strip()}")
    return None


@pytest.mark.parametrize("line", BAD)
def test_errors_as_ip_prints_them(ip_in_netns: object, line: str) -> None:
    """The real ``ip`` (in a namespace of its own, which dies with it) on the same words."""
    real = subprocess.run(["unshare", "-n", "ip", *line.split()], capture_output=True,
                          text=True)
    assert real.returncode != 0
    first = real.stderr.strip().splitlines()[0]
    with pytest.raises(CommandError) as info:
        kw(line)
    assert info.value.line == first
    assert info.value.status == real.returncode


def test_batch_file_holds_the_whole_setup() -> None:
    lines = parse_batch(b"link set v0 up\naddr add 192.0.2.1/24 dev v0\n"
                        b"route add default via 192.0.2.254\n"
                        b"neigh add 192.0.2.9 lladdr 02:00:00:00:00:09 dev v0\n"
                        b"route show\nroute add 198.51.100.0/24 pref high\n")
    kinds = [getattr(b.command, "kind", "addr") if b.command else b.error for b in lines]
    assert kinds[:4] == ["link", "addr", "route", "neigh"]
    assert "cannot be batched" in str(kinds[4])
    assert "not supported" in str(kinds[5])


WORDS = ["add", "del", "replace", "change", "append", "set", "show", "via", "inet6", "dev",
         "v0", "table", "100", "metric", "mtu", "lock", "1400", "nexthop", "weight", "onlink",
         "default", "198.51.100.0/24", "2001:db8::/64", "fe80::1", "192.0.2.1", "blackhole",
         "lladdr", "02:00:00:00:00:01", "nud", "permanent", "proxy", "router", "up", "down",
         "name", "master", "nomaster", "address", "src", "proto", "scope", "link", "x", "",
         "rtt", "10ms", "features", "ecn", "congctl", "to", "t", "p", "a", "n", "m"]


@given(st.sampled_from(["route", "neigh", "link"]),
       st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=12),
       st.sampled_from([0, AF_INET, AF_INET6]))
def test_any_words_parse_or_fail_cleanly(obj: str, words: list[str], family: int) -> None:
    """Whatever the words, the parser returns a command whose spec builds or fails with
    ValueError (CommandError/SpecError), never anything else."""
    try:
        cmd = parse_object_command(obj, words, family)
    except CommandError as e:
        assert e.line and e.status in (1, 255)
        return
    try:
        spec = cmd.spec()
    except ValueError:
        return
    assert spec.text()
    assert isinstance(spec.message, bytes) and len(spec.message) >= 16
