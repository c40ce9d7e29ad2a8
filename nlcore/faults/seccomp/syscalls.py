"""The raw syscalls behind the seccomp layers, through ctypes (stdlib only).

``seccomp(2)``, ``prctl(2)``, ``pidfd_open(2)``, ``pidfd_getfd(2)`` and
``process_vm_readv/writev(2)``; every failure raises OSError with the kernel's errno.
Numbers come from arch/*/include/uapi/asm/unistd*.h (pidfd_* share one number everywhere).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import struct
import subprocess
from typing import Any, Sequence

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_NOTIF_SIZES = 3
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3

#: seccomp(2) per machine; pidfd_open 434 and pidfd_getfd 438 are the same on all of them.
_SECCOMP_NR = {"x86_64": 317, "aarch64": 277, "arm64": 277}
SYS_PIDFD_OPEN = 434
SYS_PIDFD_GETFD = 438
PIDFD_THREAD = 0x80  # O_EXCL: a pidfd for a thread that is not its group leader (6.9+)


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


@functools.cache
def libc() -> Any:
    """glibc (or musl) with errno capture, and the prototypes used here."""
    lib = ctypes.CDLL(None, use_errno=True)
    lib.syscall.restype = ctypes.c_long
    lib.prctl.restype = ctypes.c_int
    for name in ("process_vm_readv", "process_vm_writev"):
        fn = getattr(lib, name)
        fn.restype = ctypes.c_ssize_t
        fn.argtypes = [ctypes.c_int, ctypes.POINTER(_IoVec), ctypes.c_ulong,
                       ctypes.POINTER(_IoVec), ctypes.c_ulong, ctypes.c_ulong]
    return lib


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def seccomp_nr(machine: str | None = None) -> int:
    """The seccomp(2) number for ``machine`` (default: this one); OSError(ENOSYS) if unknown."""
    m = machine or platform.machine()
    if m not in _SECCOMP_NR:
        raise OSError(38, f"seccomp syscall number unknown on {m}")
    return _SECCOMP_NR[m]


def prctl(option: int, arg: int = 0) -> int:
    """``prctl(option, arg, 0, 0, 0)``."""
    return _check(libc().prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0),
                               ctypes.c_ulong(0), ctypes.c_ulong(0)), f"prctl({option})")


def seccomp_filter(program: bytes, flags: int = 0) -> int:
    """Install ``program`` (packed struct sock_filter) on the calling thread.

    Returns 0, or the listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER. The caller must
    have set no_new_privs (or hold CAP_SYS_ADMIN).
    """
    if not program or len(program) % 8:
        raise ValueError(f"a BPF program is a multiple of 8 bytes, not {len(program)}")
    insns = ctypes.create_string_buffer(program, len(program))
    fprog = ctypes.create_string_buffer(struct.pack("=H6xQ", len(program) // 8,
                                                    ctypes.addressof(insns)), 16)
    ret = libc().syscall(ctypes.c_long(seccomp_nr()), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                         ctypes.c_long(flags), fprog)
    return _check(ret, "seccomp(SECCOMP_SET_MODE_FILTER)")


@functools.cache
def notif_sizes() -> tuple[int, int, int]:
    """``SECCOMP_GET_NOTIF_SIZES``: sizes of seccomp_notif, seccomp_notif_resp, seccomp_data."""
    out = ctypes.create_string_buffer(6)
    _check(libc().syscall(ctypes.c_long(seccomp_nr()), ctypes.c_long(SECCOMP_GET_NOTIF_SIZES),
                          ctypes.c_long(0), out), "seccomp(SECCOMP_GET_NOTIF_SIZES)")
    a, b, c = struct.unpack("=HHH", out.raw)
    return a, b, c


def pidfd_open(pid: int) -> int:
    """A pidfd for process ``pid`` (a thread-group leader)."""
    return _check(libc().syscall(ctypes.c_long(SYS_PIDFD_OPEN), ctypes.c_long(pid),
                                 ctypes.c_long(0)), f"pidfd_open({pid})")


def pidfd_getfd(pidfd: int, fd: int) -> int:
    """A duplicate, in this process, of fd ``fd`` of the process behind ``pidfd``
    (close-on-exec; needs ptrace-attach access to it, which a parent has over its child)."""
    return _check(libc().syscall(ctypes.c_long(SYS_PIDFD_GETFD), ctypes.c_long(pidfd),
                                 ctypes.c_long(fd), ctypes.c_long(0)), f"pidfd_getfd(fd {fd})")


def task_getfd(tid: int, fd: int) -> int:
    """Duplicate fd ``fd`` of task ``tid`` (a process, or any of its threads) in here."""
    try:
        pidfd = pidfd_open(tid)
    except OSError as exc:
        if exc.errno not in (2, 22):  # ENOENT/EINVAL: a thread, not a group leader
            raise
        pidfd = _check(libc().syscall(ctypes.c_long(SYS_PIDFD_OPEN), ctypes.c_long(tid),
                                      ctypes.c_long(PIDFD_THREAD)), f"pidfd_open({tid})")
    try:
        return pidfd_getfd(pidfd, fd)
    finally:
        os.close(pidfd)


def _iovs(pairs: Sequence[tuple[int, int]]) -> Any:
    arr = (_IoVec * max(1, len(pairs)))()
    for i, (addr, n) in enumerate(pairs):
        arr[i].base, arr[i].len = addr, n
    return arr


def vm_read(pid: int, addr: int, n: int) -> bytes:
    """``n`` bytes at ``addr`` in process ``pid`` (process_vm_readv); short reads raise EFAULT."""
    if n <= 0:
        return b""
    buf = ctypes.create_string_buffer(n)
    local, remote = _iovs([(ctypes.addressof(buf), n)]), _iovs([(addr, n)])
    got = _check(libc().process_vm_readv(pid, local, 1, remote, 1, 0), "process_vm_readv")
    if got != n:
        raise OSError(14, f"process_vm_readv: read {got} of {n} bytes at {addr:#x}")
    return buf.raw


def vm_writev(pid: int, data: bytes, pieces: Sequence[tuple[int, int]]) -> int:
    """Scatter ``data`` over remote ``(addr, len)`` pieces (process_vm_writev); returns bytes
    written (min of len(data) and the room of the pieces)."""
    room = sum(n for _, n in pieces)
    n = min(len(data), room)
    if n <= 0:
        return 0
    buf = ctypes.create_string_buffer(data[:n], n)
    left, trimmed = n, []
    for addr, size in pieces:
        if left <= 0:
            break
        trimmed.append((addr, min(size, left)))
        left -= min(size, left)
    remote = _iovs(trimmed)
    local = _iovs([(ctypes.addressof(buf), n)])
    got = _check(libc().process_vm_writev(pid, local, 1, remote, len(trimmed), 0),
                 "process_vm_writev")
    if got != n:
        raise OSError(14, f"process_vm_writev: wrote {got} of {n} bytes")
    return got


def exit_status(proc: subprocess.Popen[Any]) -> int:
    """Wait for ``proc``: its exit code, or 128 + N when signal N killed it (as a shell)."""
    rc = proc.wait()
    return 128 - rc if rc < 0 else rc
