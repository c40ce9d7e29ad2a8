"""iproute2 habits: ``-V``, ``-br``, ``-p``, ``-4``/``-6`` filtering, ``addr show`` link lines and
``-j`` link keys equal to ``ip``'s (read in the same throwaway namespace), one-line usage errors,
and ``-n NETNS`` before ``inject`` (the command runs inside NETNS)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nlcore
from nlcore.cli.main import main

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
LINK_KEYS = ("ifindex", "link", "ifname", "flags", "mtu", "qdisc", "operstate", "group",
             "txqlen", "link_type", "address", "broadcast")


def cli(kns: Any, *args: str) -> subprocess.CompletedProcess[str]:
    r: subprocess.CompletedProcess[str] = kns.ns.run([sys.executable, "-m", "nlcore", *args],
                                                     env=ENV, timeout=300)
    return r


def ip(kns: Any, *args: str) -> str:
    out: str = kns.ns.run(["ip", *args], check=True).stdout
    return out


@pytest.mark.parametrize("opt", ["-V", "-Version", "--version"])
def test_version_names_the_backend(opt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([opt]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"nlcore {nlcore.__version__} (backend {nlcore.BACKEND}")
    assert len(out.splitlines()) == 1


def test_link_lines_and_json_keys_equal_ip(kns: Any) -> None:
    ip(kns, "addr", "add", "192.0.2.1/24", "dev", "v0")
    ip(kns, "link", "set", "v1", "down")  # v0: LOWERLAYERDOWN, NO-CARRIER; v1: M-DOWN on v0
    for dev in ("v0", "v1", "lo"):
        mine = cli(kns, "addr", "show", "dev", dev).stdout.splitlines()
        theirs = ip(kns, "addr", "show", "dev", dev).splitlines()
        assert mine[:2] == theirs[:2], dev  # "3: v0@v1: <...> mtu ... state ... qlen" + link/
        (mj,) = json.loads(cli(kns, "-j", "addr", "show", "dev", dev).stdout)
        (tj,) = json.loads(ip(kns, "-j", "addr", "show", "dev", dev))
        assert {k: mj.get(k) for k in LINK_KEYS} == {k: tj.get(k) for k in LINK_KEYS}, dev
    assert "LOWERLAYERDOWN" in cli(kns, "addr", "show", "dev", "v0").stdout


def test_family_filter_lists_only_devices_with_such_addresses(kns: Any) -> None:
    ip(kns, "addr", "add", "198.51.100.9/24", "dev", "v1")
    for fam in ("-4", "-6"):
        mine = cli(kns, fam, "addr", "show").stdout
        theirs = ip(kns, fam, "addr", "show")
        heads = [ln.split(":")[1].strip() for ln in mine.splitlines() if ln[:1].isdigit()]
        want = [ln.split(":")[1].strip() for ln in theirs.splitlines() if ln[:1].isdigit()]
        assert heads == want, fam
        assert "link/ether" not in mine  # as ip: no link-layer line under a family filter
    v4 = [d["ifname"] for d in json.loads(cli(kns, "-4", "-j", "addr").stdout)]
    assert v4 == ["v1"]


def test_brief_equals_ip_brief(kns: Any) -> None:
    ip(kns, "addr", "add", "203.0.113.5/24", "dev", "v0")
    assert cli(kns, "-4", "-br", "addr").stdout == ip(kns, "-4", "-br", "addr")
    mine = json.loads(cli(kns, "-4", "-br", "-j", "addr").stdout)
    assert mine == json.loads(ip(kns, "-4", "-br", "-j", "addr"))


def test_pretty_json_is_the_same_document(kns: Any) -> None:
    pretty = cli(kns, "-j", "-p", "addr", "show", "dev", "lo").stdout
    assert pretty.startswith("[\n    {") and json.loads(pretty)[0]["ifname"] == "lo"


@pytest.mark.parametrize("argv", [["-x"], ["addr", "frob"], ["-j", "inject", "true"],
                                  ["decode", "--nope"]])
def test_usage_error_is_one_line_and_a_hint(argv: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.endswith("(try: nlcore help)\n")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="-n needs a /run/netns entry: made only inside a private mount "
                           "namespace (unshare -m), which needs root")
def test_netns_before_inject_runs_the_command_inside(kns: Any) -> None:
    py = sys.executable
    rule = "RTM_NEWADDR family=inet6"
    script = ("set -e; mount -t tmpfs tmpfs /run; mkdir /run/netns; touch /run/netns/t; "
              'mount --bind "$NS" /run/netns/t; '
              f'"{py}" -m nlcore -n t inject --match "{rule}" -- ip -j link show dev v0; '
              f'! "{py}" -m nlcore -n t inject --match "{rule}" -- '
              "ip addr add 2001:db8::5/64 dev v0 2>/run/err; cat /run/err >&2")
    r = subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=300,
                       env={**ENV, "NS": kns.ns.path}, pass_fds=(kns.ns.fd(),))
    assert r.returncode == 0, r.stderr
    (link,) = json.loads(r.stdout)  # v0 exists only inside the namespace
    assert (link["ifname"], link["ifindex"]) == ("v0", kns.v0)
    assert "Permission denied" in r.stderr
    assert ("2001:db8::5", 64) not in kns.addrs()  # the injected refusal kept it out
