"""``nlcore inject``: netlink-level faults in unmodified programs through seccomp user-notif.

Every test that runs a program does so in a throwaway network namespace, as root and (where
the machine allows) in a user namespace; the unprivileged test does it all as ``nobody``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
from _util import compiled, have_notif, supervisor, veth_space

from nlcore.codec.wire import AddrSpec, encode_addr, encode_error_reply, encode_getlink
from nlcore.faults.seccomp import bpf as B
from nlcore.faults.seccomp import pending, syscalls
from nlcore.faults.seccomp.inject import main
from nlcore.faults.seccomp.inject import run as inject_run
from nlcore.faults.seccomp.repro import repro as repro_layer
from nlcore.faults.seccomp.rules import RuleSet, parse_errno, parse_rule
from nlcore.net.netns import ThrowawayNetns

ROOT = Path(__file__).resolve().parent.parent
V6_RULE = "RTM_NEWADDR family=inet6"
KATA_MSG = "ipv6: IPv6 is disabled on this device"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
# A stdlib client: argv REQUEST_HEX EXT_ACK CAP_ACK; polls, then prints [port, reply hex]
# of the first reply. The request goes out from a second thread (notifications then come
# from a task that is not its process's leader).
CLIENT = r"""
import json, select, socket, sys, threading
out = []
def work():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.setsockopt(270, 11, int(sys.argv[2]))
    s.setsockopt(270, 10, int(sys.argv[3]))
    s.bind((0, 0))
    s.sendto(bytes.fromhex(sys.argv[1]), (0, 0))
    p = select.poll()
    p.register(s, select.POLLIN)
    if p.poll(5000):
        out.extend([s.getsockname()[0], s.recv(65536).hex()])
t = threading.Thread(target=work)
t.start()
t.join()
print(json.dumps(out))
"""




@pytest.fixture(autouse=True, params=["native", "pure"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test under both supervisors: csrc/supervise.c and its pure twin (NLCORE_PURE
    chooses, in this process and in the ``nlcore inject`` subprocesses alike)."""
    monkeypatch.setitem(ENV, "NLCORE_PURE", "1" if request.param == "pure" else "0")
    return supervisor(str(request.param), monkeypatch)


# ---------------------------------------------------------------- unit: rules, bpf, tokens
def test_rules_parse_and_count() -> None:
    r = parse_rule("RTM_NEWADDR family=inet6 index=2 addr=fe80::/64 when=2..3 errno=EPERM")
    assert (r.type, r.family, r.index, str(r.prefix), r.first, r.last, r.errno) == (
        20, 10, 2, "fe80::/64", 2, 3, errno.EPERM)
    assert (parse_rule("rtm_deladdr when=4+").last, parse_rule("22 when=5").first) == (None, 5)
    for bad in ("", "RTM_NOPE", "RTM_NEWADDR family", "RTM_NEWADDR when=0",
                "RTM_NEWADDR when=3..2", "RTM_NEWADDR addr=zz", "RTM_NEWADDR color=red",
                "RTM_NEWADDR errno=EWHAT"):
        with pytest.raises(ValueError):
            parse_rule(bad)
    assert (parse_errno("eacces"), parse_errno("13"), parse_errno(1)) == (13, 13, 1)
    msgs = [encode_addr(AddrSpec(a, index=i), seq=1) for a, i in
            [("fe80::1/64", 2), ("198.51.100.1/24", 2), ("fe80::2/64", 3), ("fe80::3/64", 2),
             ("2001:db8::1/64", 2), ("fe80::4/64", 2)]]
    rs = RuleSet([parse_rule("RTM_NEWADDR family=inet6 index=2 addr=fe80::/64 when=2..3"),
                  parse_rule("RTM_NEWADDR family=inet6 when=5+")])
    assert [rs.decide(m) for m in msgs] == [None, None, None, 0, None, 0]
    assert rs.counts == [3, 5]  # every rule counts its pattern, fired or not
    assert RuleSet([parse_rule("RTM_NEWADDR")]).decide(encode_getlink(1)) is None
    no_request = bytearray(msgs[0])
    no_request[6] &= ~1  # without NLM_F_REQUEST the kernel ignores it: so do the rules
    assert RuleSet([parse_rule("RTM_NEWADDR")]).decide(bytes(no_request)) is None


def test_notify_filter_program() -> None:
    """Every way into a socket is notified, io_uring is refused, and there is no exception
    (the trampoline's hand-over needs none: nothing survives exec)."""
    prog = B.notify_filter()
    x86, arm = B.AUDIT_ARCH_X86_64, B.AUDIT_ARCH_AARCH64
    allow, notify, enosys = B.SECCOMP_RET_ALLOW, B.SECCOMP_RET_USER_NOTIF, 0x50026
    for arch in (x86, arm):
        nr = B.SYSCALLS[arch]
        for name in B.SEND_SYSCALLS + B.RECV_SYSCALLS + B.REFUSED_SYSCALLS:
            assert B.simulate(prog, nr[name], arch, (3,)) == notify, name
        for flags in (0, 0x800 | 0x4000 | 0x40 | 0x80, 0xFFFFFFFF):  # the old magic, any
            for fd in (3, 1000, 1008):
                assert B.simulate(prog, nr["sendmsg"], arch, (fd, 0, flags)) == notify
        for name in B.URING_SYSCALLS:
            assert B.simulate(prog, nr[name], arch, ()) == enosys, name
        assert B.simulate(prog, nr["socket"], arch, (16,)) == allow  # not needed: not notified
    assert B.simulate(prog, 0x40000000 | 46, x86, ()) == enosys
    assert B.simulate(prog, 102, 0x40000003, ()) == enosys
    assert syscalls.notif_sizes() == (80, 24, 64)


def test_token_roundtrip() -> None:
    tok = pending.token(19, 5)
    ack = encode_error_reply(tok, 0, 4321)  # what the kernel answers: capped success ack
    assert len(ack) == 36 and pending.token_of(ack) == (19, pending.TOKEN_BIT | 5)
    assert pending.token_of(encode_error_reply(encode_getlink(1, seq=19), 0, 4321)) is None
    assert pending.token_of(encode_error_reply(tok, -13, 4321, capped=True)) is None


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/c/batch_client.c, compiled."""
    return compiled(tmp_path_factory, "batch_client")


@pytest.fixture(params=["root", "userns"])
def ns(request: pytest.FixtureRequest) -> Iterator[ThrowawayNetns]:
    """A throwaway namespace with a veth pair v0/v0p (IPv6 on), root or user-namespace."""
    yield from veth_space(request.param == "userns", notif=True)


@pytest.fixture
def ns1() -> Iterator[ThrowawayNetns]:
    """The same, once, in whichever mode this machine offers."""
    yield from veth_space(None, notif=True)


def inject(ns: ThrowawayNetns, cmd: list[str], *opts: str, rules: tuple[str, ...] = (V6_RULE,)
           ) -> subprocess.CompletedProcess[str]:
    """``nlcore inject`` (the CLI) with ``rules`` running ``cmd``, all inside ``ns``."""
    args = [a for r in rules for a in ("--match", r)]
    return ns.run([sys.executable, "-m", "nlcore.faults.seccomp.inject", *args, *opts, "--", *cmd],
                  env=ENV, timeout=60)


def addrs(ns: ThrowawayNetns, dev: str = "v0") -> set[str]:
    out = ns.run(["ip", "-j", "addr", "show", "dev", dev]).stdout
    return {f"{a['local']}/{a['prefixlen']}" for link in json.loads(out)
            for a in link["addr_info"]}


def index_of(ns: ThrowawayNetns, dev: str = "v0") -> int:
    return int(json.loads(ns.run(["ip", "-j", "link", "show", dev]).stdout)[0]["ifindex"])


# ---------------------------------------------------------------- iproute2
@pytest.mark.parametrize("extack", [None, KATA_MSG])
def test_ip_v6_fails_v4_passes(ns: ThrowawayNetns, extack: str | None) -> None:
    opts = ("--extack", extack) if extack else ()
    v6 = inject(ns, ["ip", "addr", "add", "fe80::1/64", "dev", "v0"], *opts)
    expected = f"Error: {extack}.\n" if extack else "RTNETLINK answers: Permission denied\n"
    assert (v6.returncode, v6.stdout, v6.stderr) == (2, "", expected)
    v4 = inject(ns, ["ip", "addr", "add", "198.51.100.1/24", "dev", "v0"], *opts)
    assert (v4.returncode, v4.stdout, v4.stderr) == (0, "", "")
    # both in one run, the program being a shell that forks two ip's
    both = inject(ns, ["sh", "-c", "ip addr add fe80::2/64 dev v0; echo v6=$?; "
                       "ip addr add 198.51.100.2/24 dev v0; echo v4=$?"], *opts)
    assert (both.stdout, both.stderr) == ("v6=2\nv4=0\n", expected)
    assert addrs(ns) == {"198.51.100.1/24", "198.51.100.2/24"}


def test_ip_fifty_runs_identical(ns1: ThrowawayNetns) -> None:
    ns = ns1
    runs = {(r.returncode, r.stdout, r.stderr) for r in
            (inject(ns, ["ip", "addr", "add", "fe80::1/64", "dev", "v0"]) for _ in range(50))}
    assert runs == {(2, "", "RTNETLINK answers: Permission denied\n")}
    assert addrs(ns) == set()


def test_syscall_errno_mode(ns: ThrowawayNetns, client: str, tmp_path: Path) -> None:
    res = inject(ns, ["ip", "addr", "add", "fe80::1/64", "dev", "v0"], "--syscall-errno")
    assert (res.returncode, res.stderr) == (2, "Cannot talk to rtnetlink: Permission denied\n")
    log = tmp_path / "log.jsonl"
    res = inject(ns, [client, "v0", "198.51.100.1/24", "fe80::1/64"], "--syscall-errno",
                 "--errno", "EPERM", "--log", str(log))
    assert (res.returncode, res.stdout, res.stderr) == (
        2, "", "batch_client: sendmsg: Operation not permitted\n")
    assert addrs(ns) == set()  # the whole batch failed: nothing reached the kernel
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["seq"], r["decision"], r["errno"]) for r in recs] == [
        (1, "not-sent", None), (2, "syscall-errno", "EPERM")]


# ---------------------------------------------------------------- batches, receive paths
MIXED = ["198.51.100.1/24", "fe80::1/64", "198.51.100.2/24", "2001:db8::1/64",
         "198.51.100.3/24"]


def _lines(errors: list[int], extack: str | None = None) -> str:
    return "".join(f"seq={i} error={e} pid=ok{f' extack={extack}' if e and extack else ''}\n"
                   for i, e in enumerate(errors, 1))


@pytest.mark.parametrize("mode", [
    ["--send=sendmsg", "--recv=recvmsg"], ["--send=sendto", "--recv=recvfrom"],
    ["--send=write", "--recv=read"], ["--send=sendmmsg", "--recv=recvmmsg"],
    ["--wait=poll", "--peek"], ["--wait=epoll", "--peek", "--ext-ack"],
    ["--cap-ack", "--ext-ack", "--recv=recvfrom"]])
def test_mixed_batch_in_seq_order(ns: ThrowawayNetns, client: str, mode: list[str]) -> None:
    res = inject(ns, [client, *mode, "v0", *MIXED], "--extack", "no v6 here")
    ext = "no v6 here" if "--ext-ack" in mode else None
    assert (res.returncode, res.stdout, res.stderr) == (1, _lines([0, -13, 0, -13, 0], ext), "")
    assert addrs(ns) == {"198.51.100.1/24", "198.51.100.2/24", "198.51.100.3/24"}


@pytest.mark.parametrize("wait", ["poll", "epoll"])
def test_waiters_wake_for_synthetic_replies(ns: ThrowawayNetns, client: str, wait: str) -> None:
    """Only synthetic replies: the socket is still readable (a real token ack is queued)."""
    res = inject(ns, [client, f"--wait={wait}", "--peek", "--pause-ms=50", "v0", "fe80::1/64",
                      "fe80::2/64", "2001:db8::3/64"])
    assert (res.returncode, res.stdout, res.stderr) == (1, _lines([-13, -13, -13]), "")
    assert addrs(ns) == set()


def test_when_windows_and_errno(ns: ThrowawayNetns, client: str) -> None:
    v4 = [f"198.51.100.{i}/24" for i in range(1, 7)]
    res = inject(ns, [client, "v0", *v4], rules=("RTM_NEWADDR family=inet when=2",
                                                  "RTM_NEWADDR when=4..5 errno=ENOSPC",
                                                  "RTM_NEWADDR family=inet when=6+"))
    assert (res.returncode, res.stdout) == (1, _lines([0, -13, 0, -28, -28, -13]))
    assert addrs(ns) == {"198.51.100.1/24", "198.51.100.3/24"}


def test_library_run_counts(ns: ThrowawayNetns, client: str, engine: str) -> None:
    """``inject.run`` in this process (the program in the namespace): the engine it used,
    the program's status, and the supervisor's counters, exact for a known batch."""
    with open(os.devnull, "w") as null:
        res = inject_run([client, "--send=sendmmsg", "--recv=recvmmsg", "v0", *MIXED],
                         [V6_RULE, "RTM_NEWADDR addr=198.51.100.2/32"], popen=ns.popen,
                         stdout=null, env=ENV)
    assert (res.engine, res.returncode, res.counts, res.first_error) == (engine, 1, [2, 1], "")
    assert {k: res.stats[k] for k in ("failed", "delivered", "errors")} == {
        "failed": 3, "delivered": 3, "errors": 0}
    assert addrs(ns) == {"198.51.100.1/24", "198.51.100.3/24"}


def test_log_file(ns: ThrowawayNetns, client: str, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    res = inject(ns, [client, "v0", "198.51.100.1/24", "fe80::1/64"], "--log", "-")
    log.write_text(res.stderr)
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    keep = ("syscall", "seq", "type", "request", "decision", "rule", "errno", "event")
    got = [{k: r[k] for k in keep if k in r} for r in recs]
    idx = index_of(ns)
    assert got == [
        {"syscall": "sendmsg", "seq": 1, "type": "RTM_NEWADDR", "decision": "pass",
         "request": f"RTM_NEWADDR 198.51.100.1/24 dev index {idx}", "rule": None,
         "errno": None},
        {"syscall": "sendmsg", "seq": 2, "type": "RTM_NEWADDR", "decision": "fail",
         "request": f"RTM_NEWADDR fe80::1/64 dev index {idx}", "rule": 0, "errno": "EACCES"},
        {"syscall": "recvmsg", "seq": 2, "event": "reply"}]
    assert recs[1]["hex"] == encode_addr(AddrSpec("fe80::1/64", index=idx, op="replace"),
                                         seq=2).hex()
    assert bytes.fromhex(recs[2]["hex"])[20:] == bytes.fromhex(recs[1]["hex"])  # the echo


# ---------------------------------------------------------------- bytes: as the kernel's own
@pytest.mark.parametrize("ext_ack,cap_ack", [(0, 0), (1, 0), (1, 1), (0, 1)])
def test_synthetic_equals_kernel_reply(ns: ThrowawayNetns, ext_ack: int, cap_ack: int) -> None:
    """The Kata request: the synthetic NLMSGERR (IPv6 on) equals, byte for byte except the
    receiver's port id, what the kernel itself sends with disable_ipv6=1 on the device."""
    req = encode_addr(AddrSpec("fe80::c44c:1cff:fe84:f6b7/64", index=index_of(ns),
                               op="replace", address_first=True), seq=19)
    argv = [sys.executable, "-c", CLIENT, req.hex(), str(ext_ack), str(cap_ack)]
    res = inject(ns, argv, "--extack", KATA_MSG)
    port, synthetic = json.loads(res.stdout)
    assert addrs(ns) == set()
    ns.write_sysctl("net/ipv6/conf/v0/disable_ipv6", "1")
    kport, kernel = json.loads(ns.run(argv, env=ENV).stdout)
    s, k = bytes.fromhex(synthetic), bytes.fromhex(kernel)
    assert int.from_bytes(s[12:16], "little") == port and int.from_bytes(k[12:16], "little") \
        == kport
    assert s[:12] + s[16:] == k[:12] + k[16:]
    assert s == encode_error_reply(req, -13, port, msg=KATA_MSG if ext_ack else None,
                                   capped=bool(cap_ack), ext_ack=bool(ext_ack))


def test_repro_layer() -> None:
    have_notif()
    for ext_ack in (False, True):
        try:
            out = repro_layer("kata-11200", ext_ack)
        except PermissionError as exc:  # nlcore.net.netns.mode(): neither root nor userns
            pytest.skip(f"neither root nor user namespaces: {exc}")
        assert {k: out[k] for k in ("scenario", "layer", "reproduced", "error", "errno",
                                    "extack", "echo_matches_issue", "kernel_untouched")} == {
            "scenario": "kata-11200", "layer": "seccomp", "reproduced": True, "error": -13,
            "errno": "EACCES", "extack": KATA_MSG if ext_ack else None,
            "echo_matches_issue": True, "kernel_untouched": True}
        reply = bytes.fromhex(out["reply_hex"])
        assert reply[20:84] == bytes.fromhex(out["request_hex"])
        assert len(reply) == (128 if ext_ack else 84)
    with pytest.raises(ValueError):
        repro_layer("no-such-scenario", False)


# ---------------------------------------------------------------- process life
def test_exit_status_is_the_programs(ns: ThrowawayNetns) -> None:
    assert inject(ns, ["sh", "-c", "exit 7"]).returncode == 7
    assert inject(ns, ["sh", "-c", "kill -TERM $$"]).returncode == 128 + signal.SIGTERM
    res = inject(ns, ["/nonexistent/prog"])
    assert res.returncode == 127 and "No such file or directory" in res.stderr


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--match", "RTM_NOPE", "--", "true"], ["--match", V6_RULE],
                 ["--match", V6_RULE, "--errno", "EWHAT", "--", "true"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert "unknown message type" in capsys.readouterr().err


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


# The program forks a grandchild that leaves its process group and session, and reports
# both host pids (/proc/self is the host's view: the program runs in a PID namespace).
ORPHAN = ("import os, subprocess, sys, time\n"
          "g = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
          "me = os.readlink('/proc/self')\n"
          "kid = [l for l in open('/proc/%s/task/%s/children' % (me, me)).read().split()]\n"
          "print(me, kid[0], flush=True)\n"
          "time.sleep(60)\n")


def test_target_tree_dies_with_its_supervisor(ns: ThrowawayNetns) -> None:
    """Supervisor SIGKILLed: the program AND a grandchild that escaped into its own
    session die (the PID namespace's init dies with the trampoline); no orphan lives on
    with every write() failing ENOSYS."""
    proc = ns.popen([sys.executable, "-m", "nlcore.faults.seccomp.inject", "--match", V6_RULE,
                     "--", sys.executable, "-c", ORPHAN], env=ENV, stdout=subprocess.PIPE,
                    text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert len(line) == 2, line
    target, grandchild = int(line[0]), int(line[1])
    assert not _gone(target) and not _gone(grandchild)
    os.kill(proc.pid, signal.SIGKILL)  # nsenter exec'd the supervisor: this is it
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (_gone(target) and _gone(grandchild)):
        time.sleep(0.05)
    assert _gone(target), f"target {target} outlived its supervisor"
    assert _gone(grandchild), f"grandchild {grandchild} outlived its supervisor"


# ---------------------------------------------------------------- unprivileged, as nobody
NOBODY_SCRIPT = r"""
import json, subprocess, sys
from nlcore.net.netns import ThrowawayNetns
from nlcore.faults.seccomp import inject
client = sys.argv[1]
out = {}
with ThrowawayNetns(userns=True) as ns:
    ns.run(["ip", "link", "add", "v0p", "type", "veth", "peer", "name", "v0"], check=True)
    def cli(*cmd):
        r = ns.run([sys.executable, "-m", "nlcore.faults.seccomp.inject", "--match",
                    "RTM_NEWADDR family=inet6", "--", *cmd])
        return [r.returncode, r.stdout, r.stderr]
    out["v6"] = cli("ip", "addr", "add", "fe80::1/64", "dev", "v0")
    out["v4"] = cli("ip", "addr", "add", "198.51.100.1/24", "dev", "v0")
    out["batch"] = cli(client, "--wait=poll", "v0", "198.51.100.2/24", "fe80::2/64")
    with open("/dev/null", "w") as null:  # the supervisor outside, the program inside
        lib = inject.run([client, "v0", "fe80::3/64", "198.51.100.3/24"],
                         ["RTM_NEWADDR family=inet6"],
                         popen=ns.popen, stdout=null)
    out["lib"] = [lib.returncode, lib.engine]
    out["addrs"] = sorted(a["local"] for l in json.loads(ns.run(["ip", "-j", "addr"]).stdout)
                          for a in l["addr_info"])
print(json.dumps(out))
"""


def test_unprivileged_as_nobody(client: str, engine: str) -> None:
    have_notif()
    python = "/usr/bin/python3"
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.access(python, os.X_OK):
        pytest.skip("needs root (to become nobody with setpriv) and /usr/bin/python3")
    top = Path(tempfile.mkdtemp(prefix="nlcore-nobody-", dir="/tmp"))
    try:
        shutil.copytree(ROOT / "nlcore", top / "nlcore", ignore=shutil.ignore_patterns(
            "__pycache__", *(["*.so"] if engine == "pure" else [])))
        shutil.copy(client, top / "batch_client")
        for d, _, files in os.walk(top):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o755)
        res = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c",
             NOBODY_SCRIPT, str(top / "batch_client")], capture_output=True, text=True,
            cwd=top, env={"PATH": os.environ["PATH"], "PYTHONPATH": str(top),
                          "NLCORE_PURE": ENV["NLCORE_PURE"]}, timeout=120)
    finally:
        shutil.rmtree(top)
    if res.returncode and ("user namespace" in res.stderr or "unshare" in res.stderr):
        pytest.skip(f"nobody cannot create a user namespace here: {res.stderr[-300:]}")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out == {"v6": [2, "", "RTNETLINK answers: Permission denied\n"],
                   "v4": [0, "", ""],
                   "batch": [1, "seq=1 error=0 pid=ok\nseq=2 error=-13 pid=ok\n", ""],
                   "lib": [1, engine],
                   "addrs": ["198.51.100.1", "198.51.100.2", "198.51.100.3"]}


def test_trampoline_failure_is_reported() -> None:
    """A trampoline that cannot install its filter says why, as an OSError with its errno."""
    have_notif()

    def fake(argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
        chan = argv[5]  # python -I -S -c SCRIPT CHAN ...
        code = ("import socket, sys; s = socket.socket(fileno=int(sys.argv[1]));"
                "s.sendall(b'E1 seccomp: Operation not permitted')")
        return subprocess.Popen([sys.executable, "-c", code, chan], **kw)  # type: ignore

    with pytest.raises(PermissionError, match="trampoline failed: seccomp: Operation not "):
        inject_run(["true"], [V6_RULE], popen=fake)


@pytest.mark.parametrize("ext_ack", [False, True])
def test_nlcore_repro_layer_seccomp(ext_ack: bool, capsys: pytest.CaptureFixture[str]) -> None:
    """``nlcore repro kata-11200 --layer seccomp -j`` (the hook in nlcore.faults.seccomp)."""
    have_notif()
    repro = pytest.importorskip("nlcore.faults.repro")
    code = repro.main(["kata-11200", "--layer", "seccomp", "-j",
                       *(["--ext-ack"] if ext_ack else [])])
    out = json.loads(capsys.readouterr().out)
    if code == 3:
        pytest.skip(f"no namespace here: {out.get('unavailable')}")
    assert code == 0
    assert {k: out[k] for k in ("layer", "reproduced", "error", "errno", "extack",
                                "echo_matches_issue")} == {
        "layer": "seccomp", "reproduced": True, "error": -13, "errno": "EACCES",
        "extack": KATA_MSG if ext_ack else None, "echo_matches_issue": True}
    assert "never reached the kernel" in out["notes"][0]
