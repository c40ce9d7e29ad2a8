"""In-process seccomp faults: run a callable in a thread whose netlink syscalls fail.

:func:`run_filtered` starts a throwaway thread that sets no_new_privs *for itself*, installs
a thread-only seccomp filter (no SECCOMP_FILTER_FLAG_TSYNC, so no other thread is touched)
and calls ``fn`` there. The chosen syscalls return ``-errno`` straight from the kernel's
syscall entry, before any netlink code runs: the caller sees ``PermissionError(EACCES)`` from
``sendto()`` itself -- the shape of an LSM (SELinux/AppArmor) denial -- and *not* the
NLMSGERR -13 that the kernel sends for the Kata case (that one arrives as a reply, on a
successful send; see :mod:`nlcore.faults.inject` for it, done to any program).

The thread exits when ``fn`` returns, taking its filter with it; threads it starts inherit
the filter, as seccomp always does.
"""

from __future__ import annotations

import errno as _errno
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

from ...net._thread import in_fresh_thread
from . import bpf as _bpf
from . import syscalls as _syscalls
from .bpf import ALL_SYSCALLS

if TYPE_CHECKING:
    from ..kernel import Scenario
    from ..repro import Outcome

_T = TypeVar("_T")

#: What a netlink client uses besides plain read/write: filtered by default when no ``fd``
#: narrows the filter (read/write on every fd would also stop imports and prints).
SOCKET_SYSCALLS = ("sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg",
                   "socket", "bind")

__all__ = ["ALL_SYSCALLS", "SOCKET_SYSCALLS", "build_filter", "repro_layer", "run_filtered"]


def build_filter(syscalls: Iterable[str] | None = None, errno: int = _errno.EACCES,
                 fd: int | None = None) -> bytes:
    """The BPF program :func:`run_filtered` installs (packed struct sock_filter)."""
    if syscalls is None:
        syscalls = SOCKET_SYSCALLS if fd is None else ALL_SYSCALLS
    if isinstance(syscalls, str):
        syscalls = [syscalls]
    if fd is not None and (isinstance(fd, bool) or not isinstance(fd, int) or fd < 0):
        raise ValueError(f"not a file descriptor: {fd!r}")
    return _bpf.errno_filter(list(syscalls), errno, fd)


def run_filtered(fn: Callable[..., _T], *args: Any, syscalls: Iterable[str] | None = None,
                 errno: int = _errno.EACCES, fd: int | None = None, **kwargs: Any) -> _T:
    """Call ``fn(*args, **kwargs)`` in a new thread where ``syscalls`` fail with ``errno``.

    ``syscalls`` are names from :data:`ALL_SYSCALLS` (sendto, sendmsg, sendmmsg, write,
    recvfrom, recvmsg, recvmmsg, read, socket, bind); the default is
    :data:`SOCKET_SYSCALLS`, or all ten when ``fd`` is given. With ``fd`` the fd-taking
    syscalls fail only when their first argument is that descriptor (low 32 bits, as the
    kernel compares an ``int``); ``socket`` fails only for AF_NETLINK, whatever ``fd``.
    Returns ``fn``'s result or re-raises its exception in the caller's thread, which, like
    every other thread of the process, is never filtered. OSError if the kernel refuses
    the filter (no seccomp, unknown architecture).
    """
    program = build_filter(syscalls, errno, fd)
    _bpf.native_arch()

    def filtered() -> _T:
        _syscalls.prctl(_syscalls.PR_SET_NO_NEW_PRIVS, 1)  # this thread only
        _syscalls.seccomp_filter(program, 0)  # no TSYNC: this thread only
        return fn(*args, **kwargs)

    return in_fresh_thread(filtered, "nlcore-seccomp")


def repro_layer(scenario: Scenario, ext_ack: bool) -> Outcome:
    """``nlcore repro kata-11200 --layer seccomp``: the hook :mod:`nlcore.faults.repro` looks
    for here. Runs the Kata request under ``nlcore inject`` (the kernel-true NLMSGERR, not
    this module's syscall errno); see :func:`nlcore.faults.inject.repro_layer` for the same
    run as a plain dict."""
    from .repro import outcome

    return outcome(scenario, ext_ack)
