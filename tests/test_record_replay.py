"""``nlcore record`` / ``nlcore replay``: a program's conversation recorded in a throwaway
namespace, replayed as ``nobody`` outside any namespace, compared byte for byte; rules fail
recorded steps; the in-process twin reads and writes the same TRACE."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_addr
from nlcore.faults.replay import recording_conn, replay_conn
from nlcore.faults.seccomp import notify
from nlcore.faults.seccomp.bpf import native_arch
from nlcore.faults.seccomp.record import record
from nlcore.faults.trace import read_trace
from nlcore.faults.tracematch import UnknownRequest
from nlcore.faults.tracetransport import TraceTransport
from nlcore.net.conn import Conn
from nlcore.net.netns import ThrowawayNetns
from nlcore.ops.engine import apply

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "/usr/bin/python3"
SETUP = """\
link add v0 type veth peer name v1
link set v0 up
link set v1 up
addr add 192.0.2.1/24 dev v0
addr add 2001:db8::1/64 dev v0 nodad
route add 198.51.100.0/24 via 192.0.2.254 dev v0
route add 2001:db8:1::/64 via 2001:db8::254 dev v0
neigh add 192.0.2.7 lladdr 02:00:00:00:00:07 dev v0
"""
DUMPS = "ip -j addr show; ip -j route show; ip -6 -j route show; ip -j neigh show; " \
        "ip -j link show v0; ip -br addr; $PY -m nlcore -j addr show dev v0; " \
        "$PY -m nlcore addr show; $PY -m nlcore addr add 192.0.2.1/24 dev v0; echo status $?"
#: an IPv4 route, then (exec'd, so that timeout's signal reaches ip) an IPv6 one
TWO_ROUTES = "ip route replace 198.51.100.0/24 via 192.0.2.254 dev v0 && echo v4; " \
             "exec ip -6 route replace 2001:db8:1::/64 via 2001:db8::254 dev v0"
#: nlcore itself: apply() over the library, its report printed (same specs in both twins)
NLCORE_SCRIPT = """
import json
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_addr
from nlcore.net.conn import Conn
from nlcore.ops.engine import apply
specs = [AddrSpec("203.0.113.5/24", index=2), AddrSpec("2001:db8:5::5/64", index=2),
         AddrSpec("203.0.113.5/24", index=2)]
rep = apply(specs, Conn())
print(json.dumps([[r.status, r.error and r.error.errno] for r in rep]))
"""
SPECS = [AddrSpec("203.0.113.5/24", index=2), AddrSpec("2001:db8:5::5/64", index=2),
         AddrSpec("203.0.113.5/24", index=2)]


def _need() -> None:
    try:
        notify.check_sizes()
        native_arch()
    except OSError as exc:
        pytest.skip(f"seccomp user notification not available: {exc}")
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("ip") \
            or not os.access(PYTHON, os.X_OK):
        pytest.skip("needs root (a throwaway namespace, setpriv to become nobody), ip and "
                    "/usr/bin/python3")


@pytest.fixture(scope="module")
def tree() -> Iterator[Path]:
    """A copy of nlcore that ``nobody`` can read (the worktree may not be)."""
    top = Path(tempfile.mkdtemp(prefix="nlcore-replay-", dir="/tmp"))
    shutil.copytree(ROOT / "nlcore", top / "nlcore",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (top / "setup.batch").write_text(SETUP)
    for d, _, files in os.walk(top):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    try:
        yield top
    finally:
        shutil.rmtree(top)


def ns_record(ns: ThrowawayNetns, trace: Path, cmd: list[str]) -> tuple[int, str, str]:
    """``nlcore record`` of ``cmd`` inside ``ns`` (root): (status, stdout, stderr)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        code = record(cmd, str(trace), popen=ns.popen, stdout=out, stderr=err,
                      env={**os.environ, "PYTHONPATH": str(ROOT), "PY": sys.executable})
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def nobody_replay(tree: Path, trace: Path, cmd: list[str], *opts: str
                  ) -> subprocess.CompletedProcess[str]:
    """``nlcore replay`` as nobody, no capabilities, in the host's namespaces."""
    os.chmod(trace, 0o644)
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         PYTHON, "-m", "nlcore", "replay", str(trace), *opts, "--", *cmd],
        capture_output=True, text=True, cwd=tree, timeout=120,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(tree), "NLCORE_PURE": "1",
             "PY": PYTHON})


@pytest.fixture(scope="module")
def batch(tree: Path) -> Iterator[tuple[Path, tuple[int, str, str], Any]]:
    """``ip -batch setup.batch`` and the dumps after it, recorded in a throwaway netns."""
    _need()
    with ThrowawayNetns() as ns:
        trace = tree / "setup.trace"
        rec = ns_record(ns, trace, ["ip", "-batch", str(tree / "setup.batch")])
        dumps = ns_record(ns, tree / "dumps.trace", ["sh", "-c", DUMPS])
        state = json.loads(ns.run(["ip", "-j", "addr", "show", "v0"]).stdout)
        routes = ns.run(["ip", "-6", "route", "show", "2001:db8:1::/64"]).stdout
        nl = ns_record(ns, tree / "nlcore.trace", [sys.executable, "-c", NLCORE_SCRIPT])
        two = ns_record(ns, tree / "routes.trace", ["sh", "-c", TWO_ROUTES])
        assert two == (0, "v4\n", ""), two
    yield trace, rec, (state, routes, dumps, nl)


# ---------------------------------------------------------------- the CLI, end to end
def test_record_performed_the_requests(batch: Any) -> None:
    trace, (code, out, err), (state, routes, _d, _n) = batch
    assert (code, out, err) == (0, "", "")
    locals_ = {a["local"] for a in state[0]["addr_info"]}
    assert {"192.0.2.1", "2001:db8::1"} <= locals_  # read back by ip, in the namespace
    assert "via 2001:db8::254" in routes
    t = read_trace(trace)
    assert t.status == 0 and t.header["cmd"][:2] == ["ip", "-batch"]
    assert any(ev["ev"] == "sockopt" and ev["opt"] == "NETLINK_EXT_ACK" for ev in t.events)


def test_batch_replayed_as_nobody_outside_the_namespace(tree: Path, batch: Any) -> None:
    trace, rec, _ = batch
    res = nobody_replay(tree, trace, ["ip", "-batch", str(tree / "setup.batch")])
    assert (res.returncode, res.stdout, res.stderr) == rec
    host = subprocess.run(["ip", "link", "show", "v0"], capture_output=True, text=True)
    assert host.returncode != 0  # nothing reached the host's kernel (v0 is not there)


@pytest.mark.parametrize("opts, expect", [
    ((), "RTNETLINK answers: Permission denied\n"),
    (("--errno", "EEXIST"), "RTNETLINK answers: File exists\n"),
    (("--extack", "ipv6: IPv6 is disabled on this device"),
     "Error: ipv6: IPv6 is disabled on this device.\n"),
])
def test_rule_fails_exactly_the_ipv6_route(tree: Path, batch: Any, opts: tuple[str, ...],
                                           expect: str) -> None:
    trace, _rec, _ = batch
    res = nobody_replay(tree, trace, ["ip", "-batch", str(tree / "setup.batch")],
                        "--match", "RTM_NEWROUTE family=inet6", *opts)
    assert res.stdout == ""
    assert res.stderr == f"{expect}Command failed {tree / 'setup.batch'}:7\n"
    assert res.returncode == 1


def test_overrun_and_lost_reply_of_the_ipv6_route(tree: Path, batch: Any) -> None:
    """``action=overrun``: ip's receive fails ENOBUFS at line 7, as a full queue makes it;
    ``action=lose``: no reply to the IPv6 route ever comes, so that ip waits for it (until
    timeout's SIGTERM) after the IPv4 one was answered."""
    trace, _rec, _ = batch
    setup = str(tree / "setup.batch")
    res = nobody_replay(tree, trace, ["ip", "-batch", setup],
                        "--match", "RTM_NEWROUTE family=inet6 action=overrun")
    assert res.stdout == ""
    assert res.stderr == ("netlink receive error No buffer space available (105)\n"
                          f"Command failed {setup}:7\n")
    assert res.returncode == 1
    routes = tree / "routes.trace"
    cmd = ["timeout", "5", "sh", "-c", TWO_ROUTES]
    plain = nobody_replay(tree, routes, cmd)
    assert (plain.returncode, plain.stdout, plain.stderr) == (0, "v4\n", "")
    res = nobody_replay(tree, routes, cmd, "--match", "RTM_NEWROUTE family=inet6 action=lose")
    assert (res.returncode, res.stdout, res.stderr) == (124, "v4\n", "")


def test_dumps_print_the_same(tree: Path, batch: Any) -> None:
    _t, _r, (_s, _rt, dumps, _n) = batch
    assert dumps[0] == 0 and "192.0.2.1" in dumps[1] and "02:00:00:00:00:07" in dumps[1]
    assert '"local": "192.0.2.1"' in dumps[1] or '"local":"192.0.2.1"' in dumps[1]
    assert "status 2" in dumps[1] and "File exists" in dumps[2]  # nlcore's own EEXIST
    res = nobody_replay(tree, tree / "dumps.trace", ["sh", "-c", DUMPS])
    assert (res.returncode, res.stdout, res.stderr) == dumps


def test_nlcore_itself_prints_the_same(tree: Path, batch: Any) -> None:
    _t, _r, (_s, _rt, _d, nl) = batch
    assert nl[0] == 0 and json.loads(nl[1]) == [["ok", None], ["ok", None],
                                                ["failed", 17]]
    res = nobody_replay(tree, tree / "nlcore.trace", [PYTHON, "-c", NLCORE_SCRIPT])
    assert (res.returncode, res.stdout, res.stderr) == nl
    res = nobody_replay(tree, tree / "nlcore.trace", [PYTHON, "-c", NLCORE_SCRIPT],
                        "--match", "RTM_NEWADDR family=inet6 errno=EADDRNOTAVAIL")
    assert json.loads(res.stdout) == [["ok", None], ["failed", 99], ["failed", 17]]
    # EACCES makes apply() look at the link (the GKE diagnosis): a request this trace never
    # saw, so replay stops and names it
    res = nobody_replay(tree, tree / "nlcore.trace", [PYTHON, "-c", NLCORE_SCRIPT],
                        "--match", "RTM_NEWADDR family=inet6 errno=EACCES")
    assert res.returncode == 125
    assert "request not in the trace: RTM_GETLINK dev index 2; the trace holds no " \
        "RTM_GETLINK request (it holds RTM_NEWADDR x3" in res.stderr


def test_unknown_request_names_the_closest(tree: Path, batch: Any) -> None:
    trace, _rec, _ = batch
    other = tree / "other.batch"
    other.write_text(SETUP.replace("198.51.100.0/24", "203.0.113.0/24"))
    os.chmod(other, 0o644)
    res = nobody_replay(tree, trace, ["ip", "-batch", str(other)])
    assert res.returncode == 125
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("nlcore replay:"))
    assert "request not in the trace: RTM_NEWROUTE" in line
    assert "closest recorded: RTM_NEWROUTE" in line
    assert "differs in: RTA_DST 203.0.113.0 != 198.51.100.0" in line
    res = nobody_replay(tree, trace, ["ip", "-batch", str(other)], "--unknown", "eopnotsupp")
    assert res.returncode == 1
    assert res.stderr.startswith(f"Error: not in the replay trace.\nCommand failed {other}:6\n")
    assert "answered EOPNOTSUPP: request not in the trace: RTM_NEWROUTE" in res.stderr


def test_decode_shows_a_trace(batch: Any) -> None:
    trace, _rec, _ = batch
    res = subprocess.run([sys.executable, "-m", "nlcore", "decode", str(trace)],
                         capture_output=True, text=True, env={**os.environ,
                                                              "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("# nlcore TRACE v1: ip -batch ")
    assert "RTM_NEWADDR len" in res.stdout and "sockopt NETLINK_EXT_ACK = 1" in res.stdout
    res = subprocess.run([sys.executable, "-m", "nlcore", "decode", "-j", str(trace)],
                         capture_output=True, text=True, env={**os.environ,
                                                              "PYTHONPATH": str(ROOT)})
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert lines[0]["nlcore_trace"] == 1
    assert any(m.get("type") == "RTM_NEWADDR" for ev in lines[1:]
               for m in ev.get("messages", []))


# ---------------------------------------------------------------- the in-process twin
def test_cli_trace_replayed_in_process(tree: Path, batch: Any) -> None:
    """Recorded by the CLI (another process), replayed by a Conn inside pytest."""
    _t, _r, (_s, _rt, _d, nl) = batch
    path = tree / "nlcore.trace"
    rep = apply(SPECS, Conn(TraceTransport(path)))
    assert [[r.status, r.error and r.error.errno] for r in rep] == json.loads(nl[1])
    rep = apply(SPECS, replay_conn(path, rules=["RTM_NEWADDR family=inet6 errno=EPERM"]))
    assert [r.error and r.error.errno for r in rep] == [None, 1, 17]
    with pytest.raises(UnknownRequest, match=r"differs in: .*IFA_LOCAL 203\.0\.113\.6 != "
                                             r"203\.0\.113\.5"):
        TraceTransport(path).send(encode_addr(AddrSpec("203.0.113.6/24", index=2), seq=9))


def test_in_process_trace_replayed_by_the_cli(tree: Path) -> None:
    """Recorded by a Conn inside pytest, replayed by the CLI for a program as nobody."""
    _need()
    path = tree / "inproc.trace"
    with ThrowawayNetns() as ns:
        ns.run(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=True)
        ns.run(["ip", "link", "set", "v0", "up"], check=True)
        conn = recording_conn(path, ns=ns, trace=True)
        rep = apply(SPECS, conn)
        conn.close()
    want = [[r.status, r.error and r.error.errno] for r in rep]
    assert want == [["ok", None], ["ok", None], ["failed", 17]]
    res = nobody_replay(tree, path, [PYTHON, "-c", NLCORE_SCRIPT])
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == want
