"""Every example in README.md and docs/*.md runs as written, and every file they name exists.

* ``python`` blocks run in a fresh interpreter inside a throwaway network namespace
  (``unshare -n`` as root, ``unshare -rn`` otherwise), with this checkout on ``PYTHONPATH``;
  a block that defines ``test_*`` functions is run by pytest (with the nlcore plugin) instead
  and must pass (its kernel tests may skip, with the reason, where no namespace is possible).
* shell blocks (``sh``, ``bash``, ``console``): every ``.venv/bin/nlcore ...`` line runs the
  same way, with ``.venv/bin/nlcore`` replaced by this interpreter's ``-m nlcore`` (so nox's
  other Pythons run them too); it must not print a traceback, and ``decode``, ``repro`` and
  the option commands must exit 0. ``nlcore bench`` lines run only with NLCORE_SLOW=1.
  Other lines (``make``, ``pip``) are not run.
* A block right after ``<!-- not run: REASON -->`` is skipped with that reason.
* Links (``[text](path)``) and backticked repository paths (``tests/test_x.py``) must exist.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.M | re.S)
_SKIP = re.compile(r"<!--\s*not run:\s*(.*?)\s*-->\s*$")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|c|h|md|json|txt|pcap|toml|cfg|in))`")


class Example(NamedTuple):
    doc: Path
    line: int
    lang: str
    body: str
    skip: str | None


def examples() -> list[Example]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            skip = _SKIP.search(before)
            out.append(Example(doc, line, m.group(1), m.group(2), skip.group(1) if skip
                               else None))
    return out


def _id(e: Example) -> str:
    return f"{e.doc.relative_to(REPO)}:{e.line}"


PYTHON = [e for e in examples() if e.lang == "python"]
SHELL = [e for e in examples() if e.lang in ("sh", "bash", "console", "shell")]


def _netns_prefix() -> list[str]:
    if not shutil.which("unshare"):
        pytest.skip("unshare is missing: no throwaway namespace for the examples")
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    pytest.skip("no throwaway network namespace possible here (not root, user namespaces "
                "unavailable): the examples need one")


def _commands(body: str) -> list[str]:
    cmds = []
    for raw in body.splitlines():
        line = raw.strip()
        line = line[2:] if line.startswith("$ ") else line
        if not line.startswith(".venv/bin/nlcore"):
            continue
        words = shlex.split(line, comments=True)
        cmds.append(shlex.join([sys.executable, "-m", "nlcore", *words[1:]]))
    return cmds


@pytest.mark.kernel
@pytest.mark.parametrize("ex", PYTHON, ids=[_id(e) for e in PYTHON])
def test_python_example_runs(ex: Example, tmp_path: Path) -> None:
    if ex.skip:
        pytest.skip(f"{_id(ex)}: {ex.skip}")
    prefix = _netns_prefix()
    if re.search(r"^def test_", ex.body, re.M):
        (tmp_path / "test_example.py").write_text(ex.body)
        cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
               "-p", "no:nlcore", "-p", "nlcore.pytest_plugin", str(tmp_path)]
    else:
        cmd = [sys.executable, "-c", ex.body]
    r = subprocess.run([*prefix, *cmd], cwd=REPO, env=ENV, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"{_id(ex)}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr, r.stderr


@pytest.mark.kernel
@pytest.mark.parametrize("ex", SHELL, ids=[_id(e) for e in SHELL])
def test_shell_example_runs(ex: Example) -> None:
    if ex.skip:
        pytest.skip(f"{_id(ex)}: {ex.skip}")
    cmds = _commands(ex.body)
    if not cmds:
        pytest.skip(f"{_id(ex)}: no nlcore command in this block (make/pip lines are not run)")
    prefix = _netns_prefix()
    for cmd in cmds:
        sub = shlex.split(cmd)[3:4]
        if sub == ["bench"] and os.environ.get("NLCORE_SLOW") != "1":
            continue
        r = subprocess.run([*prefix, "sh", "-c", cmd], cwd=REPO, env=ENV, capture_output=True,
                           text=True, timeout=600)
        assert "Traceback" not in r.stderr, f"{_id(ex)}: {cmd}\n{r.stderr[-3000:]}"
        if not sub or sub[0] in ("decode", "repro") or sub[0].startswith("-"):
            assert r.returncode == 0, f"{_id(ex)}: {cmd}\n{r.stdout[-2000:]}{r.stderr[-2000:]}"
        else:
            assert r.returncode in (0, 1, 2), f"{_id(ex)}: {cmd}\n{r.stderr[-2000:]}"


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO)) for d in DOCS])
def test_referenced_files_exist(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = []
    for m in _LINK.finditer(text):
        target = m.group(1).split("#", 1)[0]
        if not target or re.match(r"^[a-z]+:", target):
            continue
        if not (doc.parent / target).exists():
            missing.append(target)
    for m in _PATH.finditer(text):
        p = m.group(1)
        if not ((REPO / p).exists() or (doc.parent / p).exists()):
            missing.append(p)
    assert missing == [], f"{doc.relative_to(REPO)} names files that do not exist: {missing}"


def test_every_doc_has_examples_collected() -> None:
    assert PYTHON and SHELL, "the example parser found nothing: the fence syntax changed?"
    readme = [e for e in PYTHON + SHELL if e.doc.name == "README.md"]
    assert len(readme) >= 4
