"""``nlcore inject``: netlink-level errors injected into any program, through seccomp.

::

    nlcore inject --match 'RTM_NEWADDR family=inet6' --errno EACCES \\
        [--extack MSG] [--syscall-errno] [--log FILE] -- ip addr add fe80::1/64 dev v0

A trampoline (:mod:`~nlcore.faults.seccomp.spawn`) sets no_new_privs, installs a
SECCOMP_RET_USER_NOTIF filter (no exception: this process takes the listener with
``pidfd_getfd``) for every syscall that can put bytes into or take them out of a socket, and
runs the command in a PID namespace of its own when it can, so that the whole tree dies
with its supervisor. The native supervisor (``csrc/supervise.c``, through
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
import subprocess
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Sequence, Union

from . import bpf as _bpf
from . import native as _native
from . import notify as _notify
from . import output as _output
from . import spawn as _spawn
from .rules import Rule, RuleSet, parse_errno, parse_rule
from .supervisor import Supervisor

__all__ = ["InjectResult", "main", "run"]


@dataclass
class InjectResult:
    """What :func:`run` returns: the program's exit status and the supervisor's counters."""

    returncode: int
    stats: dict[str, int] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)  # occurrences seen per rule
    first_error: str = ""  # the first notification the supervisor could not handle
    engine: str = ""  # "native" (csrc/supervise.c) or "pure" (the Python supervisor)
    killable: bool = False  # the kernel took WAIT_KILLABLE_RECV (no answer lost to signals)
    tree: bool = False  # the program ran in a PID namespace: its whole tree dies with us
    stdout: Any = None  # captured output (capture_output=True or stdout=PIPE), else None
    stderr: Any = None


RuleArg = Union[Rule, str]


def _raise_fd_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard one: the supervisor holds a duplicate of every
    route socket with replies pending, so its fd limit is the only bound on them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(cmd: Sequence[str], rules: Sequence[RuleArg], *, errno: int | str = _errno.EACCES,
        extack: str | None = None, syscall_errno: bool = False, log: IO[str] | None = None,
        popen: Callable[..., subprocess.Popen[Any]] = subprocess.Popen,
        forward_signals: bool = False, capture_output: bool = False,
        **popen_kw: Any) -> InjectResult:
    """Run ``cmd`` with netlink requests matching ``rules`` failing with ``errno``.

    ``rules`` are :class:`Rule` objects or ``--match`` strings; ``popen`` starts the
    trampoline (``ThrowawayNetns.popen`` runs the program inside a namespace) and gets
    ``popen_kw`` (stdin, stdout, env...). Blocks until every task under the filter is gone.
    ``forward_signals`` (main thread only) relays SIGTERM/SIGHUP to the program and ignores
    SIGINT/SIGQUIT, which a terminal delivers to the program directly.
    ``capture_output`` (or ``stdout``/``stderr=subprocess.PIPE``) collects the output into
    the result, drained while the program runs (no deadlock however much it writes).
    """
    if not cmd:
        raise ValueError("no command to run")
    ruleset = RuleSet([r if isinstance(r, Rule) else parse_rule(r) for r in rules])
    err = parse_errno(errno)
    _notify.check_sizes()
    native = _native.load() if log is None else None
    if capture_output:
        popen_kw.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sp = _spawn.spawn(cmd, popen, popen_kw, _bpf.NOTIFIED_SYSCALLS)
    proc, listener = sp.proc, sp.listener
    _raise_fd_limit()  # after the spawn: the program keeps the limits it was given
    drains = _output.Drains(proc)
    sup: Supervisor | _native.NativeSupervisor
    try:
        sup = (_native.NativeSupervisor(native, listener, ruleset, err, extack, syscall_errno)
               if native is not None else
               Supervisor(listener, ruleset, err, extack, syscall_errno, log, sp.killable))
        if isinstance(sup, _native.NativeSupervisor):
            sup.set_killable(sp.killable)
    except BaseException:
        os.close(listener)
        proc.kill()
        drains.join()
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
        out, errs = drains.join()
    return InjectResult(code, stats, list(ruleset.counts), first_error, sup.ENGINE,
                        sp.killable, sp.tree, out, errs)


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
