"""Network namespaces: sockets opened inside any namespace, and throwaway namespaces.

The caller's thread never changes namespace: a short-lived helper thread does ``setns()`` (or
``unshare()``) and the syscall, then exits. A :class:`ThrowawayNetns` dies with its owner, even
on SIGKILL: as root it is an fd this process keeps; otherwise a holder child in a new user+net
namespace hands out sockets (SCM_RIGHTS) and exits on EOF. ``/run/netns`` is never touched.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from typing import Any, Callable, Sequence, TypeVar, Union

from ..codec.consts import NETLINK_ROUTE
from ._nsutil import (
    _HOLDER,
    CAP_SYS_ADMIN,
    CLONE_NEWNET,
    CLONE_NEWUSER,
    _in_thread,
    _unshare_net,
    _userns_blockers,
    mode,
    sysctl_path,
)

__all__ = ["CAP_SYS_ADMIN", "CLONE_NEWNET", "CLONE_NEWUSER", "NetnsFd", "NetnsSpec",
           "ThrowawayNetns", "mode", "netns_path", "open_socket", "sysctl_path"]
_T = TypeVar("_T")


class NetnsFd:
    """A borrowed, open fd of a network namespace (nlcore never closes it)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        if isinstance(fd, bool) or not isinstance(fd, int) or fd < 0:
            raise ValueError(f"not a file descriptor: {fd!r}")
        self.fd = fd

    def __repr__(self) -> str:
        return f"NetnsFd({self.fd})"


NetnsSpec = Union[str, "os.PathLike[str]", int, NetnsFd, "ThrowawayNetns"]


def netns_path(ns: str | os.PathLike[str] | int) -> str:
    """The path of a namespace given as a name (no ``/``), a path or a pid; ValueError if bad."""
    if isinstance(ns, bool) or not isinstance(ns, (str, int, os.PathLike)):
        raise TypeError(f"not a network namespace name, path or pid: {ns!r}")
    if isinstance(ns, int):
        if ns <= 0:
            raise ValueError(f"invalid pid: {ns!r}")
        return f"/proc/{ns}/ns/net"
    path = os.fspath(ns)
    if not isinstance(path, str) or not path or "\0" in path:
        raise ValueError(f"invalid network namespace path: {ns!r}")
    if isinstance(ns, os.PathLike) or "/" in path:
        return path
    if path in (".", ".."):
        raise ValueError(f"invalid network namespace name: {ns!r}")
    return f"/run/netns/{path}"


def _maker(family: int, type: int, proto: int, what: str) -> Callable[[], socket.socket]:
    def make() -> socket.socket:
        try:
            return socket.socket(family, type, proto)
        except OSError as e:
            raise OSError(e.errno, f"socket({family}, {type}, {proto}): {e.strerror}", what) from e

    return make


def _socket_in(fd: int, what: str, family: int, type: int, proto: int) -> socket.socket:
    try:
        st, here = os.fstat(fd), os.stat("/proc/thread-self/ns/net")
    except OSError as e:
        raise OSError(e.errno, f"fstat: {e.strerror}", what) from e
    make = _maker(family, type, proto, what)
    if (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino):
        return make()  # already there: no thread needed
    return _in_thread(make, (fd, what))


def open_socket(ns: NetnsSpec, family: int = socket.AF_NETLINK, type: int = socket.SOCK_RAW,
                proto: int = 0) -> socket.socket:
    """Open ``socket(family, type, proto)`` in ``ns``: a name (``/run/netns/NAME``), a path,
    a pid, a :class:`NetnsFd` or a :class:`ThrowawayNetns`.

    Errors are OSError with the kernel's errno and the namespace as ``filename``; a malformed
    ``ns`` raises ValueError/TypeError. The calling thread never leaves its namespace.
    """
    if isinstance(ns, ThrowawayNetns):
        return ns.socket(proto, family, type)
    if isinstance(ns, NetnsFd):
        return _socket_in(ns.fd, repr(ns), family, type, proto)
    path = netns_path(ns)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _socket_in(fd, path, family, type, proto)
    finally:
        os.close(fd)


class ThrowawayNetns:
    """A brand-new, empty network namespace that disappears with its owner (even on SIGKILL).

    ``userns=None`` picks :func:`mode`; ``True`` forces the holder-process (user namespace) mode,
    whose requests time out after ``timeout`` seconds. Attributes: ``userns``, ``closed``,
    ``inode`` (as in ``net:[INODE]``), ``holder_pid`` (None in root mode). Sockets handed out
    keep the namespace alive after :meth:`close`.
    """

    def __init__(self, userns: bool | None = None, *, timeout: float = 10.0) -> None:
        self.closed = False
        self._fd = -1  # root mode: the namespace; userns mode: opened on demand by fd()
        self._proc: subprocess.Popen[bytes] | None = None
        self._chan: socket.socket | None = None
        self._lock = threading.Lock()
        self.userns: bool = mode() == "userns" if userns is None else bool(userns)
        self.holder_pid: int | None = None
        self.inode = 0  # the namespace's inode number (as in /proc/PID/ns/net -> net:[INODE])
        if not self.userns:
            self._fd = _in_thread(_unshare_net)
            self.inode = os.fstat(self._fd).st_ino
            return
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _HOLDER, str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        parent.settimeout(timeout)
        self._chan = parent
        try:
            ready, _ = self._call(None)
        except OSError as e:
            self.close()
            why = _userns_blockers(hints=True)
            raise OSError(e.errno, f"{e.strerror}{f' ({why})' if why else ''}") from None
        self.holder_pid, self.inode = ready["pid"], ready["ino"]

    def _call(self, req: dict[str, Any] | None) -> tuple[dict[str, Any], list[int]]:
        """One request to the holder (None: just read its greeting); raises its OSError."""
        with self._lock:
            if self.closed or self._chan is None:
                raise ValueError("ThrowawayNetns is closed")
            try:
                if req is not None:
                    self._chan.send(json.dumps(req).encode())
                data, fds, _, _ = socket.recv_fds(self._chan, 1 << 16, 1, socket.MSG_CMSG_CLOEXEC)
                if not data:
                    raise ConnectionResetError(errno.EPIPE, "holder exited")
            except OSError as e:  # the channel is out of step or gone: drop the namespace
                self._close_locked()
                err = e.errno or (errno.ETIMEDOUT if isinstance(e, TimeoutError) else errno.EPIPE)
                raise OSError(err, f"netns holder: {e.strerror or e}") from e
        rep: dict[str, Any] = json.loads(data)
        if "errno" in rep:
            for fd in fds:
                os.close(fd)
            op = "starting netns holder" if req is None else req["op"]
            raise OSError(rep["errno"], f"{op}: {rep['msg']}")
        return rep, fds

    def socket(self, proto: int = NETLINK_ROUTE, family: int = socket.AF_NETLINK,
               type: int = socket.SOCK_RAW) -> socket.socket:
        """A new ``socket(family, type, proto)`` living in this namespace."""
        if not self.userns:
            return self._in_ns(_maker(family, type, proto, self.path))
        _, fds = self._call({"op": "socket", "args": [family, type, proto]})
        return socket.socket(fileno=fds[0])

    def _sysctl(self, path: str, value: str | None) -> str:
        full = sysctl_path(path)
        if self.userns:
            req = {"op": "read" if value is None else "write", "path": full, "value": value or ""}
            return str(self._call(req)[0]["data"])

        def work() -> str:
            with open(full, "r" if value is None else "w") as f:  # a rejected write raises at close
                if value is None:
                    return f.read()
                f.write(value)
            return ""

        return self._in_ns(work)

    def _in_ns(self, fn: Callable[[], _T]) -> _T:
        """Root mode: ``fn()`` in a helper thread inside this namespace (never during close)."""
        with self._lock:
            return _in_thread(fn, (self.fd(), self.path))

    def write_sysctl(self, path: str, value: str) -> None:
        """Write ``value`` to ``/proc/sys/<path>`` of this namespace (e.g. ``net/ipv6/...``)."""
        self._sysctl(path, str(value))

    def read_sysctl(self, path: str) -> str:
        """Read ``/proc/sys/<path>`` of this namespace, without the trailing newline."""
        return self._sysctl(path, None).rstrip("\n")

    @property
    def path(self) -> str:
        """A path to this namespace, valid while it is open (for open_socket, nsenter, ip)."""
        if self.closed:
            raise ValueError("ThrowawayNetns is closed")
        if self.userns:
            return f"/proc/{self.holder_pid}/ns/net"
        return f"/proc/{os.getpid()}/fd/{self._fd}"

    def fd(self) -> int:
        """An fd of the namespace, owned by this object (do not close it)."""
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        return self._fd

    def _command(self, argv: Sequence[str], kw: dict[str, Any]) -> list[str]:
        nsenter = shutil.which("nsenter")
        if nsenter is None:
            raise FileNotFoundError(errno.ENOENT, "nsenter (util-linux) not found", "nsenter")
        if self.userns:
            self.path  # noqa: B018 -- raises if closed
            pid = str(self.holder_pid)
            return [nsenter, "-t", pid, "-U", "-n", "--preserve-credentials", "--", *argv]
        kw["pass_fds"] = (*kw.get("pass_fds", ()), self.fd())
        return [nsenter, f"--net=/proc/self/fd/{self._fd}", "--", *argv]

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """``subprocess.Popen`` of ``argv`` inside this namespace (through nsenter)."""
        return subprocess.Popen(self._command(argv, kw), **kw)

    def run(self, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
        """``subprocess.run`` of ``argv`` inside this namespace.

        Output is captured as text unless ``stdout``/``stderr``/``capture_output`` or
        ``text``/``encoding``/``errors``/``universal_newlines`` are given.
        """
        if not {"stdout", "stderr", "capture_output"} & kw.keys():
            kw["capture_output"] = True
        if not {"text", "encoding", "errors", "universal_newlines"} & kw.keys():
            kw["text"] = True
        return subprocess.run(self._command(argv, kw), **kw)

    def _close_locked(self) -> None:
        self.closed = True
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._chan is not None:
            self._chan.close()
            self._chan = None
        if self._proc is not None:
            self._proc.kill()  # it holds no state; EOF alone would also end it
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        """Release the namespace (idempotent). Sockets already handed out stay usable."""
        with self._lock:
            if not self.closed:
                self._close_locked()

    def __enter__(self) -> ThrowawayNetns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True) and hasattr(self, "_lock"):
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.path
        return f"<ThrowawayNetns {'userns' if self.userns else 'root'} {state}>"
