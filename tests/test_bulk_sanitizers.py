"""csrc/bulk.c under AddressSanitizer and UBSan (tests/c/bulk_harness.c: random texts in
exactly-sized buffers through every bulk function), and clean under the strict warnings."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
STRICT = ["-std=gnu11", "-Wall", "-Wextra", "-Wconversion", "-Werror"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
ENV = {"ASAN_OPTIONS": "detect_leaks=1:exitcode=23",
       "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=24"}


def _gcc(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["gcc", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_bulk_c_under_asan_and_ubsan(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        if os.environ.get("NLCORE_REQUIRE_NATIVE") == "1":
            pytest.fail("gcc is not installed (NLCORE_REQUIRE_NATIVE=1)")
        pytest.skip("gcc is not installed")
    binary = tmp_path / "bulk_harness"
    res = _gcc([*STRICT, *SANITIZE, f"-I{CSRC}", str(CSRC / "bulk.c"),
                str(ROOT / "tests" / "c" / "bulk_harness.c"), "-o", str(binary)])
    if res.returncode != 0 and "sanitize" in res.stderr:
        pytest.skip(f"gcc cannot build with -fsanitize here: {res.stderr[-300:]}")
    assert res.returncode == 0, res.stderr
    done = subprocess.run([str(binary)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **ENV}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.startswith("bulk_harness: OK 60001 checks"), done.stdout
