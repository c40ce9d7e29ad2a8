"""``nlcore inject``: netlink-level errors injected into any program, through seccomp.

::

    nlcore inject --match 'RTM_NEWADDR family=inet6' --errno EACCES \\
        [--extack MSG] [--syscall-errno] [--log FILE] -- ip addr add fe80::1/64 dev v0

A trampoline (``python -c <stdlib script>``) sets no_new_privs and installs a
SECCOMP_RET_USER_NOTIF filter for the netlink send and receive syscalls, hands the listener
fd to this process over a socketpair (SCM_RIGHTS) and execs the command, so the supervised
program is exactly that command. The native supervisor (``csrc/supervise.c``, through
:mod:`~nlcore.faults.seccomp.native`) answers the notifications; its pure twin
:class:`~nlcore.faults.seccomp.supervisor.Supervisor` does when ``--log`` is given, with
``NLCORE_PURE=1``, or without the compiled extension. The exit status is the program's
(128 + N when signal N killed it).
"""

from __future__ import annotations

import argparse
import errno as _errno
import os
import resource
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Sequence, Union

from . import bpf as _bpf
from . import native as _native
from . import notify as _notify
from . import syscalls as _syscalls
from .rules import Rule, RuleSet, parse_errno, parse_rule
from .supervisor import Supervisor

#: sendmsg flags only the trampoline's hand-over uses; the filter lets exactly that call pass.
MAGIC_FLAGS = 0x800 | 0x4000 | 0x40 | 0x80  # MSG_CONFIRM|MSG_NOSIGNAL|MSG_DONTWAIT|MSG_EOR

# argv: CHAN_FD SECCOMP_NR FLAGS PROGRAM_HEX CMD...; stdlib only, runs with -I -S. Should the
# supervisor die before the hand-over, the sendmsg fails (EPIPE) and nothing is exec'd;
# after it, PR_SET_PDEATHSIG takes the program down with it.
TRAMPOLINE = r"""
import ctypes, os, socket, struct, sys
chan_fd, nr, flags = (int(x) for x in sys.argv[1:4])
prog, argv = bytes.fromhex(sys.argv[4]), sys.argv[5:]
chan = socket.socket(fileno=chan_fd)
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
insns = ctypes.create_string_buffer(prog, len(prog))
hdr = struct.pack("=H6xQ", len(prog) // 8, ctypes.addressof(insns))
fprog = ctypes.create_string_buffer(hdr, 16)
lfd = libc.syscall(ctypes.c_long(nr), ctypes.c_long(1), ctypes.c_long(8), fprog)
if lfd < 0:
    fail("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)")
# no imports from here on: a read() would wait for a supervisor that has no listener yet
chan.sendmsg([b"L"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", lfd))], flags)
os.close(lfd)
chan.close()
try:
    os.execvp(argv[0], argv)
except OSError as e:
    os.write(2, ("nlcore inject: %s: %s\n" % (argv[0], e.strerror)).encode())
    os._exit(127 if e.errno == 2 else 126)
"""

__all__ = ["InjectResult", "main", "run"]


@dataclass
class InjectResult:
    """What :func:`run` returns: the program's exit status and the supervisor's counters."""

    returncode: int
    stats: dict[str, int] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)  # occurrences seen per rule
    first_error: str = ""  # the first notification the supervisor could not handle
    engine: str = ""  # "native" (csrc/supervise.c) or "pure" (the Python supervisor)


def _high_fd(fd: int) -> int:
    """Move ``fd`` high, out of the way of the numbers the program will open."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    want = max(3, min(soft, 1024) - 16)
    try:
        import fcntl

        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, want)
    except OSError:
        return os.dup(fd)


def _spawn(cmd: Sequence[str], popen: Callable[..., subprocess.Popen[Any]],
           kw: dict[str, Any]) -> tuple[subprocess.Popen[Any], int]:
    """Start the trampoline; returns the process and the listener fd it sent."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    chan = _high_fd(child.fileno())
    child.close()
    prog = _bpf.notify_filter(chan, MAGIC_FLAGS)
    argv = [sys.executable, "-I", "-S", "-c", TRAMPOLINE, str(chan), str(_syscalls.seccomp_nr()),
            str(MAGIC_FLAGS), prog.hex(), *cmd]
    kw = dict(kw)
    kw["pass_fds"] = (*kw.get("pass_fds", ()), chan)
    data: bytes = b""
    fds: list[int] = []
    with parent:
        try:
            proc = popen(argv, **kw)
        finally:
            os.close(chan)
        try:
            parent.settimeout(30)
            data, fds, _, _ = socket.recv_fds(parent, 4096, 1)
        finally:
            if data != b"L" or len(fds) != 1:  # failed: report why (E...), or time out
                for fd in fds:
                    os.close(fd)
                if data[:1] != b"E":
                    proc.kill()
                proc.wait()
    if data != b"L" or len(fds) != 1:
        num, _, why = data.decode(errors="replace")[1:].partition(" ")
        if not num.isdigit():
            num, why = "22", "no listener fd received"
        raise OSError(int(num), f"nlcore inject: trampoline failed: {why}")
    return proc, fds[0]


RuleArg = Union[Rule, str]


def run(cmd: Sequence[str], rules: Sequence[RuleArg], *, errno: int | str = _errno.EACCES,
        extack: str | None = None, syscall_errno: bool = False, log: IO[str] | None = None,
        popen: Callable[..., subprocess.Popen[Any]] = subprocess.Popen,
        forward_signals: bool = False, **popen_kw: Any) -> InjectResult:
    """Run ``cmd`` with netlink requests matching ``rules`` failing with ``errno``.

    ``rules`` are :class:`Rule` objects or ``--match`` strings; ``popen`` starts the
    trampoline (``ThrowawayNetns.popen`` runs the program inside a namespace) and gets
    ``popen_kw`` (stdin, stdout, env...). Blocks until every task under the filter is gone.
    ``forward_signals`` (main thread only) relays SIGTERM/SIGHUP to the program and ignores
    SIGINT/SIGQUIT, which a terminal delivers to the program directly.
    """
    if not cmd:
        raise ValueError("no command to run")
    ruleset = RuleSet([r if isinstance(r, Rule) else parse_rule(r) for r in rules])
    err = parse_errno(errno)
    _notify.check_sizes()
    # route/neighbour fields (rules_route) are matched by the Python supervisor only
    native = _native.load() if log is None and not any(r.fields for r in ruleset.rules) \
        else None
    proc, listener = _spawn(cmd, popen, popen_kw)
    sup: Supervisor | _native.NativeSupervisor
    try:
        sup = (_native.NativeSupervisor(native, listener, ruleset, err, extack, syscall_errno)
               if native is not None else
               Supervisor(listener, ruleset, err, extack, syscall_errno, log))
    except BaseException:
        os.close(listener)
        proc.kill()
        proc.wait()
        raise
    _notify.set_sync_wakeup(listener)
    old: dict[signal.Signals, Any] = {}
    if forward_signals:  # the terminal sends SIGINT/SIGQUIT to the program itself
        for sig in (signal.SIGINT, signal.SIGQUIT):
            old[sig] = signal.signal(sig, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            old[sig] = signal.signal(sig, lambda s, _f: proc.send_signal(s))
    try:
        code = sup.run(proc)
        stats, first_error = sup.report()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        sup.close()
        os.close(listener)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return InjectResult(code, stats, list(ruleset.counts), first_error, sup.ENGINE)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nlcore inject", description=(
        "Run CMD; netlink requests matching a rule fail with an NLMSGERR built as the "
        "kernel builds it (or, with --syscall-errno, the send fails). Rule: 'TYPE "
        "[family=inet|inet6] [index=N] [addr=PFX] [when=N|N+|N..M] [errno=E]'."))
    p.add_argument("--match", action="append", default=[], metavar="RULE", required=True,
                   help="a rule (repeatable; the first that fires decides)")
    p.add_argument("--errno", default="EACCES", help="errno name or number (default EACCES)")
    p.add_argument("--extack", default=None, metavar="MSG",
                   help="extended-ack message (sent when the socket enabled NETLINK_EXT_ACK)")
    p.add_argument("--syscall-errno", action="store_true",
                   help="fail the send syscall itself instead of replying with an NLMSGERR")
    p.add_argument("--log", default=None, metavar="FILE",
                   help="JSON lines: every intercepted message and the decision ('-': stderr)")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    return p


def main(argv: list[str] | None = None) -> int:
    """``nlcore inject`` entry point; returns the program's exit status (125: our error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = _parser()
    if "--" in argv:
        i = argv.index("--")
        args = p.parse_args(argv[:i])
        args.cmd = argv[i + 1:]
    else:
        args = p.parse_args(argv)
    if not args.cmd:
        p.error("no command given (use: nlcore inject --match RULE -- CMD [ARGS...])")
    try:
        rules = [parse_rule(r) for r in args.match]
        parse_errno(args.errno)
    except ValueError as exc:
        p.error(str(exc))
    log: IO[str] | None = None
    try:
        log = sys.stderr if args.log == "-" else open(args.log, "w") if args.log else None
        res = run(args.cmd, rules, errno=args.errno, extack=args.extack,
                  syscall_errno=args.syscall_errno, log=log, forward_signals=True)
    except OSError as exc:
        print(f"nlcore inject: {exc.strerror or exc}", file=sys.stderr)
        return 125
    finally:
        if log is not None and log is not sys.stderr:
            log.close()
    if res.stats.get("errors"):
        print(f"nlcore inject: {res.stats['errors']} syscall(s) failed in the supervisor "
              f"(sends fail closed); first: {res.first_error}", file=sys.stderr)
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
