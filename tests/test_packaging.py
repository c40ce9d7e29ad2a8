"""Packaging: the sdist carries every tracked file (C headers, tests and their data, LICENSE),
installs from a clean venv, and without a C compiler falls back to the pure backend with one
clear warning; the metadata is an SPDX license with no deprecation warnings. (The abi3
manylinux wheel is built and smoke-tested in a clean venv by ``make wheel-check``.)"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SLOW = os.environ.get("NLCORE_SLOW") == "1"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NLCORE_")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("build", reason="the 'build' package is not installed (make wheel)")
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: no list of tracked files to compare with")
    out = tmp_path_factory.mktemp("sdist")
    r = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o",
                        str(out), str(REPO)], capture_output=True, text=True, timeout=600,
                       env=_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "SetuptoolsDeprecationWarning" not in r.stdout + r.stderr
    assert "project.license" not in r.stdout + r.stderr
    (path,) = out.glob("nlcore-*.tar.gz")
    return path


def test_sdist_carries_every_tracked_file(sdist: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    tracked = [t for t in tracked if not t.startswith(".git") and (REPO / t).exists()]
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = sorted(set(tracked) - names)
    assert missing == [], missing
    assert {"csrc/nlcore.h", "LICENSE", "tests/golden/iproute2.json"} <= names
    assert not [n for n in names if n.endswith((".so", ".pyc"))]


def test_license_is_an_spdx_string() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert 'license = "MIT"' in text and 'license-files = ["LICENSE"]' in text
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


@pytest.mark.skipif(not SLOW, reason="slow (~1 min, a fresh venv): NLCORE_SLOW=1")
def test_sdist_without_a_compiler_installs_the_pure_backend(sdist: Path,
                                                            tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    env = {**_env(), "CC": "/bin/false", "LDSHARED": "/bin/false"}
    subprocess.run([py, "-m", "pip", "install", "-q", "setuptools>=77", "cffi>=1.15", "wheel"],
                   check=True, timeout=600, env=_env())
    r = subprocess.run([py, "-m", "pip", "install", "-v", "--no-build-isolation", str(sdist)],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    warns = [ln for ln in log.splitlines() if "nlcore: the C extension nlcore._native was not "
             "built" in ln]
    assert len(warns) == 1, log[-3000:]
    probe = subprocess.run([py, "-I", "-c", "import nlcore; print(nlcore.BACKEND)"], cwd="/",
                           capture_output=True, text=True, timeout=120, env=_env())
    assert probe.stdout == "pure\n"
    assert probe.stderr.count("RuntimeWarning") == 1
    assert "installed without its C extension" in probe.stderr
    version = subprocess.run([str(venv / "bin" / "nlcore"), "--version"], capture_output=True,
                             text=True, timeout=120, env=_env(), cwd="/")
    assert version.returncode == 0 and "backend pure" in version.stdout
