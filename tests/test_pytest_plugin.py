"""The pytest plugin, exercised the way users get it: inner pytest runs (pytester) of the
fixtures, as root, without CAP_SYS_ADMIN (user-namespace mode), and where no namespace
is possible at all (the exact skip reason). The documented example itself is run by
tests/test_docs_examples.py."""

from __future__ import annotations

pytest_plugins = ["pytester"]

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from nlcore.net import netns  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# -p no:nlcore: do not also load the installed entry point; load the module under test
PLUGIN_ARGS = ["-p", "no:nlcore", "-p", "nlcore.pytest_plugin", "-p", "no:cacheprovider"]
NO_NS_REASON = ("nl_netns: no throwaway network namespace: cannot create a network namespace: "
                "not root with CAP_SYS_ADMIN, and user namespaces are unavailable "
                "(user.max_user_namespaces = 0)")


def inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inner pytest run in a subprocess (in-process runs re-import nlcore modules and mix
    two copies of its classes)."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", path)
        mp.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the plugin under test
        return pytester.runpytest_subprocess(*args, timeout=300)


def namespaces_possible() -> str:
    try:
        return netns.mode()
    except PermissionError as exc:
        return f"none: {exc}"


def _run(pytester: pytest.Pytester, prefix: list[str], *args: str
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [*prefix, sys.executable, "-m", "pytest", "-q", "-rs", *PLUGIN_ARGS, *args]
    return subprocess.run(cmd, cwd=pytester.path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_entry_point_is_declared() -> None:
    """pyproject declares pytest11 ``nlcore = nlcore.pytest_plugin``; when nlcore is
    installed the entry point resolves to this module."""
    import importlib.metadata as md

    text = (REPO / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\nnlcore = "nlcore.pytest_plugin"' in text
    all_eps = md.entry_points()
    group = (all_eps.select(group="pytest11") if hasattr(all_eps, "select")  # 3.10+
             else all_eps.get("pytest11", []))  # type: ignore[attr-defined]  # 3.9: a dict
    eps = [ep for ep in group if ep.name == "nlcore"]
    if not eps:
        pytest.skip("nlcore is not installed (pip install -e .): no entry point to resolve")
    assert eps[0].value == "nlcore.pytest_plugin"


def test_import_nlcore_loads_neither_faults_nor_pytest() -> None:
    code = ("import sys, nlcore, nlcore.faults; "
            "assert 'pytest' not in sys.modules, 'pytest'; "
            "assert not [m for m in sys.modules if m.startswith('nlcore.faults.')], "
            "sorted(m for m in sys.modules if m.startswith('nlcore.faults.'))")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ,
                   "PYTHONPATH": str(REPO)})


def test_plugin_import_is_light() -> None:
    code = ("import sys, nlcore.pytest_plugin; "
            "assert not [m for m in sys.modules if m.startswith('nlcore.faults')]; "
            "assert 'nlcore.net.conn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ,
                   "PYTHONPATH": str(REPO)})


def test_nl_netns_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ns='''
        import errno
        from nlcore.faults.kernel import KATA_MSG, KATA_REQUEST

        def test_it(nl_netns):
            assert nl_netns.index == 2
            # the docs: the pair v0/v1, .dev is v1 at ifindex 2, .peer is v0 at ifindex 3
            assert (nl_netns.dev, nl_netns.peer) == ("v1", "v0")
            (peer,) = nl_netns.ip("link", "show", "dev", "v0")
            assert peer["ifindex"] == 3
            (link,) = nl_netns.ip("link", "show", "dev", nl_netns.dev)
            assert link["ifindex"] == 2 and "UP" in link["flags"]
            nl_netns.sysctl("net/ipv6/conf/all/disable_ipv6", 1)
            assert nl_netns.read_sysctl(f"net/ipv6/conf/{nl_netns.dev}/disable_ipv6") == "1"
            reply = nl_netns.exchange(KATA_REQUEST, ext_ack=False)
            assert reply[16:20] == (-errno.EACCES).to_bytes(4, "little", signed=True)
            assert reply[20:] == KATA_REQUEST

        def test_fresh_each_time(nl_netns):
            assert nl_netns.read_sysctl("net/ipv6/conf/all/disable_ipv6") == "0"
    ''')
    result = inner(pytester, *PLUGIN_ARGS, "-p", "no:randomly")
    if namespaces_possible().startswith("none"):
        result.assert_outcomes(skipped=2)
    else:
        result.assert_outcomes(passed=2)


def test_nl_faults_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_faults='''
        import pytest
        from nlcore.codec.spec import AddrSpec
        from nlcore.codec.wire import encode_addr

        def test_plan(nl_faults):
            rule = nl_faults.Rule(family="inet", when="2", action=nl_faults.Error("EEXIST"))
            conn = nl_faults.conn(rule, seed=3)
            conn.request(encode_addr(AddrSpec("192.0.2.1/24", index=2)))
            with pytest.raises(FileExistsError):
                conn.request(encode_addr(AddrSpec("192.0.2.2/24", index=2)))
            plan = conn.transport.plan
            assert [(f.rule, f.occurrence) for f in plan.log] == [(0, 2)]

        def test_kata(nl_faults):
            conn = nl_faults.conn(nl_faults.kata_rule(), ext_ack=False)
            with pytest.raises(PermissionError) as ei:
                conn.request(encode_addr(AddrSpec("fe80::1/64", index=2)))
            assert ei.value.errno == 13 and ei.value.msg is None
    ''')
    inner(pytester, *PLUGIN_ARGS).assert_outcomes(passed=2)


def test_nl_replay_fixture(pytester: pytest.Pytester) -> None:
    """Record against the kernel in one test, replay with no kernel in the next."""
    pytester.makepyfile(test_replay='''
        import nlcore
        from nlcore.faults.kernel import KATA_MSG, kata_spec

        def test_1_record(nl_netns, nl_replay):
            nl_netns.disable_ipv6("all")
            conn = nl_replay.record("kata.jsonl", nl_netns)
            (r,) = nlcore.apply([kata_spec()], conn)
            assert (r.status, r.error.errno, r.error.msg) == ("failed", 13, KATA_MSG)

        def test_2_replay(nl_replay, monkeypatch):
            import socket
            monkeypatch.setattr(socket, "socket", None)  # no socket may be opened
            (r,) = nlcore.apply([kata_spec()], nl_replay("kata.jsonl"))
            assert (r.status, r.error.errno, r.error.msg) == ("failed", 13, KATA_MSG)
            assert "disable_ipv6" in r.error.hint
    ''')
    result = inner(pytester, *PLUGIN_ARGS)
    if namespaces_possible().startswith("none"):
        pytest.skip(f"no namespace to record in: {namespaces_possible()}")
    result.assert_outcomes(passed=2)
    assert (pytester.path / "kata.jsonl").read_text().startswith('{"nlcore": "recording"')


def test_skip_reason_is_exact(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
                              ) -> None:
    """Whatever ThrowawayNetns raises is the skip reason (in-process, patched)."""
    pytester.makepyfile(test_skip='''
        import errno
        import pytest
        import nlcore.faults.kernel as k

        @pytest.fixture(autouse=True)
        def no_namespaces(monkeypatch):
            def refuse(userns=None):
                raise PermissionError(errno.EPERM, "cannot create a network namespace: test")
            monkeypatch.setattr(k, "ThrowawayNetns", refuse)

        def test_it(nl_netns):
            raise AssertionError("not reached")
    ''')
    result = inner(pytester, *PLUGIN_ARGS, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*nl_netns: no throwaway network namespace: cannot create a "
                                 "network namespace: test"])


def _setpriv() -> str:
    exe = shutil.which("setpriv")
    if exe is None:
        pytest.skip("setpriv (util-linux) not found")
    return exe


@pytest.mark.kernel
def test_unprivileged_uses_a_user_namespace(pytester: pytest.Pytester) -> None:
    """Without CAP_SYS_ADMIN (dropped from the bounding set) nl_netns still works."""
    if os.geteuid() != 0:
        prefix: list[str] = []  # already unprivileged
    else:
        prefix = [_setpriv(), "--bounding-set", "-sys_admin"]
    pytester.makepyfile(test_u='''
        from nlcore.faults.kernel import KATA_MSG, kata_request, reply_error

        def test_it(nl_netns):
            assert nl_netns.userns and nl_netns.index == 2
            nl_netns.disable_ipv6(nl_netns.dev)
            assert reply_error(nl_netns.exchange(kata_request())) == (-13, KATA_MSG)
    ''')
    res = _run(pytester, prefix)
    if "no throwaway network namespace" in res.stdout:
        pytest.skip(f"user namespaces unavailable here: {res.stdout.strip()[-300:]}")
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout + res.stderr


@pytest.mark.kernel
def test_no_namespace_possible_skips_with_the_reason(pytester: pytest.Pytester) -> None:
    """Really impossible: inside a user namespace whose user.max_user_namespaces is 0, and
    without CAP_SYS_ADMIN. The skip names the cause."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to build a namespace-less environment")
    pytester.makepyfile(test_n="def test_it(nl_netns):\n    raise AssertionError\n")
    script = ('echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" --bounding-set '
              '-sys_admin "$@"')
    res = _run(pytester, [unshare, "-U", "-r", "sh", "-c", script, _setpriv()])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 skipped" in res.stdout
    assert NO_NS_REASON in res.stdout.replace("\n", " ") or NO_NS_REASON in res.stdout, \
        res.stdout
