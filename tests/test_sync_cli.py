"""``nlcore sync FILE``: -j counts, --dry-run, scope options and malformed files (nothing sent),
against the real kernel (read back with ``ip -j``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
FILE = """# desired state of v0
addr add 198.51.100.1/24 dev v0
addr replace 2001:db8::1/64 dev v0 nodad
a add 203.0.113.1/24 dev v0 label v0:web
route add 192.0.2.0/24 via 198.51.100.254 dev v0
"""


def cli(kns: Any, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    r: subprocess.CompletedProcess[str] = kns.ns.run(
        [sys.executable, "-m", "nlcore", *args], env=ENV, input=stdin, timeout=300)
    return r


def v4(kns: Any, dev: str = "v0") -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for link in kns.ip_json("-4", "addr", "show",
                                                                     "dev", dev)
            for a in link["addr_info"]}


@pytest.mark.kernel
def test_sync_json_dry_run_then_real_then_idempotent(kns: Any) -> None:
    kns.ns.run(["ip", "addr", "add", "198.51.100.9/24", "dev", "v0"], check=True)
    r = cli(kns, "-j", "sync", "-", "--dry-run", stdin=FILE)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert {k: plan[k] for k in ("added", "removed", "changed", "unchanged", "failed")} == {
        "added": 4, "removed": 1, "changed": 0, "unchanged": 0, "failed": 0}
    assert plan["dry_run"] and [c["status"] for c in plan["changes"]] == ["planned"] * 5
    assert v4(kns) == {"198.51.100.9/24"}
    r = cli(kns, "-j", "sync", "-", stdin=FILE)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["added"], out["removed"], out["ok"]) == (4, 1, True)
    assert {c["item"] for c in out["changes"] if c["action"] == "remove"} == {
        "198.51.100.9/24 dev v0"}
    assert v4(kns) == {"198.51.100.1/24", "203.0.113.1/24"}
    (route,) = kns.ip_json("route", "show", "192.0.2.0/24")
    assert route["gateway"] == "198.51.100.254"
    r = cli(kns, "sync", "-", stdin=FILE)
    assert r.returncode == 0 and r.stdout.strip() == (
        "0 added, 0 removed, 0 changed, 4 unchanged, 0 failed")


@pytest.mark.kernel
def test_dev_option_empties_another_device_and_malformed_file_sends_nothing(kns: Any) -> None:
    kns.ns.run(["ip", "addr", "add", "192.0.2.1/24", "dev", "v1"], check=True)
    bad = FILE + "addr add 198.51.100.300/24 dev v0\naddr del 198.51.100.1/24 dev v0\n"
    r = cli(kns, "sync", "-", stdin=bad)
    assert r.returncode == 1 and "nothing was changed" in r.stderr
    assert "<stdin>:6:" in r.stderr and "<stdin>:7:" in r.stderr and "not del" in r.stderr
    assert v4(kns) == set() and v4(kns, "v1") == {"192.0.2.1/24"}
    r = cli(kns, "-4", "-j", "sync", "-", "--dev", "v1", stdin="addr add 198.51.100.1/24 dev v0\n")
    assert r.returncode == 0, r.stderr
    assert v4(kns, "v1") == set() and v4(kns) == {"198.51.100.1/24"}
    r = cli(kns, "sync", "-", "--bogus", stdin="")
    assert r.returncode == 2


@pytest.mark.kernel
def test_sync_file_with_link_and_neigh_lines(kns: Any) -> None:
    data = ("link set dev v0 mtu 1400\naddr add 198.51.100.1/24 dev v0\n"
            "neigh add 198.51.100.5 lladdr 02:00:00:00:00:05 dev v0\n")
    r = cli(kns, "-j", "sync", "-", stdin=data)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [(c["kind"], c["action"]) for c in out["changes"]] == [
        ("link", "change"), ("addr", "add"), ("neigh", "add")]
    assert kns.ip_json("link", "show", "v0")[0]["mtu"] == 1400
    (n,) = kns.ip_json("neigh", "show", "198.51.100.5", "dev", "v0")
    assert n["lladdr"] == "02:00:00:00:00:05" and "PERMANENT" in n["state"]
    again = json.loads(cli(kns, "-j", "sync", "-", stdin=data).stdout)
    assert (again["unchanged"], again["changes"]) == (3, [])
