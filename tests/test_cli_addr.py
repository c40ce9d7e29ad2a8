"""``nlcore addr``: add/show/del against the real kernel (read back with ``ip -j``), exit codes and
messages like iproute2's, ``--dry-run`` bytes equal to what ``ip`` sends, ``-n NETNS`` inside a
private mount namespace, bad values (exit 1) and usage errors (exit 2), and subcommand dispatch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nlcore.net.conn
from nlcore.cli.main import main

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
LL = "fe80::c44c:1cff:fe84:f6b7"


def cli(kns: Any, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m nlcore ARGS`` inside the test's namespace."""
    r: subprocess.CompletedProcess[str] = kns.ns.run([sys.executable, "-m", "nlcore", *args],
                                                     env=ENV, input=stdin, timeout=300)
    return r


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (and no traceback)."""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def ours(addr_info: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop what nlcore prints and iproute2 6.1 does not: ``protocol`` (IFA_PROTO)."""
    return [{k: v for k, v in a.items() if k != "protocol"} for a in addr_info]


def inet(link: dict[str, Any]) -> list[dict[str, Any]]:
    """The IPv4 entries of one link of ``ip -j addr``."""
    return [a for a in link["addr_info"] if a["family"] == "inet"]


@pytest.fixture
def no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a netlink connection fails the test (values are checked first)."""

    def refuse(*a: object, **kw: object) -> None:
        raise AssertionError("the CLI opened a netlink socket")

    monkeypatch.setattr(nlcore.net.conn.Conn, "__init__", refuse)


# ---------------------------------------------------------------------------- real kernel
ADDS = [
    ["198.51.100.1/24", "dev", "v0", "broadcast", "+", "label", "v0:a", "metric", "9"],
    ["198.51.100.2", "peer", "198.51.100.3/32", "dev", "v0"],
    ["203.0.113.7/28", "dev", "v0", "scope", "link", "brd", "203.0.113.15"],
    ["2001:db8::1/64", "dev", "v0", "nodad", "noprefixroute"],
    ["2001:db8:1::5/64", "dev", "v0", "nodad", "mngtmpaddr", "home"],
]


def test_add_show_del_round_trip_matches_ip(kns: Any) -> None:
    before = kns.addrs()
    for words in ADDS:
        r = cli(kns, "addr", "add", *words)
        assert (r.returncode, r.stderr, r.stdout) == (0, "", ""), words
    want = {("198.51.100.1", 24), ("198.51.100.2", 32), ("203.0.113.7", 28),
            ("2001:db8::1", 64), ("2001:db8:1::5", 64)}
    assert kns.addrs() - before == want
    r = cli(kns, "-j", "addr", "show", "dev", "v0")
    assert r.returncode == 0, r.stderr
    (mine,) = json.loads(r.stdout)
    (theirs,) = kns.ip_json("addr", "show", "dev", "v0")
    assert (mine["ifindex"], mine["ifname"], mine["mtu"]) == (kns.v0, "v0", theirs["mtu"])
    # every entry equal, key for key, for the addresses added here (the kernel's own fe80::
    # link-local one may still be finishing DAD, its "tentative" changing between two reads)
    assert [(a["local"], a["prefixlen"]) for a in mine["addr_info"]] == \
        [(a["local"], a["prefixlen"]) for a in theirs["addr_info"]]
    added = {a for a, _ in want}
    assert [a for a in ours(mine["addr_info"]) if a["local"] in added] == \
        [a for a in theirs["addr_info"] if a["local"] in added]
    # the text form: the address lines are ip's own
    text = cli(kns, "addr", "show", "dev", "v0").stdout.splitlines()
    ip_text = kns.ns.run(["ip", "addr", "show", "dev", "v0"]).stdout.splitlines()
    assert text[0].startswith(f"{kns.v0}: v0@v1: <") and "mtu 1500" in text[0]
    lines = [i for i, line in enumerate(ip_text) if any(f" {a}/" in line or f" {a} " in line
                                                       for a in added)]
    assert len(lines) == 5
    for i in lines:
        assert ip_text[i].rstrip() in [t.rstrip() for t in text]
        assert ip_text[i + 1].rstrip() in [t.rstrip() for t in text]
    for words in ADDS:
        r = cli(kns, "addr", "del", *[w for w in words if w not in ("nodad", "home")])
        assert (r.returncode, r.stderr) == (0, ""), words
    assert kns.addrs() == before


def test_addr_show_all_lists_every_link(kns: Any) -> None:
    assert cli(kns, "addr", "add", "198.51.100.9/24", "dev", "v1").returncode == 0
    mine = json.loads(cli(kns, "-j", "addr").stdout)
    theirs = kns.ip_json("addr", "show")
    assert [(x["ifindex"], x["ifname"]) for x in mine] == \
        [(x["ifindex"], x["ifname"]) for x in theirs]
    # IPv4 entries key for key (IPv6 link-locals may still be in DAD: "tentative" changes)
    assert [ours(inet(x)) for x in mine] == [inet(x) for x in theirs]
    assert [[a["local"] for a in x["addr_info"]] for x in mine] == \
        [[a["local"] for a in x["addr_info"]] for x in theirs]
    v4 = json.loads(cli(kns, "-j", "-4", "addr", "show").stdout)
    assert {a["family"] for x in v4 for a in x["addr_info"]} == {"inet"}


def test_kernel_refusals_exit_2_with_the_extack(kns: Any) -> None:
    assert cli(kns, "addr", "add", "198.51.100.1/24", "dev", "v0").returncode == 0
    r = cli(kns, "addr", "add", "198.51.100.1/24", "dev", "v0")
    assert r.returncode == 2
    assert one_line(r) == "RTNETLINK answers: File exists (EEXIST): ipv4: Address already assigned"
    r = cli(kns, "addr", "del", "198.51.100.99/24", "dev", "v0")
    assert r.returncode == 2
    assert one_line(r) == ("RTNETLINK answers: Cannot assign requested address (EADDRNOTAVAIL): "
                           "ipv4: Address not found")
    r = cli(kns, "addr", "add", "198.51.100.5/24", "dev", "v0", "scope", "7")
    assert r.returncode == 2 and "(EINVAL): ipv4: Invalid scope value" in one_line(r)
    r = cli(kns, "addr", "replace", "198.51.100.1/24", "dev", "v0", "metric", "5", "valid_lft",
            "500", "preferred_lft", "400")
    assert (r.returncode, r.stderr) == (0, "")
    (a,) = [a for a in kns.ip_json("addr", "show", "dev", "v0")[0]["addr_info"]
            if a["local"] == "198.51.100.1"]
    assert a["metric"] == 5 and a["dynamic"] and 490 < a["valid_life_time"] <= 500


def test_missing_device_exits_1_like_ip(kns: Any) -> None:
    r = cli(kns, "addr", "add", "198.51.100.1/24", "dev", "nosuch")
    assert r.returncode == 1 and one_line(r) == 'Error: Cannot find device "nosuch"'
    r = cli(kns, "addr", "show", "dev", "nosuch")
    assert r.returncode == 1 and one_line(r) == 'Error: Device "nosuch" does not exist.'


def test_kata_eacces_names_the_device_and_sysctl(kns: Any) -> None:
    kns.ns.write_sysctl("net/ipv6/conf/v0/disable_ipv6", "1")
    r = cli(kns, "-6", "addr", "replace", "peer", f"{LL}/64", LL, "dev", "v0")
    assert r.returncode == 2
    assert one_line(r) == ("RTNETLINK answers: Permission denied (EACCES): ipv6: IPv6 is "
                           "disabled on this device; IPv6 is disabled on v0 "
                           "(net.ipv6.conf.v0.disable_ipv6=1)")


def test_dry_run_with_dev_resolves_the_name_and_sends_nothing(kns: Any) -> None:
    r = cli(kns, "addr", "add", "198.51.100.1/24", "dev", "v0", "--dry-run")
    assert r.returncode == 0, r.stderr
    raw = bytes.fromhex(r.stdout.strip())
    assert int.from_bytes(raw[20:24], "little") == kns.v0
    assert ("198.51.100.1", 24) not in kns.addrs()


# ---------------------------------------------------------------------------- -n NETNS
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="-n needs a /run/netns entry: made only inside a private mount "
                           "namespace (unshare -m), which needs root")
def test_netns_option_in_a_private_mount_namespace(kns: Any) -> None:
    # /run is a fresh tmpfs in a private mount namespace of its own (and the CLI runs in an empty
    # network namespace): the name "t" is visible to nothing else and dies with the shell
    py = sys.executable
    script = ("set -e; mount -t tmpfs tmpfs /run; mkdir /run/netns; touch /run/netns/t; "
              f'mount --bind "$NS" /run/netns/t; '
              f'"{py}" -m nlcore -n t addr add 198.51.100.44/24 dev v0; '
              f'"{py}" -m nlcore -n t -j addr show dev v0; '
              f'! "{py}" -m nlcore -n nosuch addr show 2>/run/err; cat /run/err >&2')
    r = subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=120,
                       env={**ENV, "NS": kns.ns.path}, pass_fds=(kns.ns.fd(),))
    assert r.returncode == 0, r.stderr
    assert one_line(r) == ('Error: Cannot open network namespace "nosuch": No such file or '
                           'directory')
    (shown,) = json.loads(r.stdout)
    assert ("198.51.100.44", 24) in {(a["local"], a["prefixlen"]) for a in shown["addr_info"]}
    assert ("198.51.100.44", 24) in kns.addrs()


# ---------------------------------------------------------------------------- no kernel
def test_dry_run_bytes_equal_what_ip_sends(no_socket: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    golden = json.loads((REPO / "tests" / "golden" / "iproute2.json").read_text())
    cases = [g for g in golden if g["op_type"] in ("RTM_NEWADDR", "RTM_DELADDR")]
    assert len(cases) >= 15
    for g in cases:
        argv = g["argv"][1:]
        i = argv.index("dev")
        argv[i:i + 2] = ["index", str(g["ifindex"]["v0"])]
        assert main([*argv, "--dry-run"]) == 0
        want = bytes.fromhex(g["messages"][g["op_index"]])
        want = want[:8] + bytes(8) + want[16:]  # seq and pid normalised, as --dry-run prints
        assert capsys.readouterr().out.strip() == want.hex(), g["name"]


def test_dry_run_json(no_socket: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-j", "addr", "del", "2001:db8::1/64", "index", "3", "--dry-run"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["message"]["type"] == "RTM_DELADDR" and out["message"]["index"] == 3
    assert out["message"]["attrs"] == [{"type": "IFA_LOCAL", "value": "2001:db8::1"},
                                       {"type": "IFA_ADDRESS", "value": "2001:db8::1"}]
    assert bytes.fromhex(out["hex"])[4:6] == b"\x15\x00"


BAD_VALUES = {
    "address": (["addr", "add", "198.51.100.x/24", "dev", "v0"], "198.51.100.x"),
    "prefix": (["addr", "add", "198.51.100.1/33", "dev", "v0"], "'33'"),
    "prefix-v6": (["addr", "add", "2001:db8::1/129", "dev", "v0"], "'129'"),
    "prefix-text": (["addr", "del", "198.51.100.1/2x", "dev", "v0"], "'2x'"),
    "peer": (["addr", "add", "198.51.100.1", "peer", "2001:db8::1", "dev", "v0"], "2001:db8::1"),
    "ifname-16": (["addr", "add", "198.51.100.1/24", "dev", "a" * 16], "a" * 16),
    "ifname-slash": (["addr", "add", "198.51.100.1/24", "dev", "a/b"], "a/b"),
    "label-16": (["addr", "add", "198.51.100.1/24", "dev", "v0", "label", "v0:" + "x" * 13],
                 "v0:" + "x" * 13),
    "valid_lft": (["addr", "add", "198.51.100.1/24", "dev", "v0", "valid_lft", "soon"], "soon"),
    "lft-order": (["addr", "add", "2001:db8::1/64", "dev", "v0", "valid_lft", "10",
                   "preferred_lft", "20"], "20"),
    "lft-zero": (["addr", "add", "2001:db8::1/64", "dev", "v0", "valid_lft", "0"], "valid_lft 0"),
    "lft-big": (["addr", "add", "2001:db8::1/64", "dev", "v0", "preferred_lft", "4294967296"],
                "4294967296"),
    "flag-word": (["addr", "add", "2001:db8::1/64", "dev", "v0", "nodadd"], "nodadd"),
    "scope": (["addr", "add", "198.51.100.1/24", "dev", "v0", "scope", "galactic"], "galactic"),
    "metric": (["addr", "add", "198.51.100.1/24", "dev", "v0", "metric", "-1"], "-1"),
    "proto": (["addr", "add", "198.51.100.1/24", "dev", "v0", "proto", "256"], "256"),
    "broadcast-v6": (["addr", "add", "2001:db8::1/64", "dev", "v0", "brd", "+"], "'+'"),
    "broadcast": (["addr", "add", "198.51.100.1/24", "dev", "v0", "brd", "1.2.3"], "1.2.3"),
    "index": (["addr", "add", "198.51.100.1/24", "index", "3x", "--dry-run"], "3x"),
    "family": (["-6", "addr", "add", "198.51.100.1/24", "dev", "v0"], "198.51.100.1/24"),
    "netns-dotdot": (["-n", "..", "addr", "show"], "'..'"),
    "netns-slash": (["-n", "a/b", "addr", "show"], "'a/b'"),
    "netns-escape": (["-n", "../../proc/1/ns/net", "addr"], "../../proc/1/ns/net"),
    "netns-empty": (["-n", "", "addr"], "''"),
    "batch-missing": (["-batch", "/nonexistent/batch.txt"], "/nonexistent/batch.txt"),
    "batch-dir": (["-batch", "/"], '"/"'),
}


@pytest.mark.parametrize("argv,value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_values_exit_1_with_one_line_naming_the_value(
        argv: list[str], value: str, no_socket: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and value in err, err


USAGE_ERRORS = {
    "nothing": [],
    "object": ["rule", "show"],
    "option": ["--frobnicate", "addr"],
    "netns-no-value": ["-n"],
    "batch-no-value": ["-batch"],
    "batch-extra": ["-batch", "f", "extra"],
    "command": ["addr", "frob"],
    "change": ["addr", "change", "198.51.100.1/24", "dev", "v0"],
    "no-dev": ["addr", "add", "198.51.100.1/24"],
    "no-address": ["addr", "add", "dev", "v0"],
    "no-value": ["addr", "add", "198.51.100.1/24", "dev", "v0", "label"],
    "dup-dev": ["addr", "add", "198.51.100.1/24", "dev", "v0", "dev", "v1"],
    "dup-peer": ["addr", "add", "198.51.100.1", "peer", "198.51.100.2", "peer", "198.51.100.3",
                 "dev", "v0"],
    "anycast": ["addr", "add", "2001:db8::1/64", "anycast", "2001:db8::", "dev", "v0"],
    "show-extra": ["addr", "show", "dev", "v0", "v1"],
    "decode-netns": ["-n", "x", "decode", "00"],
    "decode-option": ["decode", "--frob", "00"],
}


@pytest.mark.parametrize("argv", USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_exit_2(argv: list[str], no_socket: None,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    # as ip: one line saying what is wrong, and a hint; never the whole usage
    assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("nlcore: ") and err.rstrip().endswith("(try: nlcore help)")
    assert "usage:" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-h"]) == 0 and "nlcore [-n NETNS]" in capsys.readouterr().out


def test_no_traceback_from_the_real_entry_point() -> None:
    for argv in (["addr", "add", "198.51.100.1/33", "dev", "v0"], ["-n", "../x", "addr"],
                 ["-batch", "/nonexistent"]):
        r = subprocess.run([sys.executable, "-m", "nlcore", *argv], capture_output=True,
                           text=True, env=ENV, timeout=60)
        assert r.returncode == 1 and one_line(r).startswith("Error: ") and r.stdout == ""


# ---------------------------------------------------------------------------- dispatch
def test_import_nlcore_does_not_import_the_cli() -> None:
    code = "import nlcore, sys; print(sorted(m for m in sys.modules if 'cli' in m or " \
           "'batchfile' in m))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                       timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


def test_cli_imports_no_subcommand_module_until_used() -> None:
    code = ("import sys; from nlcore.cli.main import main; main(['decode', '00'*16]); "
            "print(sorted(m for m in sys.modules if m.startswith('nlcore.faults') or "
            "m in ('nlcore.bench.job', 'nlcore.ops.engine', 'nlcore.net.conn')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                       timeout=60)
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stderr


@pytest.mark.parametrize("name,module", [("repro", "nlcore.faults.repro"),
                                         ("inject", "nlcore.faults.seccomp.inject"),
                                         ("bench", "nlcore.bench.job")])
def test_dispatch_passes_argv_and_returns_the_status(
        name: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    seen: list[list[str]] = []
    fake = types.ModuleType(module)
    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module, fake)
    assert main([name, "--x", "y"]) == 7 and seen == [["--x", "y"]]


def test_dispatch_to_a_missing_module_exits_1(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "nlcore.faults.repro", None)
    assert main(["repro", "kata-11200"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["Error: nlcore repro is not available: module "
                                "nlcore.faults.repro is missing"]
