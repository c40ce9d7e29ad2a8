"""Fixtures of the bench suites (``make bench`` = ``pytest bench``; pytest-benchmark).

One throwaway network namespace with 16 veth devices serves the whole session (gone when the
session ends, however it ends). Every measured function times only its own timed part (the C
loop and pyroute2 inside their process, setup never), so the suites give pytest-benchmark a
virtual clock, :data:`CLOCK`, that advances by exactly that. At the end a table like
``nlcore bench`` prints with the ratios to the C limit and to pyroute2. Timings never fail a
test; a wrong result (requests that failed, addresses not where they should be) does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

HERE = Path(__file__).resolve().parent
for _p in (str(HERE.parent), str(HERE)):  # the checkout's nlcore; climit, pyroute2_methods
    if _p not in sys.path:
        sys.path.insert(0, _p)

from nlcore.bench import job  # noqa: E402
from nlcore.bench import methods as M  # noqa: E402

pytest.importorskip("pytest_benchmark", reason="pytest-benchmark is not installed")
RESULTS: list[M.Row] = []
NOTES: list[str] = []


class VirtualClock:
    """A pytest-benchmark timer that moves only by :meth:`advance` (and 1 ps per reading)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1e-12
        return self.now

    def advance(self, seconds: float) -> None:
        """Account ``seconds`` of measured time."""
        self.now += seconds


CLOCK = VirtualClock()
#: Mark a module's tests with it: ``pytestmark = BENCH``.
BENCH = pytest.mark.benchmark(timer=CLOCK, disable_gc=False, warmup=False)


@pytest.fixture(scope="session")
def have() -> dict[str, bool]:
    """What this machine offers (native backend, C limit, ip, pyroute2)."""
    return job.availability(job.Plan(), NOTES)


def need(have: dict[str, bool], what: str | None) -> None:
    """Skip unless ``what`` (an availability key) is there."""
    why = {"native": "the native backend is not built", "climit": "c_limit cannot be built",
           "ip": "iproute2's ip is not installed",
           "pyroute2": "pyroute2 is not installed (pip install '.[bench]')"}
    if what is not None and not have.get(what, False):
        pytest.skip(why.get(what, what))


@pytest.fixture(scope="session")
def bed() -> Iterator[M.Bed]:
    """The session's namespace: 16 veth devices (v0..v15) and a Conn in it."""
    try:
        b = M.Bed(16)
    except OSError as exc:
        pytest.skip(f"cannot create a throwaway network namespace: {exc}")
    with b:
        yield b


@pytest.fixture
def measure(benchmark: Any) -> Callable[..., M.Row]:
    """``measure(fn, rounds, method, backend, op, family, n, devices, setup=None, warmup=0)``:
    run ``fn() -> Outcome`` ``rounds`` times (after ``warmup`` unrecorded ones) under
    pytest-benchmark, record and return the row."""
    def run(fn: Callable[[], M.Outcome], rounds: int, method: str, backend: str | None,
            op: str, family: int | None, n: int, devices: int = 1,
            setup: Callable[[], None] | None = None, warmup: int = 0, **extra: Any) -> M.Row:
        samples: list[M.Outcome] = []

        def target() -> None:
            out = fn()
            samples.append(out)
            CLOCK.advance(out.seconds)

        benchmark.pedantic(target, setup=setup, rounds=rounds, warmup_rounds=warmup)
        row = M.make_row(method, backend, op, family, n, devices, samples[-rounds:], **extra)
        benchmark.extra_info.update(per_s=row["per_s"], errors=row["errors"], n=n)
        RESULTS.append(row)
        return row

    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the nlcore-bench table of everything measured, with ratios."""
    if not RESULTS:
        return
    order = {"add": 0, "replace": 1, "del": 2, "parse": 3, "encode": 4, "import": 5}
    rows = sorted(RESULTS, key=lambda r: (order.get(r["op"], 9) > 2, r["family"] or 99, r["n"],
                                          r["devices"], order.get(r["op"], 9)))
    job.add_ratios(rows)
    terminalreporter.write("\n" + job.render(rows, job.machine(), NOTES))
