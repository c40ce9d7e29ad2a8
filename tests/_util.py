"""Helpers the test modules share (the fixtures are in conftest.py): a backend or a throwaway
namespace, or a skip that says why it is impossible here; a namespace with a veth pair; a
run as an unprivileged user; the C clients of tests/c/ compiled; a harness run under the
sanitizers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest

from nlcore.net.netns import ThrowawayNetns

REPO = Path(__file__).resolve().parents[1]
C_DIR = REPO / "tests" / "c"
NATIVE_REQUIRED = os.environ.get("NLCORE_REQUIRE_NATIVE") == "1"
NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]
T = TypeVar("T")


def need_backend(load: Callable[[str], T], name: str) -> T:
    """``load(name)`` (a codec or bulk backend); a skip when it is not built, a failure
    instead under NLCORE_REQUIRE_NATIVE=1 (CI)."""
    try:
        return load(name)
    except ImportError as exc:
        if NATIVE_REQUIRED:
            raise AssertionError(f"native backend required but not built: {exc}") from exc
        pytest.skip(f"native backend not available (not built): {exc}")


def throwaway(userns: bool | None = None) -> ThrowawayNetns:
    """A throwaway namespace (``userns`` as ThrowawayNetns takes it), or a skip saying why."""
    try:
        return ThrowawayNetns(userns=userns)
    except OSError as exc:
        pytest.skip(f"no throwaway network namespace possible here (userns={userns}; not "
                    f"root, user namespaces unavailable): {exc}")


def have_notif() -> None:
    """Skip where seccomp user notification (or this architecture's filter) is unavailable."""
    from nlcore.faults.seccomp import bpf, notify

    try:
        notify.check_sizes()
        bpf.native_arch()
    except OSError as exc:
        pytest.skip(f"seccomp user notification not available: {exc}")


def veth_space(userns: bool | None = None, *, notif: bool = False
               ) -> Iterator[ThrowawayNetns]:
    """A throwaway namespace with a veth pair v0/v0p (``notif``: also needs seccomp user
    notification), closed afterwards; ``yield from`` it in a fixture."""
    if notif:
        have_notif()
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) not available (not installed)")
    if userns is False and os.geteuid() != 0:
        pytest.skip("root mode needs root")
    with throwaway(userns) as space:
        res = space.run(["ip", "link", "add", "v0p", "type", "veth", "peer", "name", "v0"])
        assert res.returncode == 0, res.stderr
        yield space


def supervisor(name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Choose the ``nlcore inject`` supervisor ``name`` ("native": csrc/supervise.c, or
    "pure") through NLCORE_PURE, here and in subprocesses; a skip (a failure under
    NLCORE_REQUIRE_NATIVE=1) when the native one is not built."""
    from nlcore.faults.seccomp import native

    pure = name == "pure"
    monkeypatch.setenv("NLCORE_PURE", "1" if pure else "0")
    if not pure and native.load() is None:
        if NATIVE_REQUIRED:
            pytest.fail("the native extension is required (NLCORE_REQUIRE_NATIVE=1)")
        pytest.skip("the native extension is not available (not built)")
    return name


SANITIZE = ["-std=c11", "-Wall", "-Wextra", "-Wconversion", "-Werror",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]


def run_sanitized(tmp_path: Path, name: str, csrc: str) -> list[str]:
    """tests/c/NAME.c with csrc/CSRC built under ASan and UBSan, run; its stdout's words,
    the first two asserted to be ``NAME: OK``. A skip (a failure under
    NLCORE_REQUIRE_NATIVE=1) without gcc or its sanitizers."""
    if shutil.which("gcc") is None:
        if NATIVE_REQUIRED:
            pytest.fail("gcc is not installed (NLCORE_REQUIRE_NATIVE=1)")
        pytest.skip("gcc is not installed")
    binary = tmp_path / name
    res = subprocess.run(["gcc", *SANITIZE, f"-I{REPO / 'csrc'}", str(REPO / "csrc" / csrc),
                          str(C_DIR / f"{name}.c"), "-o", str(binary)],
                         capture_output=True, text=True, timeout=120, check=False)
    if res.returncode != 0 and "sanitize" in res.stderr:
        if NATIVE_REQUIRED:
            pytest.fail(f"gcc cannot build with sanitizers: {res.stderr}")
        pytest.skip(f"gcc cannot build with sanitizers here: {res.stderr}")
    assert res.returncode == 0, res.stderr
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=120,
                         check=False, env={**os.environ, "ASAN_OPTIONS": "exitcode=23",
                                           "UBSAN_OPTIONS": "halt_on_error=1:exitcode=24"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "runtime error" not in run.stderr and "Sanitizer" not in run.stderr
    words = run.stdout.split()
    assert words[:2] == [f"{name}:", "OK"], run.stdout
    return words


def compiled(tmp_path_factory: pytest.TempPathFactory, name: str) -> str:
    """tests/c/NAME.c compiled (-O2, warnings as errors); a skip without gcc."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not available (not installed)")
    out = tmp_path_factory.mktemp("bin") / name
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out),
                    str(C_DIR / f"{name}.c")], check=True)
    return str(out)


def run_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` as an unprivileged user (nobody, through setpriv, when we are root),
    with an interpreter that user may execute (sys.executable may sit under /root)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    if os.geteuid() != 0:
        return subprocess.run([sys.executable, *args], env=env, capture_output=True,
                              text=True, timeout=120)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) not found: cannot drop to an unprivileged user")
    v = sys.version_info
    for exe in (sys.executable, shutil.which(f"python{v.major}.{v.minor}", path="/usr/bin"),
                "/usr/bin/python3"):
        if exe and subprocess.run([setpriv, *NOBODY, "sh", "-c", 'test -x "$0"', exe]
                                  ).returncode == 0:
            return subprocess.run([setpriv, *NOBODY, exe, *args], env=env,
                                  capture_output=True, text=True, timeout=120)
    pytest.skip("no Python interpreter that an unprivileged user may execute")
