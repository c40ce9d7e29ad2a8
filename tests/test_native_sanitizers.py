"""csrc/wire.c under AddressSanitizer and UBSan, through the C harness tests/c/harness.c.

The harness is compiled here (into tests/_bin/, gitignored) with the strict warning set and
``-fsanitize=address,undefined -fno-sanitize-recover=all``; it checks the codec against its own
reference models over golden vectors and deterministic pseudo-random input, with exact-size
heap buffers. Without a working gcc + sanitizer runtime the tests skip, or fail when
``NLCORE_REQUIRE_NATIVE=1`` (as CI sets it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
HARNESS_SRC = ROOT / "tests" / "c" / "harness.c"
BIN_DIR = ROOT / "tests" / "_bin"
STRICT = ["-std=c11", "-Wall", "-Wextra", "-Wconversion", "-Werror"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
RUN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=24",
}
SUMMARY = re.compile(r"^harness: OK (\d+) checks, (\d+) emit cases x 201 capacities, "
                     r"(\d+) scans$", re.M)


def _unavailable(reason: str) -> None:
    if os.environ.get("NLCORE_REQUIRE_NATIVE") == "1":
        pytest.fail(f"{reason} (NLCORE_REQUIRE_NATIVE=1)")
    pytest.skip(reason)


def _gcc(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["gcc", *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def gcc_sanitizers() -> None:
    """Skip (or fail under NLCORE_REQUIRE_NATIVE=1) when gcc cannot build ASan programs."""
    if shutil.which("gcc") is None:
        _unavailable("gcc is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.c"
        probe.write_text("int main(void) { return 0; }\n")
        res = _gcc([*SANITIZE, str(probe), "-o", str(Path(tmp) / "probe")])
        if res.returncode != 0:
            _unavailable(f"gcc cannot link -fsanitize=address,undefined here: {res.stderr}")


@pytest.fixture(scope="module")
def harness(gcc_sanitizers: None) -> Path:
    """Compile tests/c/harness.c + csrc/wire.c with sanitizers; return the binary."""
    BIN_DIR.mkdir(exist_ok=True)
    out = BIN_DIR / "harness"
    tmp = BIN_DIR / f"harness.{os.getpid()}"
    res = _gcc([*STRICT, *SANITIZE, f"-I{CSRC}", str(CSRC / "wire.c"), str(HARNESS_SRC),
                "-o", str(tmp)])
    assert res.returncode == 0, f"harness does not compile:\n{res.stderr}"
    os.replace(tmp, out)
    return out


def _run(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **RUN_ENV}, check=False)


def test_wire_c_compiles_clean_with_strict_warnings(gcc_sanitizers: None,
                                                     tmp_path: Path) -> None:
    """csrc/wire.c builds with -O2 and the strict set, warnings as errors."""
    res = _gcc([*STRICT, "-O2", "-Wshadow", "-Wsign-conversion", f"-I{CSRC}", "-c",
                str(CSRC / "wire.c"), "-o", str(tmp_path / "wire.o")])
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""


def test_harness_passes_under_asan_and_ubsan(harness: Path) -> None:
    """Golden vectors, random records at every capacity 0..200, fuzzed reply streams."""
    res = _run(harness)
    assert res.returncode == 0, f"harness failed ({res.returncode}):\n{res.stdout}{res.stderr}"
    assert "runtime error" not in res.stderr
    assert "Sanitizer" not in res.stderr
    m = SUMMARY.search(res.stdout)
    assert m is not None, res.stdout
    checks, emit_cases, scans = (int(g) for g in m.groups())
    assert emit_cases == 3000
    assert checks > 1_000_000
    assert scans > 500_000


def test_harness_catches_a_one_byte_overread(harness: Path) -> None:
    """The sanitizer is live: a read one byte past a 36-byte heap block aborts the run."""
    res = _run(harness, "overflow")
    assert res.returncode == 23, res.stdout + res.stderr
    assert "heap-buffer-overflow" in res.stderr
    assert "overflow not detected" not in res.stdout
