"""Namespace plumbing for :mod:`.netns`: the userns holder program, setns/unshare in a
fresh thread, capability and user-namespace checks, per-netns sysctl paths."""

from __future__ import annotations

import ctypes
import errno
import functools
import os
from typing import Callable, TypeVar

from ._thread import in_fresh_thread

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
CAP_SYS_ADMIN = 21
_T = TypeVar("_T")

# The userns holder: stdlib only, run as `python -I -S -c _HOLDER FD`. One JSON request per
# SOCK_SEQPACKET message; the reply is JSON ({"errno", "msg"} on failure), a socket rides along
# as SCM_RIGHTS. EOF (the parent closed or died) ends it, and with it the namespaces.
_HOLDER = r"""
import ctypes, json, os, signal, socket, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
chan = socket.socket(fileno=int(sys.argv[1]))
def reply(obj, fds=()):
    socket.send_fds(chan, [json.dumps(obj).encode()], list(fds))
def error(e):
    why, name = getattr(e, "strerror", None) or repr(e), getattr(e, "filename", None)
    return {"errno": getattr(e, "errno", None) or 22, "msg": why + (": %s" % name if name else "")}
def serve(op, path="", value="", args=()):
    if op == "socket":
        with socket.socket(*args) as s:
            return reply({}, [s.fileno()])
    if op not in ("read", "write") or not path.startswith("/proc/sys/net/") or ".." in path:
        raise OSError(22, "refused", "%s %r" % (op, path))
    with open(path, "w" if op == "write" else "r") as f:
        if op == "write":
            f.write(value)
        data = "" if op == "write" else f.read()
    reply({"data": data})  # only after close: a rejected write raises there
try:
    uid, gid = os.geteuid(), os.getegid()
    if ctypes.CDLL(None, use_errno=True).unshare(0x50000000) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), "unshare(CLONE_NEWUSER|CLONE_NEWNET)")
    maps = (("setgroups", "deny"), ("uid_map", "0 %d 1" % uid), ("gid_map", "0 %d 1" % gid))
    for name, text in maps:
        with open("/proc/self/" + name, "w") as f:
            f.write(text)
    greeting = {"pid": os.getpid(), "ino": os.stat("/proc/self/ns/net").st_ino}
except OSError as e:
    greeting = error(e)
reply(greeting)
for data in iter(lambda: chan.recv(65536), b"") if "pid" in greeting else ():
    try:
        serve(**json.loads(data))
    except Exception as e:
        reply(error(e))
"""


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, what: str) -> None:
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns into network namespace: {os.strerror(err)}", what)


def _in_thread(fn: Callable[[], _T], netns: tuple[int, str] | None = None) -> _T:
    """Run ``fn`` in a fresh OS thread (first moved into ``netns``: fd, name) that exits
    afterwards; re-raise its exception here."""
    def moved() -> _T:
        if netns is not None:
            _setns(*netns)
        return fn()

    return in_fresh_thread(moved, "nlcore-netns")


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _has_cap(cap: int) -> bool:
    for line in (_read("/proc/thread-self/status") or "").splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> cap & 1)
    return False


def _userns_blockers(hints: bool = False) -> str:
    """Why user namespaces cannot work here ("" if nothing known stops them); ``hints`` adds
    settings that only may (AppArmor's restriction depends on the program's profile)."""
    why = []
    for key, bad in (("user/max_user_namespaces", "0"), ("user/max_net_namespaces", "0"),
                     ("kernel/unprivileged_userns_clone", "0"),
                     ("kernel/apparmor_restrict_unprivileged_userns", "1" if hints else "-")):
        if _read(f"/proc/sys/{key}") == bad:
            why.append(f"{key.replace('/', '.')} = {bad}")
    return ", ".join(why)


def mode() -> str:
    """``"root"`` (euid 0 and CAP_SYS_ADMIN) or ``"userns"``; PermissionError if neither works."""
    if os.geteuid() == 0 and _has_cap(CAP_SYS_ADMIN):
        return "root"
    why = _userns_blockers()
    if why:
        raise PermissionError(errno.EPERM, "cannot create a network namespace: not root with "
                              f"CAP_SYS_ADMIN, and user namespaces are unavailable ({why})")
    return "userns"


def _unshare_net() -> int:
    if _libc().unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)} (root mode needs "
                      "CAP_SYS_ADMIN; ThrowawayNetns(userns=True) does not)")
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def sysctl_path(path: str) -> str:
    """``/proc/sys/`` + ``path`` after checking it is relative, under ``net/`` and has no ``..``."""
    parts = path.split("/") if isinstance(path, str) else []
    if len(parts) < 2 or parts[0] != "net" or "\0" in path or {"", ".", ".."} & set(parts):
        raise ValueError(f"invalid per-netns sysctl path (want net/...): {path!r}")
    return "/proc/sys/" + path
