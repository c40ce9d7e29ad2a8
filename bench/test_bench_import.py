"""Import cost: ``import nlcore`` (each backend) and ``import pyroute2`` in fresh interpreters,
bytecode already compiled, interpreter startup not counted; the added RSS beside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import BENCH, need

from nlcore.bench import methods as M
from nlcore.bench import wire as W

pytestmark = BENCH
ROUNDS = 5


def _measure(measure: Any, cache: Path, name: str, backend: str | None, module: str,
             pure: bool) -> dict[str, Any]:
    kib: list[int] = []

    def one() -> M.Outcome:
        secs, k = W.import_cost(module, runs=1, pure=pure, cache=str(cache))
        kib.append(k)
        return M.Outcome(secs)

    row: dict[str, Any] = measure(one, ROUNDS, name, backend, "import", None, 1)
    row["ms"], row["rss_kib"] = row["seconds"] * 1e3, sorted(kib)[len(kib) // 2]
    return row


@pytest.mark.parametrize("backend", ["native", "pure"])
def test_import_nlcore(tmp_path_factory: Any, have: dict[str, bool], measure: Any,
                       backend: str) -> None:
    need(have, "native" if backend == "native" else None)
    cache = tmp_path_factory.mktemp("pyc")
    _measure(measure, cache, "import nlcore", backend, "nlcore", backend == "pure")
    env = {"NLCORE_PURE": "1"} if backend == "pure" else {}
    probe = ("import sys, nlcore; print(nlcore.BACKEND, sorted(m for m in sys.modules if "
             "m.startswith(('nlcore.cli.main', 'nlcore.faults', 'nlcore.bench.job', 'pytest'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1],
                         env={"PATH": "/usr/bin:/bin", **env}).stdout.split(maxsplit=1)
    assert out == [backend, "[]\n"]


def test_import_pyroute2(tmp_path_factory: Any, have: dict[str, bool], measure: Any) -> None:
    need(have, "pyroute2")
    _measure(measure, tmp_path_factory.mktemp("pyc"), W.IMPORT_PY, None, "pyroute2", False)
