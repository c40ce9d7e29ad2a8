"""The generic record walker (csrc/attrs.c ``nlc_tlv_walk``) and its pure twin: identical
results and exceptions (hypothesis), agreement with the decoder's walk, and the C under
AddressSanitizer/UBSan through tests/c/tlv_harness.c."""

from __future__ import annotations

import os
import shutil
import subprocess
from array import array
from pathlib import Path
from typing import Any

import pytest
from _util import need_backend, run_sanitized
from fuzz.family_strategies import family_specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlcore.codec import _backend
from nlcore.codec.attrs import iter_attrs, iter_nexthops
from nlcore.codec.errors import ParseError, SpecError

ROOT = Path(__file__).resolve().parent.parent
STRICT = ["-std=c11", "-Wall", "-Wextra", "-Wconversion", "-Werror"]
EQUIV = settings(max_examples=400, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def native() -> Any:
    return need_backend(_backend.load, "native")


def walk(codec: Any, buf: bytes, start: int, end: int, hdr: int, cap: int) -> Any:
    out = array("I", bytes(12 * cap))
    try:
        n, stop = codec.tlv_walk(buf, start, end, hdr, out)
    except ParseError as exc:
        return ("ParseError", str(exc), exc.offset)
    except SpecError as exc:
        return ("SpecError", str(exc))
    return n, stop, list(out[:3 * n])


records = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 0xFFFF),
                             st.binary(max_size=36)), max_size=8).map(
    lambda rs: b"".join(n.to_bytes(2, "little") + w.to_bytes(2, "little") + p
                        + bytes(-len(p) % 4) for n, w, p in rs))


@EQUIV
@given(buf=records | st.binary(max_size=120), data=st.data())
def test_native_walk_equals_pure(native: Any, buf: bytes, data: st.DataObject) -> None:
    end = data.draw(st.integers(0, len(buf) + 2))
    start = data.draw(st.integers(0, len(buf) + 2))
    hdr = data.draw(st.sampled_from([4, 8, 4, 3]))
    cap = data.draw(st.integers(0, 12))
    pure = _backend.load("pure")
    assert walk(native, buf, start, end, hdr, cap) == walk(pure, buf, start, end, hdr, cap)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=family_specs)
def test_walk_matches_the_decoders_walk(backend: Any, spec: Any) -> None:
    raw = spec.message
    fixed = 28 if raw[4] in (24, 25, 28, 29) else 32
    n, stop, out = walk(_backend.load(backend.NAME), raw, fixed, len(raw), 4, 64)
    assert stop == len(raw)
    assert [(out[3 * i], out[3 * i + 1] + 4, out[3 * i + 1] + out[3 * i + 2])
            for i in range(n)] == list(iter_attrs(raw, fixed, len(raw)))
    for i in range(n):
        if out[3 * i] == 9 and raw[4] in (24, 25):  # RTA_MULTIPATH: walk its nexthops
            a, b = out[3 * i + 1] + 4, out[3 * i + 1] + out[3 * i + 2]
            k, _s, hops = walk(_backend.load(backend.NAME), raw, a, b, 8, 64)
            assert [(hops[3 * j] & 0xFF, hops[3 * j] >> 8, hops[3 * j + 1])
                    for j in range(k)] == [(f, h, p) for f, h, _x, p, _q, _e
                                           in iter_nexthops(raw, a, b)]


def test_walk_stops_at_cap_and_reports_where(backend: Any) -> None:
    buf = bytes.fromhex("08000100c633640008000500c000020205000300090000000800040003000000")
    assert walk(_backend.load(backend.NAME), buf, 0, len(buf), 4, 2) == (
        2, 16, [1, 0, 8, 5, 8, 8])
    assert walk(_backend.load(backend.NAME), buf, 0, len(buf), 4, 9)[:2] == (4, 32)
    assert walk(_backend.load(backend.NAME), buf, 0, 31, 4, 9) == (
        "ParseError", "attribute length 8 with 7 bytes left (at offset 24)", 24)


# --- the C under sanitizers ----------------------------------------------------------------
def _gcc(args: list[str]) -> subprocess.CompletedProcess[str]:
    if shutil.which("gcc") is None:
        if os.environ.get("NLCORE_REQUIRE_NATIVE") == "1":
            pytest.fail("gcc is not installed (NLCORE_REQUIRE_NATIVE=1)")
        pytest.skip("gcc is not installed")
    return subprocess.run(["gcc", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_attrs_c_compiles_clean_with_strict_warnings(tmp_path: Path) -> None:
    res = _gcc([*STRICT, "-O2", "-Wshadow", "-Wsign-conversion", f"-I{ROOT / 'csrc'}", "-c",
                str(ROOT / "csrc/attrs.c"), "-o", str(tmp_path / "attrs.o")])
    assert res.returncode == 0 and res.stderr == "", res.stderr


def test_tlv_harness_under_asan_and_ubsan(tmp_path: Path) -> None:
    words = run_sanitized(tmp_path, "tlv_harness", "attrs.c")
    assert int(words[4]) > 200_000, words
