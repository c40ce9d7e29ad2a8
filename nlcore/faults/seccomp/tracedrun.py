"""Running a program under a :class:`~nlcore.faults.seccomp.traced.TracedSupervisor`, and
the small helpers of the ``record``/``replay`` command lines."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Callable, Sequence

from . import bpf as _bpf
from . import notify as _notify
from . import spawn as _spawn
from .traced import TracedSupervisor


def run_traced(cmd: Sequence[str], make: Callable[[int], TracedSupervisor], *,
               popen: Callable[..., subprocess.Popen[Any]] = subprocess.Popen,
               **popen_kw: Any) -> tuple[int, TracedSupervisor]:
    """Start ``cmd`` under the notification filter, serve it with ``make(listener)``;
    returns its exit status (128 + N for signal N) and the supervisor."""
    if not cmd:
        raise ValueError("no command to run")
    _notify.check_sizes()
    spawned = _spawn.spawn(cmd, popen, popen_kw, _bpf.NOTIFIED_SYSCALLS)
    proc, listener = spawned.proc, spawned.listener
    try:
        sup = make(listener)
        sup.killable = spawned.killable
    except BaseException:
        os.close(listener)
        proc.kill()
        proc.wait()
        raise
    try:
        code = sup.run(proc)
    finally:
        os.close(listener)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, sup


def split_cmd(argv: list[str]) -> tuple[list[str], list[str]]:
    """``[OPTIONS..., '--', CMD...]`` -> (options, cmd)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def err(msg: str) -> None:
    """One line on stderr."""
    print(msg, file=sys.stderr, flush=True)
