"""Per-thread capability drop: ``capset(2)`` on the calling thread only.

Linux keeps capabilities per thread, and the ``capget``/``capset`` syscalls act on one thread
(glibc has no process-wide broadcast for them, unlike ``setuid``). :func:`dropped` clears
capabilities from the *effective* set of the calling thread and restores them on exit; they
stay in the permitted set, so no privilege is lost for good. :func:`run_without` runs a
callable in a dedicated thread with the capabilities dropped, leaving every other thread of
the process untouched.

What the kernel then does (measured on 6.18): a request that needs CAP_NET_ADMIN fails
with EPERM (-1), never EACCES. The check happens where the namespace's *owning user
namespace* is concerned: a thread in the initial user namespace whose euid owns a child
user namespace keeps every capability inside it, dropped or not, so this layer only bites
when the thread lives in the user namespace that owns the network namespace (root on the
host with a root-mode throwaway namespace, or a process that unshared its own userns).
Netlink also checks the credentials the socket was *opened* with, unless the send names
the kernel as destination (``sendto`` with ``(0, 0)``, as nlcore always does).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar, Union

from ..net._thread import in_fresh_thread

_T = TypeVar("_T")
Cap = Union[int, str]

#: include/uapi/linux/capability.h (the ones that matter to networking, plus a few)
CAPS: dict[str, int] = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7,
    "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24, "CAP_BPF": 39,
}
CAP_NET_ADMIN = CAPS["CAP_NET_ADMIN"]
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
#: (SYS_capget, SYS_capset) per machine (arch/*/include/uapi/asm/unistd*.h)
_SYSCALLS: dict[str, tuple[int, int]] = {
    "x86_64": (125, 126), "aarch64": (90, 91), "arm64": (90, 91), "riscv64": (90, 91),
    "i686": (184, 185), "i386": (184, 185), "armv7l": (184, 185), "ppc64le": (183, 184),
    "s390x": (184, 185),
}


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


@dataclass(frozen=True)
class CapSet:
    """One thread's capability sets, as 64-bit masks (bit n = capability n)."""

    effective: int
    permitted: int
    inheritable: int

    def has(self, cap: Cap) -> bool:
        """True when ``cap`` is in the effective set."""
        return bool(self.effective >> cap_number(cap) & 1)


def cap_number(cap: Cap) -> int:
    """``12``, ``"CAP_NET_ADMIN"`` or ``"net_admin"`` -> 12; ValueError for anything else."""
    if isinstance(cap, bool):
        raise ValueError(f"not a capability: {cap!r}")
    if isinstance(cap, int):
        if not 0 <= cap < 64:
            raise ValueError(f"capability number out of range: {cap!r}")
        return cap
    key = cap.upper()
    key = key if key.startswith("CAP_") else "CAP_" + key
    if key not in CAPS:
        raise ValueError(f"unknown capability {cap!r} (known: {', '.join(sorted(CAPS))})")
    return CAPS[key]


@functools.cache
def _syscall() -> tuple[Any, int, int]:
    nums = _SYSCALLS.get(platform.machine())
    if nums is None:
        raise OSError(errno.ENOSYS, f"capget/capset syscall numbers unknown on "
                      f"{platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    fn = libc.syscall
    fn.restype = ctypes.c_long
    return fn, nums[0], nums[1]


def _call(which: int, data: ctypes.Array[_Data], tid: int) -> None:
    fn = _syscall()[0]
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, tid)
    if fn(ctypes.c_long(which), ctypes.byref(hdr), data) != 0:
        err = ctypes.get_errno()
        name = "capget" if which == _syscall()[1] else "capset"
        raise OSError(err, f"{name}: {os.strerror(err)}")


def capget(tid: int = 0) -> CapSet:
    """The capability sets of thread ``tid`` (0: the calling thread)."""
    data = (_Data * 2)()
    _call(_syscall()[1], data, tid)
    e, p, i = ((data[1].effective << 32) | data[0].effective,
               (data[1].permitted << 32) | data[0].permitted,
               (data[1].inheritable << 32) | data[0].inheritable)
    return CapSet(e, p, i)


def capset(caps: CapSet) -> None:
    """Set the calling thread's capability sets (effective must be within permitted)."""
    data = (_Data * 2)()
    for name in ("effective", "permitted", "inheritable"):
        v = getattr(caps, name)
        setattr(data[0], name, v & 0xFFFFFFFF)
        setattr(data[1], name, v >> 32 & 0xFFFFFFFF)
    _call(_syscall()[2], data, 0)


def thread_effective(tid: int | None = None) -> int:
    """CapEff of a thread of this process, read from /proc (``None``: the calling thread)."""
    tid = threading.get_native_id() if tid is None else tid
    with open(f"/proc/self/task/{tid}/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    raise OSError(errno.ENOENT, f"no CapEff for thread {tid}")


@contextmanager
def dropped(*caps: Cap) -> Iterator[CapSet]:
    """Clear ``caps`` (default CAP_NET_ADMIN) from the calling thread's effective set.

    Yields the reduced sets; on exit the thread's previous sets are restored. Only the
    thread that entered may exit (capabilities are per thread): RuntimeError otherwise.
    """
    mask = 0
    for cap in caps or (CAP_NET_ADMIN,):
        mask |= 1 << cap_number(cap)
    tid = threading.get_native_id()
    before = capget()
    after = CapSet(before.effective & ~mask, before.permitted, before.inheritable)
    capset(after)
    try:
        yield after
    finally:
        if threading.get_native_id() != tid:  # pragma: no cover - misuse
            raise RuntimeError("capabilities restored from a thread that did not drop them")
        capset(before)


def run_without(fn: Callable[..., _T], *args: Any, caps: tuple[Cap, ...] = (CAP_NET_ADMIN,),
                **kwargs: Any) -> _T:
    """``fn(*args, **kwargs)`` in a fresh thread whose ``caps`` are dropped; returns its
    result or re-raises its exception here. Other threads keep their capabilities."""
    def without() -> _T:
        with dropped(*caps):
            return fn(*args, **kwargs)

    return in_fresh_thread(without, "nlcore-capdrop")


__all__ = ["CAPS", "CAP_NET_ADMIN", "CapSet", "cap_number", "capget", "capset", "dropped",
           "run_without", "thread_effective"]
