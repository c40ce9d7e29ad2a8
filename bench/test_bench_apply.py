"""Address apply: add, replace, del; IPv4 /32s and IPv6 /64s (nodad); N = 1,000 and 10,000;
one device and 16. nlcore (batched and one at a time, both backends), the C limit at batch 256
and 1, ``ip -batch`` and pyroute2, on the same addresses in the same namespace.

Every round starts from exactly the state its op needs (add: no address; replace and del:
the N addresses), set up untimed; at N=1,000 one unrecorded warm-up round goes first (the
C loop starts a fresh process each time). Above N=1,000 the kernel dominates and only the native
nlcore methods run beside the others. Select with -k, e.g. ``-k "v4-1000-1dev"``.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BENCH, need

from nlcore.bench import job
from nlcore.bench import methods as M

pytestmark = [BENCH, pytest.mark.kernel]
METHODS = job.methods(job.Plan())
ROUNDS = {1000: 3, 10000: 1}


def prepare(bed: M.Bed, case: M.Case) -> None:
    """Clean devices for add; exactly the case's addresses for replace and del."""
    present = bed.present(case.family)
    if case.op == "add":
        if present:
            bed.flush(case.family)
    elif len(present) != case.n or bed.misplaced(case, there=True):
        bed.flush(case.family)
        bed.fill(case)


def _params() -> list[Any]:
    # op varies fastest, so that each test leaves the state the next one needs (add ->
    # replace -> del -> add) and the methods of one case run close together in time.
    out = []
    for devices in (1, 16):
        for n in sorted(ROUNDS):
            for family in (4, 6):
                for m in METHODS:
                    if not job.runs_at(m, n):
                        continue
                    for op in ("add", "replace", "del"):
                        name = f"v{family}-{n}-{devices}dev-{m.label.replace(' ', '_')}-{op}"
                        out.append(pytest.param(m, op, family, n, devices, id=name))
    return out


@pytest.mark.parametrize(("method", "op", "family", "n", "devices"), _params())
def test_apply(bed: M.Bed, have: dict[str, bool], measure: Any, method: job.Method,
               op: str, family: int, n: int, devices: int) -> None:
    need(have, method.needs)
    case = M.Case(op, family, n, devices)
    row = measure(lambda: method.fn(bed, case), ROUNDS[n], method.name, method.backend, op,
                  family, n, devices, setup=lambda: prepare(bed, case),
                  warmup=1 if n <= 1000 else 0)
    assert row["errors"] == 0
    assert bed.misplaced(case, there=op != "del") == 0
