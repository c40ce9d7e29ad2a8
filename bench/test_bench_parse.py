"""Ack parse: 100,000 real kernel acks (a third errors with extack) through the native bulk
call, the per-request result path (Conn.collect: a status per request; Report: a Result and,
for errors, a KernelError with extack per request), decode() (a typed message per ack), each
backend, and pyroute2's ``MarshalRtnl().parse``."""

from __future__ import annotations

import errno
from array import array
from typing import Any

import pytest
from conftest import BENCH, need

from nlcore.bench import methods as M
from nlcore.bench import wire as W
from nlcore.codec import _backend

pytestmark = [BENCH, pytest.mark.kernel]
N = 100_000
BACKENDS = ["native", "pure"]
EXPECTED = {4: -errno.ERANGE, 6: -errno.EACCES}


@pytest.fixture(scope="module", params=[4, 6], ids=["v4", "v6"])
def acks(request: Any, bed: M.Bed) -> tuple[int, bytes]:
    """(family, a buffer of N acks with seqs 1..N)."""
    fam: int = request.param
    return fam, W.ack_buffer(W.capture_acks(bed, fam), N)


def test_buffer_is_real(acks: tuple[int, bytes]) -> None:
    fam, buf = acks
    seq, err, off, tf = (array(t, bytes(4 * N)) for t in "IiII")
    assert _backend.load("pure").acks_scan(buf, len(buf), seq, err, off, tf) == N
    assert list(seq[:4]) == [1, 2, 3, 4]
    assert sorted(set(err)) == sorted({0, EXPECTED[fam]})
    assert sum(1 for e in err if e) == N // 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_acks_scan(acks: tuple[int, bytes], have: dict[str, bool], measure: Any,
                   backend: str) -> None:
    need(have, "native" if backend == "native" else None)
    fam, buf = acks
    row = measure(lambda: W.scan(buf, N, backend), 5, "nlcore acks_scan", backend, "parse",
                  fam, N)
    assert row["errors"] == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_collect(acks: tuple[int, bytes], have: dict[str, bool], measure: Any,
                 backend: str) -> None:
    need(have, "native" if backend == "native" else None)
    fam, buf = acks
    row = measure(lambda: W.collect(buf, N, backend), 5, "nlcore Conn.collect", backend,
                  "parse", fam, N)
    assert row["errors"] == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_results(acks: tuple[int, bytes], have: dict[str, bool], measure: Any,
                 backend: str) -> None:
    need(have, "native" if backend == "native" else None)
    fam, buf = acks
    row = measure(lambda: W.results(buf, N, backend), 2, "nlcore Report", backend, "parse",
                  fam, N)
    assert row["errors"] == 0


def test_decode(acks: tuple[int, bytes], measure: Any) -> None:
    fam, buf = acks
    row = measure(lambda: W.decode_all(buf, N), 2, "nlcore decode()", None, "parse", fam, N)
    assert row["errors"] == 0


def test_pyroute2_parse(acks: tuple[int, bytes], have: dict[str, bool], measure: Any) -> None:
    need(have, "pyroute2")
    fam, buf = acks
    p2 = M.bench_module("pyroute2_methods")
    assert p2 is not None
    got: list[tuple[int, int, int]] = []

    def one() -> M.Outcome:
        t0 = W.time.perf_counter()
        got.append(p2.parse(buf))
        return M.Outcome(W.time.perf_counter() - t0, abs(N - got[-1][0]))

    row = measure(one, 1, W.PARSE_PY, None, "parse", fam, N)
    assert row["errors"] == 0
    assert got[0][1] == N // 3  # it sees every error (and keeps extack text: got[0][2])
