"""Starting a program under the notification filter of ``nlcore inject`` (the trampoline).

The trampoline (``python -I -S -c <stdlib script>``) sets PR_SET_PDEATHSIG and no_new_privs,
tells the supervisor (over a socketpair, before any filter exists) its pid and whether it
got a PID namespace of its own, installs the SECCOMP_RET_USER_NOTIF filter, parks the
listener at an agreed fd number, and signals with ``shutdown()`` (a syscall the filter
does not watch). The supervisor takes the listener with ``pidfd_getfd`` and answers one
byte; the trampoline waits for it in ``poll()`` (not watched either), closes its copy and
runs the program. The filter has no exception at all: nothing the trampoline used
survives ``exec``.

With ``SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`` (Linux >= 5.19; the fd number tells the
supervisor whether the kernel took it), a notification the supervisor has received can
only be interrupted by a fatal signal, so an answer is never lost to a signal handler.

Supervisor death: when the trampoline could ``unshare(CLONE_NEWPID)`` (root, or root in a
user namespace), it forks an init (pid 1 of the new namespace, PR_SET_PDEATHSIG) that forks
the program: when the supervisor dies, the kernel kills the trampoline, then the init, and
with it every process of the namespace, grandchildren included. Without a PID namespace
only the direct child dies with its supervisor (see docs/inject.md).
"""

from __future__ import annotations

import fcntl
import os
import resource
import socket
import subprocess
import sys
from typing import Any, Callable, Sequence

from . import bpf as _bpf
from . import syscalls as _syscalls

SECCOMP_FILTER_FLAG_NEW_LISTENER = 8
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32
#: the filter flags tried first; a test sets NEW_LISTENER alone to exercise the fallback
FILTER_FLAGS = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV

# argv: CHAN_FD SECCOMP_NR FLAGS SLOT NEWPID PROGRAM_HEX CMD...; stdlib only, runs with -I -S.
# Before the filter it may write to the channel; after it, only unwatched syscalls (dup2,
# close, shutdown, poll, ioctl, fork, wait4, kill, execve) until the supervisor holds the
# listener.
TRAMPOLINE = r"""
import ctypes, fcntl, os, select, signal, socket, struct, sys
chan_fd, nr, flags, slot, newpid = (int(x) for x in sys.argv[1:6])
prog, argv = bytes.fromhex(sys.argv[6]), sys.argv[7:]
chan = socket.socket(fileno=chan_fd)
TERMINAL = (signal.SIGINT, signal.SIGQUIT)  # the terminal sends these to the program itself
orig = {s: signal.getsignal(s) for s in TERMINAL}
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def fail(what):
    e = ctypes.get_errno() or 22
    chan.sendall(b"E%d %s: %s" % (e, what.encode(), os.strerror(e).encode()))
    os._exit(125)
if libc.prctl(1, 9, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG SIGKILL
    fail("PR_SET_PDEATHSIG")
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    fail("PR_SET_NO_NEW_PRIVS")
tree = newpid and libc.unshare(0x20000000) == 0  # CLONE_NEWPID: for our children
chan.sendall(b"T%d %d" % (tree, os.getpid()))
insns = ctypes.create_string_buffer(prog, len(prog))
fprog = ctypes.create_string_buffer(struct.pack("=H6xQ", len(prog) // 8,
                                                ctypes.addressof(insns)), 16)
def install(fl):
    return libc.syscall(ctypes.c_long(nr), ctypes.c_long(1), ctypes.c_long(fl), fprog)
lfd = install(flags)
if lfd < 0 and ctypes.get_errno() == 22 and flags != 8:  # no WAIT_KILLABLE_RECV here
    lfd, flags = install(8), 8
slot += not flags & 32  # the number tells the supervisor which mode it got
if lfd < 0:
    fail("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)")
# no imports from here on: a read() would wait for a supervisor that has no listener yet
os.dup2(lfd, slot)
os.close(lfd)
chan.shutdown(socket.SHUT_WR)
p = select.poll()
p.register(chan, select.POLLIN)
p.poll()
if not int.from_bytes(fcntl.ioctl(chan, 0x541B, b"\0\0\0\0"), "little"):  # FIONREAD
    os._exit(125)  # the supervisor went away without taking the listener
os.close(slot)
chan.close()
def run():
    for s, h in orig.items():
        signal.signal(s, h)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("nlcore inject: %s: %s\n" % (argv[0], e.strerror)).encode())
        os._exit(127 if e.errno == 2 else 126)
def status(st):
    return 128 + os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st)
def relay(child):
    for s in TERMINAL:
        signal.signal(s, signal.SIG_IGN)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, lambda n, _f: os.kill(child, n))
def init():  # pid 1 of the namespace: reap everything, report the program's status
    libc.prctl(1, 9, 0, 0, 0)
    child = os.fork()
    if not child:
        run()
    relay(child)
    while True:
        try:
            pid, st = os.wait()
        except InterruptedError:
            continue
        if pid == child:
            os._exit(status(st))
if not tree:
    run()
pid1 = os.fork()
if not pid1:
    init()
relay(pid1)
while True:
    try:
        os._exit(status(os.waitpid(pid1, 0)[1]))
    except InterruptedError:
        pass
"""


def _high_fd(fd: int) -> int:
    """Move ``fd`` high, out of the way of the numbers the program will open."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    want = max(3, min(soft, 1024) - 16)
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, want)
    except OSError:
        return os.dup(fd)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while True:
        got = sock.recv(4096)
        if not got:
            return data
        data += got


def _failure(data: bytes) -> OSError:
    num, _, why = data.decode(errors="replace")[1:].partition(" ")
    if not num.isdigit():
        num, why = "22", "no listener fd received"
    return OSError(int(num), f"nlcore inject: trampoline failed: {why}")


def _take_listener(pid: int, slot: int) -> tuple[int, bool]:
    """The listener the trampoline parked at ``slot`` (killable) or ``slot + 1``."""
    pidfd = _syscalls.pidfd_open(pid)
    try:
        for fd, killable in ((slot, True), (slot + 1, False)):
            try:
                return _syscalls.pidfd_getfd(pidfd, fd), killable
            except OSError:
                continue
        raise OSError(22, "nlcore inject: trampoline failed: no listener fd received")
    finally:
        os.close(pidfd)


class Spawned:
    """The started trampoline: ``proc``, the ``listener`` fd, and what the kernel granted:
    ``killable`` (WAIT_KILLABLE_RECV) and ``tree`` (the program's tree dies with us)."""

    def __init__(self, proc: subprocess.Popen[Any], listener: int, killable: bool,
                 tree: bool) -> None:
        self.proc, self.listener, self.killable, self.tree = proc, listener, killable, tree


def spawn(cmd: Sequence[str], popen: Callable[..., subprocess.Popen[Any]],
          kw: dict[str, Any], syscalls: Sequence[str]) -> Spawned:
    """Start ``cmd`` under a notification filter for ``syscalls``; OSError if it fails."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    chan = _high_fd(child.fileno())
    child.close()
    slot = chan + 1
    prog = _bpf.notify_filter(syscalls)
    argv = [sys.executable, "-I", "-S", "-c", TRAMPOLINE, str(chan), str(_syscalls.seccomp_nr()),
            str(FILTER_FLAGS), str(slot), "1", prog.hex(), *cmd]
    kw = dict(kw)
    kw["pass_fds"] = (*kw.get("pass_fds", ()), chan)
    ok = False
    with parent:
        try:
            proc = popen(argv, **kw)
        finally:
            os.close(chan)
        try:
            parent.settimeout(30)
            data = _read_all(parent)
            head, _, err = data.partition(b"E")
            if head[:1] != b"T" or err:
                raise _failure(b"E" + err)
            tree, pid = head[1:].split()
            listener, killable = _take_listener(int(pid), slot)
            parent.sendall(b"G")
            ok = True
        finally:
            if not ok:
                proc.kill()
                proc.wait()
    return Spawned(proc, listener, killable, tree == b"1")


__all__ = ["FILTER_FLAGS", "Spawned", "TRAMPOLINE", "spawn"]
