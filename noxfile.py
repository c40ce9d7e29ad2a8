"""The suite on the other CPythons nlcore supports: ``nox -s compat`` (called by ``make nox``).

CPython 3.11 runs the whole suite in ``make unit`` (with NLCORE_SLOW=1). Here 3.9 and 3.13
(the oldest and the newest supported) install nlcore from this tree as a user would (a real,
non-editable build of the abi3 extension for that interpreter) and run the whole suite too,
without the slow tests: about 4-10 minutes each on 2 busy CPUs (measured: 3.9 4.5 min, 3.13
9.7 min while eight people shared the machine). ``NLCORE_NOX_SUBSET=1`` runs :data:`SUBSET`
instead (the codec, the CLI, the engine, faults, vendoring: a few minutes). Interpreters are
found on PATH (``make nox`` puts pyenv's there).
"""

from __future__ import annotations

import os

import nox

nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.9", "3.13"]
SUBSET = [
    "tests/test_wire_golden.py", "tests/test_decode.py", "tests/test_backend_equiv.py",
    "tests/test_cli_decode.py", "tests/test_cli_addr.py", "tests/test_cli_batch.py",
    "tests/test_conn.py", "tests/test_apply.py", "tests/test_faults_synthetic.py",
    "tests/test_faults_replay.py", "tests/test_faults_kernel.py", "tests/test_repro.py",
    "tests/test_vendoring.py", "tests/test_pytest_plugin.py", "tests/test_netns.py",
    "tests/test_inject.py",
]


@nox.session(python=PYTHONS)
def compat(session: nox.Session) -> None:
    """Install nlcore (native backend required) and run the subset on this interpreter."""
    env = {"NLCORE_REQUIRE_NATIVE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    session.install("pytest>=7", "pytest-benchmark>=4", "hypothesis>=6", env=env)
    session.install("--force-reinstall", "--no-deps", ".", env=env)
    session.install("cffi>=1.15", env=env)
    tests = SUBSET if os.environ.get("NLCORE_NOX_SUBSET") else ["tests"]
    # `pytest`, not `python -m pytest`: the installed nlcore is imported, not ./nlcore
    session.run("pytest", "-q", "-ra", "-x", *tests, *session.posargs, env=env)
