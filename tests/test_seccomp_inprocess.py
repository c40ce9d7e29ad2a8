"""nlcore.faults.seccomp.run_filtered: a thread-only seccomp filter, syscall-level errno."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from nlcore.faults.seccomp import ALL_SYSCALLS, SOCKET_SYSCALLS, build_filter, run_filtered
from nlcore.faults.seccomp import bpf as B

ROOT = Path(__file__).resolve().parent.parent
NOOP = struct.pack("=IHHII", 16, 1, 1, 1, 0)  # NLMSG_NOOP, NLM_F_REQUEST, no ack: no reply
try:
    NATIVE = B.native_arch()
except OSError as exc:  # pragma: no cover - other machines
    pytest.skip(f"seccomp filters are built for x86_64/aarch64 only: {exc}",
                allow_module_level=True)
NR = B.SYSCALLS[NATIVE]
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def _status(tid: int | None = None) -> dict[str, str]:
    path = "/proc/thread-self/status" if tid is None else f"/proc/self/task/{tid}/status"
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _nl() -> socket.socket:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.setblocking(False)
    return s


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    """A bound, non-blocking NETLINK_ROUTE socket (only NOOPs are ever sent on it)."""
    s = _nl()
    s.bind((0, 0))
    yield s
    s.close()


def _raw(ret: int) -> int:
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret


class _Iov(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Mmsg(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_Iov)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int), ("len", ctypes.c_uint)]


def _mmsg(fd: int, send: bool) -> int:
    buf = ctypes.create_string_buffer(NOOP if send else 64, 16 if send else 64)
    iov = _Iov(ctypes.addressof(buf), 16 if send else 64)
    m = _Mmsg(None, 0, ctypes.pointer(iov), 1, None, 0, 0, 0)
    if send:
        return _raw(LIBC.sendmmsg(fd, ctypes.byref(m), 1, 0))
    return _raw(LIBC.recvmmsg(fd, ctypes.byref(m), 1, socket.MSG_DONTWAIT, None))


#: One way to make each of the ten syscalls on ``s`` (socket: a new netlink socket; bind:
#: binds ``s``, which the test leaves unbound).
CALLS: dict[str, Callable[[socket.socket], Any]] = {
    "sendto": lambda s: s.sendto(NOOP, (0, 0)),
    "sendmsg": lambda s: s.sendmsg([NOOP], [], 0, (0, 0)),
    "sendmmsg": lambda s: _mmsg(s.fileno(), True),
    "write": lambda s: os.write(s.fileno(), NOOP),
    "recvfrom": lambda s: s.recvfrom(64, socket.MSG_DONTWAIT),
    "recvmsg": lambda s: s.recvmsg(64, 0, socket.MSG_DONTWAIT),
    "recvmmsg": lambda s: _mmsg(s.fileno(), False),
    "read": lambda s: os.read(s.fileno(), 64),
    "socket": lambda s: _nl().close(),
    "bind": lambda s: s.bind((0, 0)),
}


def _errno_of(fn: Callable[[], Any]) -> int:
    try:
        fn()
    except OSError as exc:
        return exc.errno or -1
    return 0


@pytest.mark.parametrize("name", ALL_SYSCALLS)
def test_each_syscall_fails_with_the_errno_only_inside(name: str) -> None:
    s = _nl()
    try:
        if name != "bind":
            s.bind((0, 0))
        inside = run_filtered(lambda: _errno_of(lambda: CALLS[name](s)), syscalls=[name],
                              fd=s.fileno())
        assert inside == errno.EACCES
        # the same call from the caller's thread reaches the kernel: success, or EAGAIN
        # for a receive with nothing queued
        assert _errno_of(lambda: CALLS[name](s)) in (0, errno.EAGAIN)
    finally:
        s.close()


def test_only_the_chosen_syscalls_fail(sock: socket.socket) -> None:
    def body() -> list[int]:
        return [_errno_of(lambda n=n: CALLS[n](sock))  # type: ignore[misc]
                for n in ("sendto", "sendmsg", "write")]

    assert run_filtered(body, syscalls=["sendto"], fd=sock.fileno()) == [errno.EACCES, 0, 0]


def test_fd_match_uses_the_low_32_bits(sock: socket.socket) -> None:
    other = _nl()
    other.bind((0, 0))
    r, w = os.pipe()
    buf = ctypes.create_string_buffer(NOOP, 16)
    addr = ctypes.create_string_buffer(struct.pack("=HHII", socket.AF_NETLINK, 0, 0, 0), 12)

    def wide_sendto() -> int:  # the kernel reads the fd as an int: bits 32..63 are dropped
        return _raw(LIBC.syscall(ctypes.c_long(NR["sendto"]),
                                 ctypes.c_long(sock.fileno() | 1 << 32), buf,
                                 ctypes.c_long(16), ctypes.c_long(0), addr, ctypes.c_long(12)))

    def body() -> list[int]:
        return [_errno_of(lambda: sock.sendto(NOOP, (0, 0))), _errno_of(wide_sendto),
                _errno_of(lambda: other.sendto(NOOP, (0, 0))), _errno_of(lambda: os.write(w, b"x")),
                _errno_of(lambda: os.read(r, 1)), _errno_of(lambda: os.write(sock.fileno(), NOOP))]

    try:
        got = run_filtered(body, fd=sock.fileno())
        assert got == [errno.EACCES, errno.EACCES, 0, 0, 0, errno.EACCES]
        assert wide_sendto() == 16  # unfiltered, the same wide fd is accepted
    finally:
        other.close()
        os.close(r)
        os.close(w)


def test_socket_fails_only_for_netlink() -> None:
    def body() -> list[int]:
        return [_errno_of(lambda: _nl().close()),
                _errno_of(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()),
                _errno_of(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close())]

    assert run_filtered(body, syscalls=["socket"]) == [errno.EACCES, 0, 0]


def test_default_syscalls(sock: socket.socket) -> None:
    r, w = os.pipe()

    def body() -> list[int]:
        with open(__file__, "rb") as f:  # read() on a file: not filtered without fd
            f.read(10)
        return [_errno_of(lambda: os.write(w, b"x")), _errno_of(lambda: CALLS["sendto"](sock)),
                _errno_of(lambda: CALLS["recvmsg"](sock))]

    try:
        assert run_filtered(body) == [0, errno.EACCES, errno.EACCES]
        # with an fd, all ten are filtered for it: write() included
        assert run_filtered(lambda: _errno_of(lambda: CALLS["write"](sock)),
                            fd=sock.fileno()) == errno.EACCES
    finally:
        os.close(r)
        os.close(w)
    assert set(SOCKET_SYSCALLS) == set(ALL_SYSCALLS) - {"read", "write"}


def test_caller_and_other_threads_are_not_filtered(sock: socket.socket) -> None:
    before = _status()
    go, done = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def other() -> None:  # a thread that exists while the filter is active
        go.wait(10)
        seen["errno"] = _errno_of(lambda: sock.sendto(NOOP, (0, 0)))
        seen["status"] = _status()
        done.set()

    t = threading.Thread(target=other)
    t.start()

    def body() -> tuple[dict[str, str], int]:
        go.set()
        done.wait(10)
        return _status(), _errno_of(lambda: sock.sendto(NOOP, (0, 0)))

    mine, err = run_filtered(body, fd=sock.fileno())
    t.join()
    assert (mine["Seccomp"], mine["NoNewPrivs"], err) == ("2", "1", errno.EACCES)
    assert seen["errno"] == 0
    assert (seen["status"]["Seccomp"], seen["status"]["NoNewPrivs"]) == ("0", before["NoNewPrivs"])
    after = _status()
    assert (after["Seccomp"], after["NoNewPrivs"]) == ("0", before["NoNewPrivs"])
    assert sock.sendto(NOOP, (0, 0)) == 16


@pytest.mark.parametrize("err,cls", [(errno.EACCES, PermissionError),
                                     (errno.EPERM, PermissionError),
                                     (errno.ENETDOWN, OSError), (errno.ENOBUFS, OSError)])
def test_errno_shape(sock: socket.socket, err: int, cls: type[OSError]) -> None:
    """A syscall-level failure: OSError from sendto itself, no NLMSGERR, nothing queued."""
    with pytest.raises(cls) as info:
        run_filtered(sock.sendto, NOOP, (0, 0), fd=sock.fileno(), errno=err)
    assert info.value.errno == err and info.value.strerror == os.strerror(err)


def test_result_exception_and_arguments() -> None:
    assert run_filtered(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(KeyError, match="boom"):
        run_filtered(lambda: {"a": 1}["boom"])


@pytest.mark.parametrize("kw", [{"syscalls": ["open"]}, {"syscalls": []}, {"errno": 0},
                                {"errno": 4096}, {"fd": -1}, {"fd": True}])
def test_invalid_arguments(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        run_filtered(lambda: None, **kw)


def test_filter_program_decisions() -> None:
    prog = build_filter(fd=7)
    x86, arm = B.AUDIT_ARCH_X86_64, B.AUDIT_ARCH_AARCH64
    deny, allow, enosys = B.SECCOMP_RET_ERRNO | 13, B.SECCOMP_RET_ALLOW, B.SECCOMP_RET_ERRNO | 38
    cases = [
        ((44, x86, (7,)), deny), ((44, x86, (8,)), allow), ((44, x86, (7 | 1 << 32,)), deny),
        ((0, x86, (7,)), deny), ((39, x86, (7,)), allow),  # getpid
        ((41, x86, (16,)), deny), ((41, x86, (2,)), allow),  # socket: AF_NETLINK only
        ((206, arm, (7,)), deny), ((63, arm, (7,)), deny), ((172, arm, (7,)), allow),
        ((0x40000000 | 44, x86, (7,)), enosys), ((0x40000000 | 39, x86, ()), enosys),  # x32
        ((102, 0x40000003, ()), enosys),  # i386 (socketcall): not an ABI we filter
    ]
    for (nr, arch, args), want in cases:
        assert B.simulate(prog, nr, arch, args) == want, (nr, hex(arch), args)
    assert len(build_filter()) % 8 == 0


@pytest.fixture
def nobody_tree() -> Iterator[Path]:
    """A copy of nlcore/ that user nobody can read, in a world-readable temporary dir."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv (util-linux) to run as nobody")
    top = Path(tempfile.mkdtemp(prefix="nlcore-nobody-", dir="/tmp"))
    try:
        shutil.copytree(ROOT / "nlcore", top / "nlcore",
                        ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        for d, _, files in os.walk(top):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        yield top
    finally:
        shutil.rmtree(top)


def test_unprivileged_thread_filter(nobody_tree: Path) -> None:
    """As nobody (no capabilities at all), no_new_privs makes the filter legal."""
    python = "/usr/bin/python3"
    tmp_path = nobody_tree
    if not os.access(python, os.X_OK):
        pytest.skip(f"{python} (runnable by nobody) is missing")
    code = ("import json, socket, os; from nlcore.faults.seccomp import run_filtered\n"
            "s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\n"
            "def f():\n try:\n  s.sendto(b'x' * 16, (0, 0))\n except OSError as e:\n"
            "  return e.errno\n"
            "print(json.dumps([os.geteuid(), run_filtered(f, fd=s.fileno())]))")
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python,
                          "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(tmp_path), "NLCORE_PURE": "1"}, timeout=60)
    if res.returncode and "Permission denied" in res.stderr and "python" in res.stderr:
        pytest.skip(f"nobody cannot run {python}: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [65534, errno.EACCES]


def test_state_change_never_reaches_the_kernel() -> None:
    """In a throwaway namespace: a filtered RTM_NEWADDR leaves no address behind, the same
    request from the caller's thread adds it."""
    from nlcore.codec.wire import AddrSpec, encode_addr
    from nlcore.net.conn import Conn
    from nlcore.net.netns import ThrowawayNetns
    from nlcore.ops.link import add_veth

    try:
        ns = ThrowawayNetns()
    except OSError as exc:
        pytest.skip(f"no throwaway network namespace here: {exc}")
    with ns, Conn(ns=ns) as conn:
        idx, _ = add_veth(conn, "v0", "v0p")
        s = ns.socket()
        s.bind((0, 0))
        req = encode_addr(AddrSpec("198.51.100.7/24", index=idx), seq=1)

        def addrs() -> list[str]:
            out = ns.run(["ip", "-j", "addr", "show", "dev", "v0"]).stdout
            return [a["local"] for link in json.loads(out) for a in link["addr_info"]]

        with pytest.raises(PermissionError):
            run_filtered(s.sendto, req, (0, 0), fd=s.fileno())
        assert addrs() == []
        assert s.sendto(req, (0, 0)) == len(req)
        assert struct.unpack_from("=i", s.recv(4096), 16)[0] == 0
        assert addrs() == ["198.51.100.7"]
        s.close()
