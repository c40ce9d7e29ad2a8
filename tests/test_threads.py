"""Threads: 8 threads applying 5,000 addresses each (in chunks, so they interleave) through
their own Conns or one shared Conn give exactly 40,000 correct results and the exact kernel
state; on the shared Conn a dump taken between chunks always sees, per device, exactly the
chunks applied so far (the Conn's lock makes each exchange atomic), and requests from many
threads each get their own answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Callable

import pytest
from test_overload import Lab, deleting, expected, throwaway

from nlcore.codec import consts as C
from nlcore.codec.decode import AddrMsg
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_getaddr
from nlcore.net.conn import Conn
from nlcore.ops.engine import Report, apply
from nlcore.ops.link import get_link

pytestmark = pytest.mark.kernel
THREADS, PER_THREAD, CHUNK = 8, 5000, 250
BATCH = 10  # many small sends and drains: many native calls to interleave


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A namespace with one device per thread."""
    env = Lab(throwaway(), ndev=THREADS)
    try:
        yield env
    finally:
        env.close()


def run_threads(target: Callable[[int], None], n: int = THREADS) -> None:
    """Start ``n`` threads together (barrier), join them, re-raise the first failure."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def wrap(k: int) -> None:
        try:
            barrier.wait()
            target(k)
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    ts = [threading.Thread(target=wrap, args=(k,), name=f"applier-{k}") for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
        assert not t.is_alive(), f"{t.name} hung"
    if errors:
        raise errors[0]


def apply_in_chunks(conn: Conn, specs: list[AddrSpec], log: list[int], k: int) -> list[Report]:
    """Apply ``specs`` CHUNK at a time, logging ``k`` after each chunk."""
    out = []
    for i in range(0, len(specs), CHUNK):
        out.append(apply(specs[i:i + CHUNK], conn, batch=BATCH))
        log.append(k)
    return out


def check(reports: dict[int, list[Report]], specs: dict[int, list[AddrSpec]]) -> None:
    """Exactly 40,000 results, each the ok of its own spec, in order."""
    total = 0
    for k, rs in reports.items():
        got = [r for rep in rs for r in rep]
        assert [r.spec for r in got] == specs[k]
        assert all(r.status == "ok" and not r.resolved for r in got), \
            [r for r in got if r.status != "ok"][:3]
        total += len(got)
    assert total == THREADS * PER_THREAD


@pytest.mark.parametrize("shared", [False, True], ids=["own-conn", "shared-conn"])
def test_8_threads_x_5000_addresses(lab: Lab, shared: bool) -> None:
    specs = {k: lab.specs(PER_THREAD, devs=range(k, k + 1)) for k in range(THREADS)}
    reports: dict[int, list[Report]] = {}
    log: list[int] = []

    def work(k: int) -> None:
        conn = lab.conn if shared else Conn(ns=lab.ns)
        try:
            reports[k] = apply_in_chunks(conn, specs[k], log, k)
        finally:
            if not shared:
                conn.close()

    run_threads(work)
    check(reports, specs)
    everything = [s for k in range(THREADS) for s in specs[k]]
    assert lab.kernel() == expected(everything)
    switches = sum(1 for a, b in zip(log, log[1:]) if a != b)
    assert switches >= THREADS, f"the threads did not interleave: {switches} switches"

    removed: dict[int, list[Report]] = {}

    def undo(k: int) -> None:
        conn = lab.conn if shared else Conn(ns=lab.ns)
        try:
            removed[k] = apply_in_chunks(conn, deleting(specs[k]), [], k)
        finally:
            if not shared:
                conn.close()

    run_threads(undo)
    check(removed, {k: deleting(v) for k, v in specs.items()})
    assert lab.kernel() == set()
    assert lab.conn.stats.unknown_seq == lab.conn.stats.duplicates == 0


def test_dumps_on_a_shared_conn_see_whole_chunks_only(lab: Lab) -> None:
    """A 9th thread dumps through the same Conn while 8 apply: every snapshot holds, per
    device, exactly the first j chunks of that device's specs for some j."""
    specs = {k: lab.specs(2000, devs=range(k, k + 1)) for k in range(THREADS)}
    prefixes = {k: {len(specs[k][:j]): expected(specs[k][:j])
                    for j in range(0, 2001, CHUNK)} for k in range(THREADS)}
    names = {idx: name for name, idx in lab.devs}
    snapshots: list[set[tuple[str, str, int]]] = []
    done = threading.Event()
    reports: dict[int, list[Report]] = {}

    def work(k: int) -> None:
        if k == THREADS:
            while not done.is_set() or not snapshots:
                snapshots.append({(names[m.index], str(m.local), m.prefixlen)
                                  for m in lab.conn.request(encode_getaddr(C.AF_INET))
                                  if isinstance(m, AddrMsg)})
            return
        try:
            reports[k] = apply_in_chunks(lab.conn, specs[k], [], k)
        finally:
            if len(reports) == THREADS:
                done.set()

    run_threads(work, THREADS + 1)
    sizes = sorted({len(snap) for snap in snapshots})
    assert len(sizes) >= 3, f"the dumps did not interleave with the applies: sizes {sizes}"
    for snap in snapshots:
        for k in range(THREADS):
            mine = {a for a in snap if a[0] == lab.devs[k][0]}
            assert mine in prefixes[k].values(), f"device {k}: {len(mine)} addresses"
    # the last snapshot may have started before the last chunk landed: read once more
    final = {(names[m.index], str(m.local), m.prefixlen)
             for m in lab.conn.request(encode_getaddr(C.AF_INET)) if isinstance(m, AddrMsg)}
    assert final == expected([s for v in specs.values() for s in v])


def test_requests_from_many_threads_get_their_own_answers(lab: Lab) -> None:
    """8 threads x 300 RTM_GETLINKs through one Conn: each reply names the asked device."""
    def ask(k: int) -> None:
        name, idx = lab.devs[k]
        for _ in range(300):
            link = get_link(lab.conn, index=idx)
            assert (link.index, link.ifname) == (idx, name)

    run_threads(ask)
    assert lab.conn.stats.unknown_seq == lab.conn.stats.duplicates == 0
