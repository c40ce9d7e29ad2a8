"""``nlcore route|neigh|link`` against the real kernel and the real ``ip``: show output equal
to ``ip``'s (text and ``-j``) on the same namespace, exit statuses and error lines as ``ip``'s,
and ``nlcore -batch`` leaving the same kernel state as ``ip -batch`` on the same file (two
fresh namespaces, compared through ``ip -j`` dumps)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import NetnsEnv, _throwaway

REPO = Path(__file__).resolve().parents[1]
ENV = {"PYTHONPATH": str(REPO), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
pytestmark = pytest.mark.kernel

SETUP = """\
link set v0 address 02:00:00:00:00:01
link set v1 address 02:00:00:00:00:02
link set v0 up
link set dev v1 mtu 1400 up
addr add 192.0.2.1/24 dev v0
addr add 2001:db8:1::1/64 dev v0 nodad
route add 198.51.100.0/24 via 192.0.2.254 dev v0 metric 7 proto static
route add blackhole 203.0.113.0/24
route add unreachable 203.0.113.128/25 table 100
route add 198.18.0.0/24 dev v0 mtu lock 1400 advmss 1360 rtt 10ms
route add 198.18.1.0/24 nexthop via 192.0.2.2 dev v0 weight 3 nexthop via 192.0.2.3 dev v0
route add 198.18.2.0/24 via 192.0.2.5 dev v1 onlink
route add 198.18.3.0/24 via inet6 fe80::1 dev v0
route add default via 192.0.2.254 src 192.0.2.1
route replace 198.18.4.0/24 dev v0 scope link table 1000 initcwnd 10
route append 198.18.5.0/24 dev v0 metric 9
route add 2001:db8:2::/64 via 2001:db8:1::fe dev v0
route add 2001:db8:3::/64 dev v0 metric 5 hoplimit 9
neigh add 192.0.2.9 lladdr 02:00:00:00:00:09 dev v0 router
neigh add 192.0.2.10 lladdr 02:00:00:00:00:0a dev v0 nud reachable
neigh replace 2001:db8:1::9 lladdr 02:00:00:00:00:09 dev v0 nud stale
neigh add proxy 192.0.2.11 dev v0
route del 198.18.5.0/24 dev v0 metric 9
"""


def nl(env: NetnsEnv, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m nlcore ARGS`` inside the namespace."""
    r: subprocess.CompletedProcess[str] = env.ns.run(
        [sys.executable, "-m", "nlcore", *args], env=ENV, input=stdin, timeout=300)
    return r


def ip(env: NetnsEnv, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    r: subprocess.CompletedProcess[str] = env.ns.run(["ip", *args], input=stdin, timeout=60)
    return r


@pytest.fixture
def two() -> Iterator[tuple[NetnsEnv, NetnsEnv]]:
    a = NetnsEnv(_throwaway())
    try:
        b = NetnsEnv(_throwaway())
        try:
            yield a, b
        finally:
            b.close()
    finally:
        a.close()


def state(env: NetnsEnv, macs: bool = True) -> dict[str, Any]:
    """Everything ``ip -j`` says about the namespace, as sorted lists, minus what time or
    chance decides (lifetimes, DAD in progress, multicast NOARP entries, random MACs)."""
    out: dict[str, Any] = {}
    for key, args in (("addr", ["addr"]), ("route4", ["-4", "route", "show", "table", "all"]),
                      ("route6", ["-6", "route", "show", "table", "all"]),
                      ("neigh", ["neigh", "show"]), ("proxy", ["neigh", "show", "proxy"]),
                      ("link", ["link"])):
        data = env.ip_json(*args)
        # the kernel's own link-local and multicast routes come with addrconf, in its time
        data = [x for x in data if not str(x.get("dst", "")).startswith(("fe80", "ff00::"))]
        for item in data:
            if not macs:
                for drop in ("address", "permaddr"):
                    item.pop(drop, None)
            if item.get("state") and set(item["state"]) <= {"REACHABLE", "STALE", "DELAY",
                                                             "PROBE"}:
                item["state"] = ["dynamic"]  # a reachable entry goes stale in its time
            for a in item.get("addr_info", []):
                for drop in ("valid_life_time", "preferred_life_time", "tentative"):
                    a.pop(drop, None)
            if "addr_info" in item:  # link-local: from the MAC the veth was born with
                item["addr_info"] = [a for a in item["addr_info"]
                                     if not a["local"].startswith("fe80:")]
        out[key] = sorted(json.dumps(x, sort_keys=True) for x in data)
    return out


def test_batch_same_state_as_ip_batch(two: tuple[NetnsEnv, NetnsEnv], tmp_path: Path) -> None:
    a, b = two
    assert state(a, macs=False) == state(b, macs=False)  # two fresh namespaces start alike
    batch = tmp_path / "setup.batch"
    batch.write_text(SETUP)
    r_ip = ip(a, "-batch", str(batch))
    assert (r_ip.returncode, r_ip.stderr) == (0, "")
    r_nl = nl(b, "-batch", str(batch))
    assert (r_nl.returncode, r_nl.stderr) == (0, "")
    sa, sb = state(a), state(b)
    for key in sa:
        assert sa[key] == sb[key], key
    assert any('"198.18.1.0/24"' in r and "nexthops" in r for r in sa["route4"])


def test_show_equals_ip(kns: NetnsEnv, tmp_path: Path) -> None:
    batch = tmp_path / "setup.batch"
    batch.write_text(SETUP)
    assert ip(kns, "-batch", str(batch)).returncode == 0
    for args in (["route"], ["route", "show"], ["-6", "route"],
                 ["route", "show", "table", "100"], ["route", "show", "table", "all"],
                 ["route", "show", "dev", "v0"], ["-4", "route", "list", "table", "1000"],
                 ["neigh"], ["neigh", "show", "dev", "v0"], ["-6", "neigh"],
                 ["neigh", "show", "proxy"], ["link"], ["link", "show", "v0"],
                 ["link", "show", "dev", "v1"]):
        for j in ([], ["-j"]):
            # the kernel may still be adding the devices' link-local addresses and routes:
            # compare only with a state that ip shows the same before and after nlcore's turn
            for _ in range(20):
                theirs = ip(kns, *j, *args)
                mine = nl(kns, *j, *args)
                if ip(kns, *j, *args).stdout == theirs.stdout:
                    break
                time.sleep(0.1)
            assert mine.returncode == theirs.returncode == 0, (args, mine.stderr)
            if j:
                assert json.loads(mine.stdout or "[]") == json.loads(theirs.stdout or "[]"), args
            else:
                assert mine.stdout == theirs.stdout, args


@pytest.mark.parametrize("argv,status,line", [
    (["route", "add", "198.51.100.0/24", "metric", "x"], 255,
     'Error: argument "x" is wrong: "metric" value is invalid'),
    (["route", "add", "198.51.100.0/24", "dev", "nosuch"], 1, 'Cannot find device "nosuch"'),
    (["neigh", "add", "192.0.2.9", "lladdr", "zz", "dev", "v0"], 1, '"zz" is invalid lladdr.'),
    (["link", "set", "v0", "mtu", "x"], 255, 'Error: argument "x" is wrong: Invalid "mtu" value'),
    (["route", "frob"], 255, 'Command "frob" is unknown, try "ip route help".'),
])
def test_bad_lines_as_ip(kns: NetnsEnv, argv: list[str], status: int, line: str) -> None:
    theirs = ip(kns, *argv)
    mine = nl(kns, *argv)
    assert (theirs.returncode, theirs.stderr.splitlines()[0]) == (status, line)
    assert (mine.returncode, mine.stderr.strip()) == (status, line)


def test_kernel_refusals_exit_2(kns: NetnsEnv) -> None:
    assert nl(kns, "route", "add", "198.51.100.0/24", "dev", "v0").returncode == 0
    again = nl(kns, "route", "add", "198.51.100.0/24", "dev", "v0")
    assert again.returncode == 2 and "File exists (EEXIST)" in again.stderr
    gone = nl(kns, "route", "del", "198.18.9.0/24")
    assert gone.returncode == 2 and "No such process (ESRCH)" in gone.stderr
    off = nl(kns, "route", "add", "203.0.113.0/24", "via", "198.18.0.1", "dev", "v0")
    assert off.returncode == 2 and "Nexthop has invalid gateway" in off.stderr
    assert nl(kns, "link", "set", "v0", "down", "mtu", "1300").returncode == 0
    link = kns.ip_json("link", "show", "v0")[0]
    assert link["mtu"] == 1300 and "UP" not in link["flags"]
    assert nl(kns, "neigh", "add", "192.0.2.9", "lladdr", "02:00:00:00:00:09", "dev",
              "v0").returncode == 0
    assert [n["dst"] for n in kns.ip_json("neigh", "show", "dev", "v0")] == ["192.0.2.9"]


def test_route_get_equals_ip(kns: NetnsEnv, tmp_path: Path) -> None:
    batch = tmp_path / "setup.batch"
    batch.write_text(SETUP)
    assert ip(kns, "-batch", str(batch)).returncode == 0
    for args in (["198.51.100.7"], ["198.51.100.7", "from", "192.0.2.1", "oif", "v0"],
                 ["fibmatch", "198.51.100.7"], ["192.0.2.1"], ["192.0.2.255"],
                 ["2001:db8:1::5"], ["fibmatch", "2001:db8:2::1"], ["to", "198.18.1.9"]):
        for j in ([], ["-j"]):
            theirs = ip(kns, *j, "route", "get", *args)
            mine = nl(kns, *j, "route", "get", *args)
            assert mine.returncode == theirs.returncode == 0, (args, mine.stderr)
            if j:
                assert json.loads(mine.stdout) == json.loads(theirs.stdout), args
            else:
                assert mine.stdout == theirs.stdout, args
    gone = nl(kns, "route", "get", "2001:db8:ff::1")
    assert gone.returncode == ip(kns, "route", "get", "2001:db8:ff::1").returncode == 2
