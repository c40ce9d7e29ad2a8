"""Batch encode: 100,000 RTM_NEWADDR into one buffer, from packed records
(``encode_addrs_into``) and from AddrSpecs (``encode_addrs``), each backend; pyroute2's
ifaddrmsg encode beside them."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BENCH, need

from nlcore.bench import methods as M
from nlcore.bench import wire as W
from nlcore.codec.decode import AddrMsg
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import decode, encode_addrs

pytestmark = BENCH
N = 100_000
BACKENDS = ["native", "pure"]


@pytest.fixture(scope="module", params=[4, 6], ids=["v4", "v6"])
def specs(request: Any) -> tuple[int, list[AddrSpec], bytes]:
    """(family, N specs, their packed records)."""
    fam: int = request.param
    s = W.encode_specs(fam, N)
    return fam, s, b"".join(x.record for x in s)


@pytest.mark.parametrize("backend", BACKENDS)
def test_encode_into(specs: tuple[int, list[AddrSpec], bytes], have: dict[str, bool],
                     measure: Any, backend: str) -> None:
    need(have, "native" if backend == "native" else None)
    fam, s, records = specs
    row = measure(lambda: W.encode_records(records, N, backend), 5,
                  "nlcore encode_addrs_into", backend, "encode", fam, N)
    assert row["errors"] == 0
    with M.use_backend(backend):
        head = decode(encode_addrs(s[:3], seq=7))
    assert [(m.header.seq, m.local) for m in head if isinstance(m, AddrMsg)] == \
        [(7 + i, x.address.partition("/")[0]) for i, x in enumerate(s[:3])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_encode_list(specs: tuple[int, list[AddrSpec], bytes], have: dict[str, bool],
                     measure: Any, backend: str) -> None:
    need(have, "native" if backend == "native" else None)
    fam, s, _ = specs
    row = measure(lambda: W.encode_list(s, backend), 3, "nlcore encode_addrs", backend,
                  "encode", fam, N)
    assert row["errors"] == 0


def test_pyroute2_encode(specs: tuple[int, list[AddrSpec], bytes], have: dict[str, bool],
                         measure: Any) -> None:
    need(have, "pyroute2")
    fam, _, _ = specs
    p2 = M.bench_module("pyroute2_methods")
    assert p2 is not None
    sizes: list[int] = []

    def one() -> M.Outcome:
        secs, total = p2.encode("add", fam, M.addresses(fam, N), [2])
        sizes.append(total)
        return M.Outcome(secs)

    measure(one, 1, W.ENCODE_PY, None, "encode", fam, N)
    assert sizes[0] == N * (40 if fam == 4 else 64)  # the same bytes per message as nlcore's
