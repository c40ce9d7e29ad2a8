"""The -batch fast path (codec.bulk_batch + nlc_batch_scan): native == pure, and the same
specs (records, lines) and the same per-line errors as the careful reader (parse_batch)
for any mix of lines; windows never cut a continued command; memory stays bounded."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from _util import need_backend
from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.cli.batch import Names, other_spec, parse_window
from nlcore.cli.common import Globals, UserError
from nlcore.codec import bulk as B
from nlcore.codec import bulk_batch as BB
from nlcore.codec.batchfile import AddrCommand, parse_batch
from nlcore.codec.spec import AddrSpec

REPO = Path(__file__).resolve().parents[1]
DEVS = {"v0": 5, "v1": 6, "eth-x": 9}


def lookup(name: str) -> int:
    if name in DEVS:
        return DEVS[name]
    raise UserError(f'Cannot find device "{name}"')


def careful(data: bytes, family: int) -> tuple[list[Any], list[Any]]:
    """(lineno, record) of every good line and (lineno, kind, message) of every bad one, by
    the line-at-a-time reader (what -batch did before the fast path)."""
    goods, bads = [], []
    g = Globals()
    g.family = family
    names = Names(lookup)
    for b in parse_batch(data, family):
        cmd = b.command
        if cmd is None:
            bads.append((b.lineno, "malformed", b.error))
            continue
        if not isinstance(cmd, AddrCommand):  # route/neigh/link lines: the families' path
            got = other_spec(g, names, cmd)
            if isinstance(got, tuple):
                bads.append((b.lineno, got[0], got[1]))
            else:
                goods.append((b.lineno, got, b.text))
            continue
        where: int | str = cmd.index if cmd.index is not None else (
            DEVS.get(str(cmd.dev), f'Cannot find device "{cmd.dev}"'))
        try:
            spec = cmd.spec(where if isinstance(where, int) else 0)
            if family and spec.family != family:
                want = "IPv4 (-4)" if family == 2 else "IPv6 (-6)"
                raise ValueError(f"address {cmd.kwargs['address']!r} is not {want}")
        except ValueError as e:
            bads.append((b.lineno, "malformed", str(e)))
            continue
        if isinstance(where, str):
            bads.append((b.lineno, "failed", where))
            continue
        goods.append((b.lineno, spec.record, b.text))
    return goods, bads


def fast(data: bytes, family: int, window: int) -> tuple[list[Any], list[Any]]:
    g = Globals()
    g.family = family
    names = Names(lookup)
    goods, bads = [], []
    for first, text in BB.iter_windows(io.BytesIO(data), window):
        problems: list[Any] = []
        _n, specs = parse_window(g, names, first, text, problems)
        got: list[Any] = []
        for i in range(len(specs)):
            spec = specs[i]
            if isinstance(spec, AddrSpec):  # the lazy AddrSpec is the request the scan made
                got.append((specs.lineno(i), spec.record, specs.text(i)))
            else:  # route/neigh/link lines: the spec itself, in line order
                got.append((specs.lineno(i), spec, specs.text(i)))
        goods += sorted(got, key=lambda x: x[0])
        bads += sorted((p[0], p[1], p[3]) for p in problems)
    return goods, bads


_addr = st.sampled_from(["198.51.100.1/24", "198.51.100.300/24", "2001:db8::1/64",
                         "2001:db8::1/129", "127.0.0.1/8", "203.0.113.5", "1.2.3", "fe80::1",
                         "198.51.100.7/024", "dead::beef", "x.y"])
_word = st.sampled_from(["a", "addr", "address", "addre", "ad", "ax", "rule"])  # rule: not run
_op = st.sampled_from(["add", "a", "del", "d", "delete", "r", "replace", "change", "show", "x"])
_dev = st.sampled_from(["v0", "v1", "eth-x", "nope", "a/b", "0123456789abcdef", "."])
_flags = st.lists(st.sampled_from(["nodad", "home", "noprefixroute", "optimistic",
                                   "mngtmpaddr", "autojoin", "label", "bogus"]), max_size=3)
_fast_line = st.builds(lambda w, o, a, d, f, sp: sp.join([w, o, a, "dev", d, *f]),
                       _word, _op, _addr, _dev, _flags, st.sampled_from([" ", "  ", "\t"]))
_odd = st.sampled_from(["", "   ", "# comment", "addr add 198.51.100.9/24 dev v0 # c",
                        "addr add 198.51.100.9/24 \\", "dev v1", "addr add '198.51.100.8' dev v0",
                        "addr add 198.51.100.8 dev v0 metric 5",
                        "addr add 198.51.100.8 label v0:1 dev v0",
                        "addr add \xe9 dev v0", "addr add 198.51.100.8 dev v0\r", "\x1caddr",
                        "addr add 198.51.100.8 index 7", "addr add 198.51.100.8 dev v0 dev v1"])
_lines = st.lists(st.one_of(_fast_line, _fast_line, _odd), max_size=25)


@settings(max_examples=400, deadline=None)
@given(_lines, st.sampled_from([0, 2, 10]), st.sampled_from([8, 64, 1 << 20]),
       st.booleans())
def test_fast_path_equals_the_careful_reader(lines: list[str], family: int,
                                             window: int, trailing: bool) -> None:
    need_backend(B.load, "native")
    data = ("\n".join(lines) + ("\n" if trailing else "")).encode()
    assert fast(data, family, window) == careful(data, family)


@settings(max_examples=300, deadline=None)
@given(_lines, st.sampled_from([0, 2, 10]))
def test_native_scan_equals_pure(lines: list[str], family: int) -> None:
    need_backend(B.load, "native")
    text = "\n".join(lines).encode()
    names = [b"v0", b"v1", b"v0"]
    index = B.array("I", [5, 6, 7])
    assert BB.scan(text, names, index, family, "native") == \
        BB.scan(text, names, index, family, "pure")


def test_scan_words_match_the_careful_reader() -> None:
    """The C knows ip addr's abbreviations of add/delete/replace and the flag words."""
    from nlcore.codec.batchfile import addr_command
    from nlcore.codec.spec import FLAG_WORDS, parse_flags

    need_backend(B.load, "native")
    for op in ("add", "delete", "replace", "change", "show", "list", "flush"):
        for k in range(1, len(op) + 1):
            line = f"addr {op[:k]} 198.51.100.1/24 dev v0".encode()
            recs, _l, _slow, _n = BB.scan(line, [b"v0"], B.array("I", [5]), 0, "native")
            try:
                want = addr_command(op[:k])
            except ValueError:
                want = None
            assert bool(recs) == (want in ("add", "del", "replace")), op[:k]
    for word in FLAG_WORDS:
        recs, *_ = BB.scan(f"a a 2001:db8::1 dev v0 {word}".encode(), [b"v0"],
                           B.array("I", [5]), 0, "native")
        assert int.from_bytes(recs[12:16], "little") == parse_flags(word)


def test_windows_never_cut_a_continuation() -> None:
    lines = [f"addr add 198.51.100.{i % 250}/24 \\" if i % 3 == 0 else
             f"dev v{i % 2}" for i in range(1, 2000)]
    data = "\n".join(lines).encode()
    got, line = [], 1
    for first, text in BB.iter_windows(io.BytesIO(data), 100):
        assert first == line
        assert not BB.continues(text.rsplit(b"\n", 1)[-1]) or first + text.count(b"\n") == 1999
        got.append(text)
        line += text.count(b"\n") + 1
    assert b"\n".join(got) == data


@pytest.mark.kernel
@pytest.mark.skipif(os.environ.get("NLCORE_SLOW") != "1", reason="slow (NLCORE_SLOW=1): "
                    "a 1,000,000-line file applied in a namespace")
def test_a_million_lines_in_bounded_memory(tmp_path: Path) -> None:
    """The whole run stays under 100 MB peak RSS (the file alone is ~45 MB, its records as
    one buffer would be 96 MB): add then delete the same 1,000 addresses, 500 times."""
    from nlcore.net.netns import ThrowawayNetns

    path = tmp_path / "big.batch"
    with open(path, "w") as f:
        for _r in range(500):
            for op in ("add", "del"):
                f.writelines(f"addr {op} 198.18.{i >> 8}.{i & 255}/32 dev v0\n"
                             for i in range(1000))
    try:
        ns = ThrowawayNetns()
    except OSError as exc:
        pytest.skip(f"no throwaway network namespace possible here: {exc}")
    with ns:
        ns.run(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=True)
        # VmHWM, not ru_maxrss: Linux carries the pre-exec peak (the forking pytest's, ~290 MB
        # late in a full run) into ru_maxrss, so only the new address space's own peak is fair.
        code = ("import sys\nfrom nlcore.cli.main import main\nrc = main(sys.argv[1:])\n"
                "print(next(l.split()[1] for l in open('/proc/self/status') "
                "if l.startswith('VmHWM:')))\nsys.exit(rc)\n")
        done = ns.run([sys.executable, "-c", code, "-batch", str(path)], check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_kib = int(done.stdout.split()[-1])
    assert peak_kib < 100 * 1024, f"peak RSS {peak_kib} KiB"
