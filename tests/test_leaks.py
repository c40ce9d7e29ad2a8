"""No descriptor, thread, process or memory leaks: 10,000 netlink sockets and 1,000 throwaway
namespaces opened and closed leave the fd count (and thread and child count) unchanged, and
so do 1,000 failed opens; 100,000 addresses applied through one Conn grow RSS by less than
50 MB (the figures are printed: run with ``-s``).

The 1,000 user-namespace variant (one holder process each, ~30 s) is ``slow``; 50 of them
always run.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator

import pytest
from _util import throwaway
from test_overload import Lab, expected

from nlcore.codec.wire import encode_getlink
from nlcore.net.conn import Conn
from nlcore.net.netns import ThrowawayNetns
from nlcore.net.transport import NetlinkSocket, fd_count
from nlcore.ops.engine import apply
from nlcore.ops.link import add_veth, links

pytestmark = pytest.mark.kernel
MB = 1 << 20


def rss() -> int:
    """Resident set size of this process, bytes (VmRSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def census() -> tuple[int, int, int]:
    """(open fds, threads, live children) of this process."""
    gc.collect()
    children = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                children += len(f.read().split())
        except FileNotFoundError:  # kernel without CONFIG_PROC_CHILDREN, or the task ended
            pass
    return fd_count(), len(os.listdir("/proc/self/task")), children


@pytest.fixture
def ns() -> Iterator[ThrowawayNetns]:
    """One throwaway namespace."""
    n = throwaway()
    try:
        yield n
    finally:
        n.close()


def test_10000_sockets_opened_and_closed(ns: ThrowawayNetns) -> None:
    """5,000 NetlinkSocket + 5,000 Conn (every 250th used for a request first)."""
    Conn(ns=ns).close()  # warm up: imports, lazily opened namespace fd
    before = census()
    for i in range(5000):
        NetlinkSocket(ns.socket()).close()
        with Conn(ns=ns) as c:
            if i % 250 == 0:
                assert [m.ifname for m in links(c)] == ["lo"]
    assert census() == before


def test_failed_opens_leak_nothing(ns: ThrowawayNetns) -> None:
    """1,000 Conns refused (no such namespace, not a namespace, a closed one) close what
    they opened."""
    closed = throwaway()
    closed.close()
    bad: list[object] = ["/proc/self/ns/uts", "/nonexistent/netns", closed]
    before = census()
    for i in range(1000):
        with pytest.raises((OSError, ValueError)):
            Conn(ns=bad[i % 3])
    assert census() == before


def test_1000_throwaway_namespaces(ns: ThrowawayNetns) -> None:
    """Each with a Conn and a dump; every 10th also gets a veth pair."""
    before = census()
    t0 = time.monotonic()
    for i in range(1000):
        with ThrowawayNetns() as n, Conn(ns=n) as c:
            if i % 10 == 0:
                add_veth(c, "a", "b")
            names = {m.ifname for m in c.request(encode_getlink(dump=True)) if
                     hasattr(m, "ifname")}
            assert names == ({"lo", "a", "b"} if i % 10 == 0 else {"lo"})
    assert census() == before
    assert time.monotonic() - t0 < 60


def _userns_loop(count: int) -> None:
    try:
        ThrowawayNetns(userns=True).close()
    except OSError as exc:
        pytest.skip(f"user namespaces unavailable here: {exc}")
    before = census()
    for _ in range(count):
        with ThrowawayNetns(userns=True) as n, Conn(ns=n) as c:
            assert [m.ifname for m in links(c)] == ["lo"]
    assert census() == before


def test_50_userns_namespaces() -> None:
    """The holder-process mode: no holder, fd or thread outlives its namespace."""
    _userns_loop(50)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("NLCORE_SLOW") != "1", reason="slow (~25 s): NLCORE_SLOW=1")
def test_1000_userns_namespaces() -> None:
    """As above, 1,000 times (~30 s: one holder process each)."""
    _userns_loop(1000)


def test_100k_addresses_in_chunks_rss_growth_under_50mb() -> None:
    """10 applies of 10,000 (80 devices x 125) through one Conn; the kernel ends with exactly
    the 100,000 addresses."""
    lab = Lab(throwaway(), ndev=80)
    try:
        gc.collect()
        start = rss()
        marks = []
        for chunk in range(10):
            specs = lab.specs(125, start=chunk * 125)
            report = apply(specs, lab.conn)
            assert report.counts() == {"ok": 10_000}
            del specs, report
            gc.collect()
            marks.append(rss())
        growth, steady = marks[-1] - start, marks[-1] - marks[0]
        print(f"\nRSS chunked 100k: start {start / MB:.1f} MB, after each chunk "
              f"{[round(m / MB, 1) for m in marks]} MB; growth {growth / MB:.1f} MB, "
              f"after the first chunk {steady / MB:.1f} MB")
        assert growth < 50 * MB
        assert lab.kernel() == expected(lab.specs(1250))
    finally:
        lab.close()


def test_100k_addresses_in_one_apply_rss_growth_under_50mb() -> None:
    """One apply() of 100,000 specs (80 devices): what the engine adds on top of the specs
    (buffers, status arrays, the report) stays under 50 MB."""
    lab = Lab(throwaway(), ndev=80)
    try:
        specs = lab.specs(1250)
        gc.collect()
        before = rss()
        report = apply(specs, lab.conn)
        gc.collect()
        growth = rss() - before
        print(f"\nRSS one apply of 100k: specs built {before / MB:.1f} MB, growth "
              f"{growth / MB:.1f} MB")
        assert report.counts() == {"ok": 100_000}
        assert growth < 50 * MB
    finally:
        lab.close()
