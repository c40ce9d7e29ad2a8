"""Sending on a program's behalf with the program's credentials (pure twin of
``csrc/sup_creds.c``).

rtnetlink checks the capabilities of the sending task (``netlink_ns_capable``: current, and
the socket opener's file credentials unless a destination is named). A send the supervisor
makes through its duplicate of a program's socket is therefore made by a task holding the
program's uids, gids, groups, capabilities and user namespace: the supervisor itself when
they equal its own, else a forked helper that takes them on (setns into the program's user
namespace, setgroups, setresgid, setresuid keeping capabilities, capset), sends, and
reports the errno as its exit status.
"""

from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass
from typing import Callable

CLONE_NEWUSER = 0x10000000
PR_SET_KEEPCAPS = 8
_CAPSET = {"x86_64": 126, "aarch64": 91}
_CAP_V3 = 0x20080522


@dataclass(frozen=True)
class Creds:
    """A task's credentials as ``/proc/TID/status`` shows them (in our user namespace)."""

    userns: int
    uid: tuple[int, ...]
    gid: tuple[int, ...]
    groups: tuple[int, ...]
    caps: tuple[int, int, int]  # inheritable, permitted, effective


def read(task: str) -> Creds:
    """The credentials of ``task`` (``/proc/TID`` or ``/proc/thread-self``)."""
    fields: dict[str, str] = {}
    with open(f"{task}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    def ids(k: str) -> tuple[int, ...]:
        return tuple(int(x) for x in fields[k].split())

    return Creds(os.stat(f"{task}/ns/user").st_ino, ids("Uid"), ids("Gid"), ids("Groups"),
                 (int(fields["CapInh"], 16), int(fields["CapPrm"], 16),
                  int(fields["CapEff"], 16)))


def _map(tid: int, which: str, ids: tuple[int, ...]) -> tuple[int, ...]:
    """``ids`` (ours) as the program's user namespace numbers them (``/proc/TID/uid_map``)."""
    with open(f"/proc/{tid}/{which}") as f:
        ranges = [tuple(int(x) for x in line.split()) for line in f if line.strip()]
    out = []
    for i in ids:
        inside = [a + (i - b) for a, b, n in ranges if b <= i < b + n]
        if not inside:
            raise PermissionError(1, f"id {i} is not mapped in task {tid}'s namespace")
        out.append(inside[0])
    return tuple(out)


def _become(c: Creds, userns_fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)

    def check(rc: int, ok_errno: int = 0) -> None:
        if rc != 0 and ctypes.get_errno() != ok_errno:
            raise OSError(ctypes.get_errno(), "becoming the program")

    if userns_fd >= 0:
        check(libc.setns(userns_fd, CLONE_NEWUSER))
    groups = (ctypes.c_uint * max(1, len(c.groups)))(*c.groups)
    # a namespace whose setgroups is "deny" keeps the groups it was given (ours)
    check(libc.setgroups(len(c.groups), groups), 1 if userns_fd >= 0 else 0)
    check(libc.setresgid(*c.gid[:3]))
    check(libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
    check(libc.setresuid(*c.uid[:3]))
    inh, prm, eff = c.caps
    hdr = struct.pack("=Ii", _CAP_V3, 0)
    data = struct.pack("=6I", eff & 0xFFFFFFFF, prm & 0xFFFFFFFF, inh & 0xFFFFFFFF,
                       eff >> 32, prm >> 32, inh >> 32)
    libc.syscall.restype = ctypes.c_long
    check(libc.syscall(ctypes.c_long(_CAPSET[os.uname().machine]), hdr, data))


def send_as(me: Creds, c: Creds, tid: int, send: Callable[[], None]) -> None:
    """Run ``send`` (a send on our duplicate) with credentials ``c`` of task ``tid``:
    directly when they equal ``me``, else in a forked helper; OSError as the send's."""
    if c == me:
        send()
        return
    userns_fd = -1
    if c.userns != me.userns:
        c = Creds(c.userns, _map(tid, "uid_map", c.uid), _map(tid, "gid_map", c.gid),
                  _map(tid, "gid_map", c.groups), c.caps)
        userns_fd = os.open(f"/proc/{tid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    try:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _become(c, userns_fd)
                send()
            except OSError as exc:
                code = (exc.errno or 5) & 0xFF
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
    finally:
        if userns_fd >= 0:
            os.close(userns_fd)
    err = os.waitstatus_to_exitcode(status)
    if err:
        raise OSError(err if err > 0 else 5, os.strerror(err if err > 0 else 5))


__all__ = ["Creds", "read", "send_as"]
