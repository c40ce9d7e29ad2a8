"""nlcore/ copied alone into another project works (pure backend, relative imports), and
``import nlcore`` pulls in neither the CLI, the faults nor pytest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# a vendored copy has no extension: `make test` sets NLCORE_REQUIRE_NATIVE=1, these must not
NO_REQUIRE = {k: v for k, v in os.environ.items() if k != "NLCORE_REQUIRE_NATIVE"}

PROBE = """
import json, sys
from agent_vendor import nlcore
from agent_vendor.nlcore import AddrSpec, decode, encode_addr, wire
spec = AddrSpec("fe80::c44c:1cff:fe84:f6b7/64", index=2, op="replace",
                peer="fe80::c44c:1cff:fe84:f6b7/64", address_first=True)
raw = encode_addr(spec, seq=19)
reply = wire.encode_error_reply(raw, -13, 0, msg="ipv6: IPv6 is disabled on this device")
err = wire.error_of(decode(reply)[0])
print(json.dumps({"backend": nlcore.BACKEND, "raw": list(raw),
                  "perm": isinstance(err, PermissionError), "msg": err.msg, "file": nlcore.__file__,
                  "mods": sorted(m for m in sys.modules if "nlcore" in m)}))
"""


def test_copied_folder_under_another_name_uses_pure_backend(tmp_path: Path) -> None:
    pkg = tmp_path / "agent_vendor"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    shutil.copytree(ROOT / "nlcore", pkg / "nlcore",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__", "_native.c"))
    out = subprocess.run([sys.executable, "-E", "-s", "-c", PROBE], cwd=tmp_path,
                         capture_output=True, text=True, check=True, env=NO_REQUIRE)
    got = json.loads(out.stdout)
    from test_wire_golden import KATA

    assert got["backend"] == "pure"
    assert bytes(got["raw"]) == KATA
    assert got["perm"] is True and got["msg"] == "ipv6: IPv6 is disabled on this device"
    assert got["file"].startswith(str(tmp_path))
    # only the vendored copy was imported, never a top-level nlcore
    assert [m for m in got["mods"] if m == "nlcore" or m.startswith("nlcore.")] == []
    assert "agent_vendor.nlcore.codec.wire" in got["mods"]


def test_import_is_light() -> None:
    code = ("import sys, nlcore; bad = [m for m in sys.modules if m.startswith(("
            "'nlcore.cli', 'nlcore.faults', 'nlcore.pytest_plugin', 'pytest', 'nlcore.ops',"
            " 'nlcore.net.netns', 'nlcore.bench'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pure_forced_by_env() -> None:
    out = subprocess.run([sys.executable, "-c", "import nlcore; print(nlcore.BACKEND)"],
                         cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"NLCORE_PURE": "1", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "pure"


def vendored(tmp_path: Path, name: str = "agent_vendor") -> Path:
    """``nlcore/`` copied (without the extension) into ``tmp_path/name/nlcore``."""
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    shutil.copytree(ROOT / "nlcore", pkg / "nlcore",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__", "_native.c"))
    return pkg / "nlcore"


def run_py(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-E", "-s", "-c", code], cwd=cwd, text=True,
                          capture_output=True, env={**NO_REQUIRE, **env}, timeout=120)


def test_require_native_is_honoured_at_run_time(tmp_path: Path) -> None:
    """NLCORE_REQUIRE_NATIVE=1 and no extension: the import fails, saying why."""
    vendored(tmp_path)
    r = run_py("import agent_vendor.nlcore", tmp_path, NLCORE_REQUIRE_NATIVE="1")
    assert r.returncode == 1
    assert ("ImportError: NLCORE_REQUIRE_NATIVE=1 but nlcore._native is not built"
            in r.stderr.splitlines()[-1])
    ok = run_py("import agent_vendor.nlcore as n; print(n.BACKEND)", tmp_path)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "pure\n", "")  # missing: silent


def test_an_extension_that_fails_to_load_warns_once(tmp_path: Path) -> None:
    """A broken _native*.so: one RuntimeWarning naming it, then the pure backend."""
    nl = vendored(tmp_path)
    (nl / "_native.abi3.so").write_bytes(b"not an ELF file")
    code = ("import warnings, agent_vendor.nlcore as n, agent_vendor.nlcore.codec._backend; "
            "print(n.BACKEND)")
    r = run_py(code, tmp_path, PYTHONWARNINGS="default")
    assert (r.returncode, r.stdout) == (0, "pure\n"), r.stderr
    warns = [ln for ln in r.stderr.splitlines() if "RuntimeWarning" in ln]
    assert len(warns) == 1 and "_native.abi3.so failed to load" in warns[0], r.stderr
    strict = run_py("import agent_vendor.nlcore", tmp_path, NLCORE_REQUIRE_NATIVE="1")
    assert strict.returncode == 1 and "failed to load" in strict.stderr


@pytest.mark.kernel
@pytest.mark.parametrize("user", ["root", "nobody"])
def test_seccomp_repro_layer_works_from_a_vendored_copy(tmp_path: Path, user: str) -> None:
    """`repro --layer seccomp` from a copy under another name: root, and an unprivileged user
    (which re-runs itself in a user namespace by the copy's own module path)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (the nobody case is started from root with setpriv)")
    import tempfile

    # nobody must reach the copy: pytest's tmp_path sits in a 0700 directory
    base = Path(tempfile.mkdtemp(prefix="nlcore-vendor-")) if user == "nobody" else tmp_path
    try:
        vendored(base)
        for d in [base, *base.rglob("*")]:
            os.chmod(d, 0o755 if d.is_dir() else 0o644)
        py = sys.executable if user == "root" else "/usr/bin/python3"
        if user == "nobody" and not os.path.exists(py):
            pytest.skip(f"{py} (an interpreter nobody may run) is missing")
        prefix = [] if user == "root" else ["setpriv", "--reuid=65534", "--regid=65534",
                                            "--clear-groups"]
        r = subprocess.run([*prefix, py, "-E", "-s", "-m", "agent_vendor.nlcore", "repro",
                            "kata-11200", "--layer", "seccomp"], cwd=base, text=True,
                           capture_output=True, env=NO_REQUIRE, timeout=300)
    finally:
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)
    if "cannot run here" in r.stderr:
        pytest.skip(f"seccomp layer unavailable for {user}: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    assert "result    reproduced (expected EACCES)" in r.stdout
    assert "layer     seccomp" in r.stdout
