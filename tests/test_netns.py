"""nlcore.net.netns against the real kernel: throwaway namespaces (root and user-namespace modes),
sockets opened in other namespaces, sysctls, cleanup after SIGKILL, and an unprivileged run."""

from __future__ import annotations

import errno
import functools
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import Any, Iterator

import pytest

from nlcore.net import netns
from nlcore.net.netns import NetnsFd, ThrowawayNetns, open_socket, sysctl_path

REPO = pathlib.Path(__file__).resolve().parents[1]
SO_NETNS_COOKIE = 71  # include/uapi/asm-generic/socket.h
DISABLE_V6 = "net/ipv6/conf/all/disable_ipv6"

# Shared with the child scripts below (which cannot import pytest): an RTM_GETLINK dump.
DUMP_SRC = '''
import struct
def dump_link_names(sock):
    """Send the 20-byte RTM_GETLINK dump request; return the IFLA_IFNAME of every reply."""
    sock.settimeout(5)
    sock.send(struct.pack("=IHHII", 20, 18, 0x301, 1, 0) + struct.pack("=B3x", 0))
    names = set()
    while True:
        buf = sock.recv(1 << 16)
        off = 0
        while off + 16 <= len(buf):
            ln, typ, _flags, seq, _pid = struct.unpack_from("=IHHII", buf, off)
            assert seq == 1 and 16 <= ln <= len(buf) - off, (seq, ln)
            if typ == 3:  # NLMSG_DONE
                return names
            assert typ == 16, typ  # RTM_NEWLINK (an NLMSG_ERROR would be a failure)
            a = off + 16 + 16  # nlmsghdr + ifinfomsg
            while a + 4 <= off + ln:
                alen, atyp = struct.unpack_from("=HH", buf, a)
                if atyp == 3:  # IFLA_IFNAME
                    names.add(buf[a + 4:a + alen].rstrip(b"\\0").decode())
                a += (alen + 3) & ~3
            off += (ln + 3) & ~3
'''
_g: dict[str, Any] = {}
exec(DUMP_SRC, _g)
dump_link_names = _g["dump_link_names"]


@functools.cache
def _why_not(userns: bool) -> str | None:
    """Why this mode cannot run here (None if it can)."""
    if not userns:
        return None if netns.mode() == "root" else "root mode needs euid 0 with CAP_SYS_ADMIN"
    try:
        ThrowawayNetns(userns=True).close()
    except OSError as e:
        return f"user namespaces unavailable: {e}"
    return None


MODES = [pytest.param(False, id="root"), pytest.param(True, id="userns")]


def _need(userns: bool) -> None:
    why = _why_not(userns)
    if why:
        pytest.skip(f"namespace mode not available: {why}")


@pytest.fixture(params=MODES)
def ns(request: pytest.FixtureRequest) -> Iterator[ThrowawayNetns]:
    _need(request.param)
    with ThrowawayNetns(userns=request.param) as n:
        assert n.userns is request.param
        yield n


def ip_links(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return sorted(link["ifname"] for link in json.loads(result.stdout))


def host_links() -> list[tuple[int, str]]:
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True)
    return sorted((link["ifindex"], link["ifname"]) for link in json.loads(out.stdout))


def add_veth(ns: ThrowawayNetns) -> None:
    r = ns.run(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
    assert r.returncode == 0, r.stderr


def cookie(sock: socket.socket) -> int:
    return int.from_bytes(sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8), "little")


def n_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def thread_ns() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def test_new_namespace_is_empty(ns: ThrowawayNetns) -> None:
    assert ip_links(ns.run(["ip", "-j", "link", "show"])) == ["lo"]
    assert ns.inode != thread_ns()
    assert os.readlink(ns.path) == f"net:[{ns.inode}]"
    with ns.socket() as s:
        assert dump_link_names(s) == {"lo"}


def test_veth_lives_inside_only(ns: ThrowawayNetns) -> None:
    before = host_links()
    add_veth(ns)
    assert ip_links(ns.run(["ip", "-j", "link"])) == ["lo", "v0", "v1"]
    assert host_links() == before
    host_names = {name for _, name in before} - {"lo"}
    with ns.socket() as s:
        names = dump_link_names(s)
    assert names == {"lo", "v0", "v1"} and not names & host_names
    # every way of naming the namespace reaches the same one
    with ns.socket() as ref:
        want = cookie(ref)
    for spec in (ns, ns.path, pathlib.Path(ns.path), NetnsFd(ns.fd())):
        with open_socket(spec) as s:
            assert cookie(s) == want, spec
            assert dump_link_names(s) == {"lo", "v0", "v1"}
    with open_socket(ns, socket.AF_INET, socket.SOCK_DGRAM) as s:
        assert cookie(s) == want and s.family == socket.AF_INET


def test_sysctl_round_trip(ns: ThrowawayNetns) -> None:
    host_file = "/proc/sys/" + DISABLE_V6
    host = pathlib.Path(host_file).read_text()
    for value in ("1", "0", "1"):
        ns.write_sysctl(DISABLE_V6, value)
        assert ns.read_sysctl(DISABLE_V6) == value
        seen = ns.run(["cat", host_file])  # an independent reader inside the namespace
        assert seen.returncode == 0 and seen.stdout == value + "\n", seen
        assert pathlib.Path(host_file).read_text() == host
    with pytest.raises(FileNotFoundError) as exc:
        ns.read_sysctl("net/ipv4/conf/nlcore-no-such-if/forwarding")
    assert exc.value.errno == errno.ENOENT and "nlcore-no-such-if" in str(exc.value)
    with pytest.raises(OSError) as exc2:
        ns.write_sysctl(DISABLE_V6, "not-a-number")
    assert exc2.value.errno == errno.EINVAL
    assert ns.read_sysctl(DISABLE_V6) == "1"


@pytest.mark.parametrize("bad", ["", "net", "/proc/sys/net/ipv6/x", "kernel/hostname",
                                 "net/../kernel/hostname", "net//x", "net/./x", "net/x\0y"])
def test_sysctl_path_rejected(bad: str) -> None:
    with pytest.raises(ValueError) as exc:
        sysctl_path(bad)
    assert repr(bad) in str(exc.value)


def test_holder_refuses_paths_outside_proc_sys_net() -> None:
    _need(True)
    with ThrowawayNetns(userns=True) as ns:
        with pytest.raises(OSError) as exc:
            ns._call({"op": "read", "path": "/etc/passwd"})
        assert exc.value.errno == errno.EINVAL and "/etc/passwd" in str(exc.value)
        with pytest.raises(ValueError):
            ns.write_sysctl("kernel/hostname", "x")
        assert ns.read_sysctl(DISABLE_V6) in ("0", "1")  # the channel is still in step


def test_close_releases_everything(ns: ThrowawayNetns) -> None:
    add_veth(ns)
    sock = ns.socket()
    holder = ns.holder_pid
    ns.close()
    ns.close()
    assert ns.closed
    assert dump_link_names(sock) == {"lo", "v0", "v1"}  # a socket keeps its namespace
    sock.close()
    for call in (ns.socket, lambda: ns.path, lambda: ns.run(["true"]),
                 lambda: ns.read_sysctl(DISABLE_V6)):
        with pytest.raises(ValueError, match="closed"):
            call()
    if holder is not None:
        assert not os.path.exists(f"/proc/{holder}")  # reaped, not a zombie


@pytest.mark.parametrize("userns", [False, True], ids=["root", "userns"])
def test_no_fd_left_behind(userns: bool) -> None:
    _need(userns)
    before = n_fds()
    with ThrowawayNetns(userns=userns) as ns:
        ns.socket().close()
        ns.write_sysctl(DISABLE_V6, "1")
        assert ns.run(["true"]).returncode == 0
        ns.fd()
    assert n_fds() == before


def test_create_close_loop_does_not_leak() -> None:
    _need(False)
    n, before = 200, n_fds()
    t0 = time.perf_counter()
    for _ in range(n):
        ThrowawayNetns(userns=False).close()
    per_ns = (time.perf_counter() - t0) / n
    assert n_fds() == before
    print(f"root mode create+close: {per_ns * 1e6:.0f} us per namespace")
    assert per_ns < 0.05, per_ns


def test_calling_thread_never_moves() -> None:
    _need(False)
    home, tid, stop = thread_ns(), threading.get_native_id(), threading.Event()
    seen: set[int] = set()

    def sample() -> None:
        while not stop.is_set():
            seen.add(os.stat(f"/proc/self/task/{tid}/ns/net").st_ino)

    watcher = threading.Thread(target=sample)
    with ThrowawayNetns(userns=False) as ns:
        watcher.start()
        try:
            for _ in range(50):
                open_socket(ns.path).close()
                ns.socket().close()
                ns.read_sysctl(DISABLE_V6)
                with pytest.raises(OSError):
                    open_socket("/proc/self/ns/uts")
                with pytest.raises(OSError):
                    open_socket("/nonexistent/nlcore")
                assert thread_ns() == home
        finally:
            stop.set()
            watcher.join()
    assert seen == {home} and thread_ns() == home


def _unused_fd() -> int:
    fd = os.open("/dev/null", os.O_RDONLY)
    os.close(fd)
    return fd


@pytest.mark.parametrize(("spec", "exc", "err", "text"), [
    ("", ValueError, None, "''"),
    (".", ValueError, None, "'.'"),
    ("..", ValueError, None, "'..'"),
    ("a\0b", ValueError, None, "'a\\x00b'"),
    (0, ValueError, None, "0"),
    (-7, ValueError, None, "-7"),
    (True, TypeError, None, "True"),
    (b"/proc/self/ns/net", TypeError, None, "b'/proc/self/ns/net'"),
    ("nlcore-no-such-ns", FileNotFoundError, errno.ENOENT, "/run/netns/nlcore-no-such-ns"),
    ("/nonexistent/nlcore", FileNotFoundError, errno.ENOENT, "/nonexistent/nlcore"),
    (pathlib.Path("rel-path-no-slash"), FileNotFoundError, errno.ENOENT, "rel-path-no-slash"),
    (4194305, FileNotFoundError, errno.ENOENT, "/proc/4194305/ns/net"),  # > PID_MAX_LIMIT
    ("/proc/self/ns/uts", OSError, errno.EINVAL, "/proc/self/ns/uts"),
    ("/dev/null", OSError, errno.EINVAL, "/dev/null"),
])
def test_open_socket_errors(spec: Any, exc: type[BaseException], err: int | None,
                            text: str) -> None:
    home = thread_ns()
    with pytest.raises(exc) as info:
        open_socket(spec)
    assert text in str(info.value)
    if err is not None:
        assert isinstance(info.value, OSError) and info.value.errno == err
    assert thread_ns() == home


def test_open_socket_bad_fd() -> None:
    with pytest.raises(ValueError, match="-1"):
        NetnsFd(-1)
    fd = _unused_fd()
    with pytest.raises(OSError) as info:
        open_socket(NetnsFd(fd))
    assert info.value.errno == errno.EBADF and f"NetnsFd({fd})" in str(info.value)


def test_open_socket_by_pid(ns: ThrowawayNetns) -> None:
    add_veth(ns)
    proc = ns.popen(["sleep", "30"])
    try:
        deadline = time.monotonic() + 5
        while os.stat(f"/proc/{proc.pid}/ns/net").st_ino != ns.inode:
            assert time.monotonic() < deadline, "the child never entered the namespace"
            time.sleep(0.005)
        with open_socket(proc.pid) as s:
            assert dump_link_names(s) == {"lo", "v0", "v1"}
    finally:
        proc.kill()
        proc.wait()
    with open_socket(os.getpid()) as s:  # our own namespace: the host's links
        assert dump_link_names(s) == {name for _, name in host_links()}


def _refs(ino: int, want_cookie: int) -> list[str]:
    """Every /proc/*/ns/net and /proc/*/fd/* that is this very namespace (checked by cookie)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            paths = [f"/proc/{pid}/ns/net"]
            paths += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        for path in paths:
            try:
                if os.readlink(path) != f"net:[{ino}]":
                    continue
                with open_socket(path) as s:
                    if cookie(s) == want_cookie:
                        found.append(path)
            except OSError:
                continue
    return found


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # exited, unreaped
    except FileNotFoundError:
        return True


CHILD = textwrap.dedent('''
    import json, socket, sys, time
    from nlcore.net.netns import ThrowawayNetns
    ns = ThrowawayNetns(userns=sys.argv[1] == "1")
    s = ns.socket()
    ck = int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little")
    print(json.dumps({"ino": ns.inode, "holder": ns.holder_pid, "cookie": ck}), flush=True)
    time.sleep(60)
''')


@pytest.mark.parametrize("userns", [False, True], ids=["root", "userns"])
def test_sigkill_leaves_nothing(userns: bool) -> None:
    _need(userns)
    if os.geteuid() != 0:
        pytest.skip("scanning other processes' namespaces needs root")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, "1" if userns else "0"],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        refs = _refs(info["ino"], info["cookie"])
        assert refs, "the scan must see the live namespace"
        holder = info["holder"]
        assert (holder is not None) is userns
        if holder is not None:
            assert f"/proc/{holder}/ns/net" in refs
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while (holder is not None and not _gone(holder)) or _refs(info["ino"], info["cookie"]):
        assert time.monotonic() < deadline, f"left behind: {_refs(info['ino'], info['cookie'])}"
        time.sleep(0.02)


UNPRIV = DUMP_SRC + textwrap.dedent('''
    import json, os
    from nlcore.net import netns
    out = {"euid": os.geteuid()}
    try:
        out["mode"] = netns.mode()
        ns = netns.ThrowawayNetns()
    except OSError as e:
        print(json.dumps({"error": str(e), "blockers": netns._userns_blockers()}))
        raise SystemExit(0)
    with ns:
        out["userns"] = ns.userns
        out["before"] = sorted(x["ifname"] for x in json.loads(ns.run(["ip", "-j", "link"]).stdout))
        r = ns.run(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
        out["add"] = [r.returncode, r.stderr]
        out["after"] = sorted(x["ifname"] for x in json.loads(ns.run(["ip", "-j", "link"]).stdout))
        with ns.socket() as s:
            out["dump"] = sorted(dump_link_names(s))
        ns.write_sysctl("net/ipv6/conf/all/disable_ipv6", "1")
        out["sysctl"] = ns.read_sysctl("net/ipv6/conf/all/disable_ipv6")
        out["cat"] = ns.run(["cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6"]).stdout
        holder = ns.holder_pid
    out["holder_left"] = os.path.exists("/proc/%d" % holder)
    print(json.dumps(out))
''')

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _run_as_nobody(argv: list[str], cwd: str,
                   env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_unprivileged_user() -> None:
    """The whole tour as `nobody`, from a copy of nlcore/ alone (vendored, pure backend)."""
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is needed to drop to nobody")
    tmp = tempfile.mkdtemp(prefix="nlcore-netns-")
    try:
        os.chmod(tmp, 0o755)
        shutil.copytree(REPO / "nlcore", os.path.join(tmp, "nlcore"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        for root, dirs, files in os.walk(tmp):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
        env = {"PATH": SAFE_PATH, "PYTHONPATH": tmp, "NLCORE_PURE": "1", "HOME": tmp}
        if os.geteuid() == 0:
            python = sys.executable  # must be able to start itself again (the holder) as nobody
            probe = "import subprocess, sys; subprocess.run([sys.executable, '-c', ''], check=True)"
            if _run_as_nobody([python, "-c", probe], tmp, env).returncode != 0:
                python = shutil.which("python3", path=SAFE_PATH) or "/usr/bin/python3"
            r = _run_as_nobody([python, "-c", UNPRIV], tmp, env)
        else:
            r = subprocess.run([sys.executable, "-c", UNPRIV], capture_output=True, text=True,
                               cwd=tmp, env=env, timeout=60)
    finally:
        shutil.rmtree(tmp)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    if "error" in out:
        if out["blockers"]:
            pytest.skip(f"user namespaces unavailable: {out['error']}")
        pytest.fail(f"ThrowawayNetns failed unprivileged: {out['error']}")
    assert out == {"euid": 65534 if os.geteuid() == 0 else os.geteuid(), "mode": "userns",
                   "userns": True, "before": ["lo"], "add": [0, ""],
                   "after": ["lo", "v0", "v1"], "dump": ["lo", "v0", "v1"], "sysctl": "1",
                   "cat": "1\n", "holder_left": False}


USERNS_OFF = textwrap.dedent('''
    import json
    from nlcore.net import netns
    out = {}
    calls = (("mode", netns.mode), ("ctor", netns.ThrowawayNetns),
             ("forced", lambda: netns.ThrowawayNetns(userns=True)))
    for name, call in calls:
        try:
            call()
        except OSError as e:
            out[name] = [type(e).__name__, e.errno, str(e)]
    print(json.dumps(out))
''')


def test_clear_error_when_nothing_works() -> None:
    """In a user namespace whose max_user_namespaces is 0, with every capability dropped."""
    _need(True)
    script = ("echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --bounding-set=-all"
              ' --inh-caps=-all "$0" -c "$1"')
    r = subprocess.run(["unshare", "-U", "-r", "sh", "-c", script, sys.executable, USERNS_OFF],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                       timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for name in ("mode", "ctor"):
        kind, err, text = out[name]
        assert (kind, err) == ("PermissionError", errno.EPERM), out
        assert "not root with CAP_SYS_ADMIN" in text and "user.max_user_namespaces = 0" in text
    kind, err, text = out["forced"]  # the kernel's own answer, explained
    assert (kind, err) == ("OSError", errno.ENOSPC), out
    assert "unshare(CLONE_NEWUSER|CLONE_NEWNET)" in text and "max_user_namespaces = 0" in text
