"""``nlcore -batch``: the ``ip -batch`` syntax (unit), the same kernel state as ``ip -force -batch``
on the same files, and a 100,000-line file with 1 line in 100 malformed."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from _util import throwaway

from nlcore.codec.batchfile import (
    CommandError,
    addr_command,
    iter_commands,
    parse_addr_args,
    parse_batch,
    split_words,
)
from nlcore.codec.errors import SpecError
from nlcore.net.netns import ThrowawayNetns

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
State = set[tuple[int, str, int, str]]


# ---------------------------------------------------------------------------- syntax (unit)
def test_abbreviations_follow_iproute2() -> None:
    assert [addr_command(w) for w in ("a", "ad", "add", "d", "del", "delete", "r", "repl",
                                      "replace", "s", "show", "l", "list", "lst")] == \
        ["add"] * 3 + ["del"] * 3 + ["replace"] * 3 + ["show"] * 5
    for w in ("c", "change", "chg", "f", "flush", "sa", "res"):
        with pytest.raises(CommandError, match="not supported"):
            addr_command(w)
    with pytest.raises(CommandError, match='"x"'):
        addr_command("x")
    for obj in ("a", "ad", "addr", "address"):
        (b,) = parse_batch(f"{obj} a 198.51.100.1/24 dev v0".encode())
        assert b.command is not None and b.command.op == "add"
    (b,) = parse_batch(b"addrl add 198.51.100.1/24 dev v0")  # ip's addrlabel, not address
    assert b.command is None and 'unknown object "addrl"' in str(b.error)


@pytest.mark.parametrize("words,key,value", [
    (["p", "5"], "metric", 5), (["pri", "5"], "metric", 5), (["pref", "5"], "metric", 5),
    (["prefer", "5"], "metric", 5), (["preference", "5"], "metric", 5), (["me", "5"], "metric", 5),
    (["preferr", "50"], "preferred_lft", "50"), (["preferred", "50"], "preferred_lft", "50"),
    (["v", "100"], "valid_lft", "100"), (["valid_lft", "forever"], "valid_lft", "forever"),
    (["b", "+"], "broadcast", "+"), (["brd", "-"], "broadcast", "-"),
    (["broadcast", "198.51.100.255"], "broadcast", "198.51.100.255"),
    (["remote", "198.51.100.9/24"], "peer", "198.51.100.9/24"),
    (["proto", "kernel_ll"], "proto", 3), (["proto", "7"], "proto", 7),
    (["scope", "link"], "scope", "link"), (["label", "v0:1"], "label", "v0:1"),
    (["nodad", "home", "optimistic"], "flags", "nodad home optimistic"),
])
def test_keywords_and_their_abbreviations(words: list[str], key: str, value: object) -> None:
    # ip's order of checks: metric/priority/preference win over preferred_lft for "p", "pref"
    cmd = parse_addr_args("add", ["198.51.100.1/24", "dev", "v0", *words])
    assert cmd.kwargs[key] == value and cmd.dev == "v0"


def test_peer_first_puts_ifa_address_first_like_ip() -> None:
    cmd = parse_addr_args("replace", ["peer", "fe80::1/64", "fe80::1", "dev", "v0"])
    assert cmd.kwargs == {"peer": "fe80::1/64", "address_first": True, "address": "fe80::1"}
    cmd = parse_addr_args("add", ["local", "198.51.100.1", "peer", "198.51.100.2/32", "index", "4"])
    assert cmd.kwargs == {"address": "198.51.100.1", "peer": "198.51.100.2/32"}
    assert cmd.index == 4 and cmd.spec().index == 4


@pytest.mark.parametrize("words,error", [
    (["198.51.100.1/24"], CommandError), (["dev", "v0"], CommandError),
    (["198.51.100.1/24", "dev"], CommandError), (["198.51.100.1/24", "dev", "v0", "x"], SpecError),
    (["198.51.100.1/24", "dev", "v0", "metric", "x"], SpecError),
    (["198.51.100.1/24", "dev", "v0" * 8], SpecError),
    (["198.51.100.1/24", "dev", "v0", "label", "a", "label", "b"], CommandError),
])
def test_argument_errors(words: list[str], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_addr_args("add", words)


def test_lines_comments_continuations_quotes() -> None:
    data = (b"# header\n"                                           # 1
            b"\n"                                                   # 2
            b"a add 198.51.100.1/24 dev v0 # trailing comment\n"   # 3
            b"addr add 198.51.100.2/24 \\\n"                        # 4
            b"   dev v0 label 'v0:q'\n"                             # 5
            b"   \t  \n"                                            # 6
            b'address add 198.51.100.3/24 dev "v0" label v0#cut\n'  # 7
            b"addr add 198.51.100.4/24 dev v0 label \"v0:x\n"       # 8: unterminated
            b"addr add \xff\n"                                      # 9: not UTF-8
            b"addr add 198.51.100.5/24 dev v0\r\n")                 # 10: CRLF
    lines = parse_batch(data)
    assert [b.lineno for b in lines] == [3, 4, 7, 8, 9, 10]
    ok = [b for b in lines if b.command]
    assert [b.command.kwargs.get("label") for b in ok if b.command] == [None, "v0:q", "v0", None]
    assert [b.text for b in ok][1] == "addr add 198.51.100.2/24 dev v0 label 'v0:q'"
    assert "unterminated" in str(lines[3].error) and "UTF-8" in str(lines[4].error)
    assert split_words("a 'b c' \"d\"") == ["a", "b c", "d"]
    assert list(iter_commands(b"addr add x \\")) == [(1, "addr add x", "")]


# ---------------------------------------------------------------------------- real kernel
def _links(ns: ThrowawayNetns, pairs: int) -> None:
    script = "".join(f"link add d{i} type veth peer name e{i}\n" for i in range(pairs))
    r = ns.run(["ip", "-batch", "-"], input=script)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def two_ns() -> Iterator[tuple[ThrowawayNetns, ThrowawayNetns]]:
    """Two namespaces set up identically (same ifindexes): d0<->e0, d1<->e1, left down."""
    a = throwaway()
    with a, throwaway() as b:
        _links(a, 2)
        _links(b, 2)
        yield a, b


def state(ns: ThrowawayNetns) -> State:
    """{(ifindex, local, prefixlen, label)} as ``ip -j addr show`` reports it."""
    r = ns.run(["ip", "-j", "addr", "show"])
    assert r.returncode == 0, r.stderr
    return {(link["ifindex"], a["local"], a["prefixlen"], a.get("label", ""))
            for link in json.loads(r.stdout) for a in link["addr_info"] if link["ifname"] != "lo"}


def nlcore_batch(ns: ThrowawayNetns, *args: str, stdin: str | None = None
                 ) -> subprocess.CompletedProcess[str]:
    r: subprocess.CompletedProcess[str] = ns.run([sys.executable, "-m", "nlcore", *args],
                                                 env=ENV, input=stdin, timeout=600)
    return r


def v4(i: int) -> str:
    return str(ipaddress.IPv4Address("198.18.0.0") + i)


def mixed_file(n: int = 2000) -> list[str]:
    """``n`` lines of every command form: v4 /32s and /24s with labels on two devices, v6
    nodad, deletes and replaces of earlier lines, comments and blank lines."""
    out: list[str] = []
    objs = ("a", "addr", "address")
    c = 0
    for i in range(n):
        k = i % 20
        dev = f"d{i % 2}"
        if k == 0:
            out.append(f"# block {i}" if i % 40 else "")
        elif k < 10:
            out.append(f"{objs[i % 3]} add {v4(i)}/32 dev {dev}")
        elif k < 13:
            c += 1
            out.append(f"addr a 203.0.113.{c}/24 dev {dev} label {dev}:{k} brd +" if c < 250
                       else f"addr add 198.51.100.{c - 249}/24 dev {dev}")
        elif k < 16:
            out.append(f"a add 2001:db8::{i:x}/64 dev {dev} nodad")
        elif k < 18:
            out.append(f"addr del {v4(i - 10)}/32 dev d{(i - 10) % 2}")
        else:
            out.append(f"a r {v4(i - 15)}/32 dev d{(i - 15) % 2} metric {k}")
    return out


def test_batch_matches_ip_batch_on_2000_lines(two_ns: tuple[ThrowawayNetns, ThrowawayNetns],
                                              tmp_path: Path) -> None:
    a, b = two_ns
    f = tmp_path / "batch.txt"
    lines = mixed_file()
    assert len(lines) == 2000
    f.write_text("\n".join(lines) + "\n")
    r_ip = a.run(["ip", "-batch", str(f)])
    assert (r_ip.returncode, r_ip.stderr) == (0, "")
    r = nlcore_batch(b, "-batch", str(f))
    assert (r.returncode, r.stderr, r.stdout) == (0, "", "")
    want = state(a)
    assert len(want) > 1200
    assert state(b) == want


def test_failures_match_ip_force_batch_line_for_line(
        two_ns: tuple[ThrowawayNetns, ThrowawayNetns], tmp_path: Path) -> None:
    a, b = two_ns
    lines = mixed_file(600)
    for i in range(3, 600, 37):  # re-add what is there (EEXIST), delete what is not
        lines[i] = f"addr add {v4(i - 2)}/32 dev d{(i - 2) % 2}" if i % 2 else \
            f"addr del 192.0.2.{i % 250 + 1}/24 dev d0"
    f = tmp_path / "batch.txt"
    f.write_text("\n".join(lines) + "\n")
    r_ip = a.run(["ip", "-force", "-batch", str(f)])
    r = nlcore_batch(b, "-batch", str(f))
    ip_failed = [int(n) for n in re.findall(r"Command failed .*:(\d+)$", r_ip.stderr, re.M)]
    mine = [int(n) for n in re.findall(r"^.*batch\.txt:(\d+): failed: ", r.stderr, re.M)]
    assert r_ip.returncode == 1 and r.returncode == 1
    assert len(ip_failed) >= 10 and mine == ip_failed
    assert "(EEXIST): ipv4: Address already assigned" in r.stderr
    assert "(EADDRNOTAVAIL): ipv4: Address not found" in r.stderr
    assert state(b) == state(a)


def test_stdin_json_and_missing_devices(two_ns: tuple[ThrowawayNetns, ThrowawayNetns]) -> None:
    _, b = two_ns
    text = ("addr add 198.51.100.1/24 dev d0\n"
            "addr add 198.51.100.2/24 dev nosuch\n"
            "addr add 198.51.100.3/24 dev d1\n"
            "addr add 198.51.100.1/24 dev d0\n")
    r = nlcore_batch(b, "-j", "-batch", "-", stdin=text)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert (out["commands"], out["applied"]) == (4, 2)
    assert [(f["line"], f["kind"]) for f in out["failures"]] == [(2, "failed"), (4, "failed")]
    assert out["failures"][0]["message"] == 'Cannot find device "nosuch"'
    assert out["failures"][1]["errno"] == "EEXIST" and out["failures"][1]["error"] == -17
    assert out["failures"][1]["extack"] == {"msg": "ipv4: Address already assigned"}
    assert "<stdin>:2: failed: addr add 198.51.100.2/24 dev nosuch: Cannot find device" in r.stderr
    assert {(s[1], s[2]) for s in state(b)} == {("198.51.100.1", 24), ("198.51.100.3", 24)}


BAD_LINES = [
    "addr add {a}/33 dev {d}",
    "addr add 198.18.0.x/32 dev {d}",
    "addr add {a}/32 dev {d} frobnicate",
    "addr add {a}/32 dev {d} label " + "x" * 16,
    "addr add {a}/32 dev {d} valid_lft soon",
    "addr add {a}/32 dev",
    "addr add {a}/32",
    "addr frob {a}/32 dev {d}",
    "link add {a}/32 dev {d}",
    "addr add {a}/32 dev " + "d" * 16,
    "addr add {a}/32 dev {d} preferred_lft 20 valid_lft 10",
]


def test_100k_lines_one_in_100_malformed(tmp_path: Path) -> None:
    # 100 devices: the kernel walks a device's address list on every add (quadratic on one
    # device: 100k /32s on one veth take ~5 min for ip and nlcore alike, see docs/cli.md)
    n, pairs = 100_000, 50
    lines, bad, want = [], set(), set()
    for i in range(n):
        dev, addr = f"{'de'[i % 2]}{i // 2 % pairs}", v4(i)
        if i % 100 == 57:
            lines.append(BAD_LINES[i // 100 % len(BAD_LINES)].format(a=addr, d=dev))
            bad.add(i + 1)
        else:
            lines.append(f"addr add {addr}/32 dev {dev}")
            want.add((dev, addr))
    f = tmp_path / "big.txt"
    f.write_text("\n".join(lines) + "\n")
    with throwaway() as ns:
        _links(ns, pairs)
        t0 = time.monotonic()
        r = nlcore_batch(ns, "-batch", str(f))
        elapsed = time.monotonic() - t0
        print(f"\nnlcore -batch: {n} lines, {len(want)} applied in {elapsed:.1f} s")
        assert r.returncode == 1
        reported = [int(m) for m in re.findall(r"^.*big\.txt:(\d+): malformed: ", r.stderr, re.M)]
        assert len(reported) == len(bad) == 1000 and set(reported) == bad
        assert len(r.stderr.splitlines()) == 1001  # one per bad line, plus the summary
        assert r.stderr.splitlines()[-1] == ("nlcore -batch: 99000 of 100000 commands applied, "
                                             "1000 failed (1000 malformed)")
        links = json.loads(ns.run(["ip", "-j", "addr", "show"]).stdout)
        got = {(link["ifname"], a["local"]) for link in links for a in link["addr_info"]}
        assert all(a["prefixlen"] == 32 for link in links for a in link["addr_info"])
        assert got == want
