"""seccomp user-notification ioctls on a listener fd (include/uapi/linux/seccomp.h).

``struct seccomp_notif`` (80 bytes: id, pid, flags, seccomp_data) and
``struct seccomp_notif_resp`` (24 bytes: id, val, error, flags) are packed with struct;
:func:`check_sizes` compares them with what ``SECCOMP_GET_NOTIF_SIZES`` reports.
"""

from __future__ import annotations

import errno
import fcntl
import struct
from dataclasses import dataclass

from . import syscalls as _syscalls

NOTIF = struct.Struct("=QII iI Q 6Q")  # id, pid, flags | nr, arch, ip, args[6]
NOTIF_RESP = struct.Struct("=QqiI")  # id, val, error, flags
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1
SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1


def _ioc(direction: int, nr: int, size: int) -> int:
    return direction << 30 | size << 16 | ord("!") << 8 | nr


SECCOMP_IOCTL_NOTIF_RECV = _ioc(3, 0, NOTIF.size)  # _IOWR('!', 0, struct seccomp_notif)
SECCOMP_IOCTL_NOTIF_SEND = _ioc(3, 1, NOTIF_RESP.size)  # _IOWR('!', 1, ..._resp)
SECCOMP_IOCTL_NOTIF_ID_VALID = _ioc(1, 2, 8)  # _IOW('!', 2, __u64)
SECCOMP_IOCTL_NOTIF_SET_FLAGS = _ioc(1, 4, 8)  # _IOW('!', 4, __u64)
_ZERO = bytes(NOTIF.size)


@dataclass(frozen=True)
class Notif:
    """One intercepted syscall: ``id`` for the reply, the task's ``pid`` (a thread id, as
    this process sees it), the syscall number, architecture and six raw arguments."""

    id: int
    pid: int
    nr: int
    arch: int
    args: tuple[int, int, int, int, int, int]


def check_sizes() -> None:
    """OSError(EINVAL) if this kernel's notification structs differ from ours."""
    notif, resp, data = _syscalls.notif_sizes()
    if (notif, resp, data) != (NOTIF.size, NOTIF_RESP.size, 64):
        raise OSError(errno.EINVAL, f"seccomp_notif sizes {notif}/{resp}/{data} differ from "
                      f"the {NOTIF.size}/{NOTIF_RESP.size}/64 this module packs")


def recv(listener: int) -> Notif:
    """Block for the next notification (ENOENT: the task went away before we looked)."""
    buf = bytearray(_ZERO)  # the kernel insists on a zeroed buffer
    fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, buf, True)
    nid, pid, _flags, nr, arch, _ip, *args = NOTIF.unpack(buf)
    return Notif(nid, pid, nr, arch, (args[0], args[1], args[2], args[3], args[4], args[5]))


def _send(listener: int, nid: int, val: int, error: int, flags: int) -> bool:
    try:
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, NOTIF_RESP.pack(nid, val, error, flags))
    except OSError as exc:
        if exc.errno == errno.ENOENT:  # the task was interrupted or died meanwhile
            return False
        raise
    return True


def reply_continue(listener: int, nid: int) -> bool:
    """Let the syscall run in the kernel as if never intercepted."""
    return _send(listener, nid, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)


def reply_value(listener: int, nid: int, val: int) -> bool:
    """Complete the syscall without running it: it returns ``val``."""
    return _send(listener, nid, val, 0, 0)


def reply_errno(listener: int, nid: int, err: int) -> bool:
    """Complete the syscall without running it: it fails with ``err`` (positive)."""
    return _send(listener, nid, 0, -abs(err), 0)


def id_valid(listener: int, nid: int) -> bool:
    """True while the task is still waiting in the notified syscall (so the memory we read
    belongs to that very call)."""
    try:
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, struct.pack("=Q", nid))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise
    return True


def set_sync_wakeup(listener: int) -> bool:
    """Ask for synchronous wake-ups (kernel >= 6.6): the supervisor and the target then
    hand the CPU to each other directly. False where unsupported."""
    try:
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
    except OSError:
        return False
    return True
