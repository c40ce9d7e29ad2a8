"""nlcore/ copied alone into another project works (pure backend, relative imports), and
``import nlcore`` pulls in neither the CLI, the faults nor pytest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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
                         capture_output=True, text=True, check=True)
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
