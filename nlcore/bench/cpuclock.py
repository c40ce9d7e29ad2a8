"""On-CPU time for ``nlcore bench``: the kernel's perf task-clock, not getrusage.

On the VMs this project is measured on, the scheduler's per-task CPU clock (what
``getrusage``, ``time.process_time`` and ``CLOCK_PROCESS_CPUTIME_ID`` read) misses most of
the time of some stretches of netlink work: of eight identical chunks of 125 IPv4 address
adds (one process, one thread, no sleeping), some read 1.1 ms of CPU and others 0.13 ms,
while their wall time is the same and perf's task-clock reads the wall time for each (see
docs/benchmarks.md, "CPU time"). A busy loop or a ``getppid`` loop reads right on both:
the error came with the kernel's netlink work, and reached 10x.

:class:`CpuClock` counts with a ``PERF_COUNT_SW_TASK_CLOCK`` event on this process
(``perf_event_open``), optionally inherited by the children started after it opens (their
time is added to it when they exit). Where the kernel refuses that (no perf events, an
unprivileged caller under ``perf_event_paranoid`` >= 2, an unknown architecture) it falls
back to getrusage and says so in :attr:`CpuClock.source`.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import struct
import sys

# __NR_perf_event_open per machine (asm/unistd*.h)
_NR = {"x86_64": 298, "amd64": 298, "i386": 336, "i686": 336, "aarch64": 241, "arm64": 241,
       "riscv64": 241, "loongarch64": 241, "armv7l": 364, "armv6l": 364, "ppc64le": 319,
       "ppc64": 319, "s390x": 331}
_SOFTWARE, _TASK_CLOCK = 1, 1  # PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK
_INHERIT = 1 << 1  # perf_event_attr flag bits: disabled is bit 0, inherit bit 1
_FD_CLOEXEC = 1 << 3  # PERF_FLAG_FD_CLOEXEC
_ATTR = struct.Struct("=IIQQQQQIIQ")  # perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes)


def _open(inherit: bool) -> int:
    """A task-clock perf event on this process; OSError when the kernel refuses."""
    nr = _NR.get(platform.machine().lower())
    if nr is None:
        raise OSError(f"perf_event_open: no syscall number known for {platform.machine()}")
    attr = ctypes.create_string_buffer(_ATTR.pack(
        _SOFTWARE, _ATTR.size, _TASK_CLOCK, 0, 0, 0, _INHERIT if inherit else 0, 0, 0, 0),
        _ATTR.size)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = int(libc.syscall(ctypes.c_long(nr), attr, ctypes.c_int(0), ctypes.c_int(-1),
                          ctypes.c_int(-1), ctypes.c_ulong(_FD_CLOEXEC)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"perf_event_open(task-clock): {os.strerror(err)}")
    return fd


def _rusage(children: bool) -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    own = ru.ru_utime + ru.ru_stime
    if not children:
        return own
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + ch.ru_utime + ch.ru_stime


class CpuClock:
    """Seconds on a CPU of this process (``children``: and of the children it starts from
    now on, counted when they exit). :meth:`read` is monotonic; take differences."""

    def __init__(self, children: bool = False) -> None:
        self.children = children
        self.fd: int | None = None
        self.why = ""
        try:
            self.fd = _open(children)
        except OSError as exc:
            self.why = str(exc)

    @property
    def source(self) -> str:
        """``"task-clock"`` (perf) or ``"rusage"`` (the fallback)."""
        return "task-clock" if self.fd is not None else "rusage"

    def read(self) -> float:
        """Seconds counted so far."""
        if self.fd is None:
            return _rusage(self.children)
        return int.from_bytes(os.read(self.fd, 8), sys.byteorder) / 1e9

    def close(self) -> None:
        """Release the perf event (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_SELF: CpuClock | None = None
_TREE: CpuClock | None = None


def _clocks() -> tuple[CpuClock, CpuClock]:
    global _SELF, _TREE
    if _SELF is None or _TREE is None:
        _SELF, _TREE = CpuClock(), CpuClock(children=True)
        if (_SELF.fd is None) != (_TREE.fd is None):  # never mix the two sources
            why = _SELF.why or _TREE.why
            for c in (_SELF, _TREE):
                c.close()
                c.why = why
    return _SELF, _TREE


def cpu_self() -> float:
    """On-CPU seconds of this process so far."""
    return _clocks()[0].read()


def cpu_children() -> float:
    """On-CPU seconds of the children this process started (and reaped) since the first
    call of this module's functions."""
    own, tree = _clocks()
    return max(tree.read() - own.read(), 0.0)


def source() -> tuple[str, str]:
    """(``"task-clock"`` or ``"rusage"``, why perf was refused, or "")."""
    own, tree = _clocks()
    if own.fd is not None and tree.fd is not None:
        return "task-clock", ""
    return "rusage", own.why or tree.why
