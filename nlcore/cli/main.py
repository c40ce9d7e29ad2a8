"""The ``nlcore`` command: ``decode``, iproute2-shaped ``addr`` and ``-batch``, and dispatch.

Exit status (see docs/cli.md): 0 success; 1 a bad value or input (nothing was sent), a missing
device, namespace or file, or (``-batch``, like ``ip -batch``) any command that failed; 2 a
usage error, or the kernel refused the request (as ``ip`` exits 2 for "RTNETLINK answers").
User errors print one line, never a traceback (MemoryError included); a usage error is one
line and a hint.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from ..codec.batchfile import matches
from ..codec.errors import KernelError, NlcoreError
from .common import Globals, UsageError, UserError, check_netns, err_line, kernel_line

USAGE = """\
usage: nlcore [-V] [-n NETNS] [-j [-p]] [-br] [-4|-6] addr {add|del|replace} ADDR[/PLEN]
                  [peer P[/PLEN]]
                  dev NAME|index N [broadcast B|+|-] [label L] [scope S] [metric N] [proto N]
                  [valid_lft N|forever] [preferred_lft N|forever] [nodad] [noprefixroute]
                  [mngtmpaddr] [optimistic] [home] [autojoin] [--dry-run]
       nlcore [-n NETNS] [-j [-p]] [-br] [-4|-6] addr show [dev NAME]
       nlcore [-n NETNS] [-j] -batch FILE|-
       nlcore decode [-j] [--errno N] [--max-bytes SIZE] [INPUT...|FILE]  (stdin: none or -)
       nlcore [-n NETNS] repro|inject|bench ARGS...   (-n: the command runs inside NETNS)
       nlcore record -o TRACE -- CMD;  nlcore replay TRACE [--match RULE...] -- CMD"""
HINT = "try: nlcore help"
DISPATCH = {"repro": "..faults.repro", "inject": "..faults.seccomp.inject", "bench": "..bench.job",
            "record": "..faults.seccomp.record", "replay": "..faults.seccomp.replayer"}


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(args)
    except UsageError as e:
        err_line(f"nlcore: {e} ({HINT})")
        return 2
    except MemoryError:
        err_line("Error: out of memory: the input is too large for this machine's memory "
                 "limit (nlcore decode --max-bytes caps what is read)")
        return 1
    except KernelError as e:  # one nlcore did not expect (a failed dump...): as ip, exit 2
        err_line(kernel_line(e))
        return 2
    except (UserError, NlcoreError, ValueError) as e:
        err_line(f"Error: {e}")
        return 1
    except BrokenPipeError:  # `nlcore ... | head`: stop quietly, as ip does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        err_line(f"Error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
        return 1
    except KeyboardInterrupt:
        return 130


def _main(args: list[str]) -> int:
    g = Globals()
    while args and args[0].startswith("-") and args[0] != "-":
        a = args.pop(0)
        g.given.append(a)
        if a in ("-h", "-help", "--help"):
            print(USAGE)
            return 0
        if a in ("-V", "-Version", "--version"):
            print(version_line())
            return 0
        if a in ("-n", "-netns", "--netns", "-b", "-batch", "--batch"):
            if not args:
                raise UsageError(f"option {a} needs a value")
            if a.lstrip("-")[0] == "n":
                g.netns = check_netns(args.pop(0))
            else:
                g.batch = args.pop(0)
        elif a in ("-j", "-json", "--json"):
            g.json = True
        elif a in ("-4", "-6"):
            g.family = 2 if a == "-4" else 10
        elif a in ("-br", "-brief", "--brief"):
            g.brief = True
        elif a in ("-p", "-pretty", "--pretty"):
            g.pretty = True
        elif a != "-force":  # accepted for ip's habits: nlcore -batch always goes on
            raise UsageError(f'unknown option "{a}"')
    if g.batch is not None:
        if args:
            raise UsageError(f'unexpected "{args[0]}" after -batch FILE')
        from .batch import run_batch

        return run_batch(g, g.batch)
    if not args:
        raise UsageError("missing command")
    cmd, rest = args[0], args[1:]
    if cmd == "decode":
        if g.netns or g.family or g.brief:
            raise UsageError("decode takes only -j (it reads bytes, it opens no socket)")
        from .decode import decode_main

        return decode_main(rest + (["-j"] if g.json else []))
    if cmd in DISPATCH:
        other = [o for o in g.given if o not in ("-n", "-netns", "--netns")]
        if other:
            raise UsageError(f"{cmd} takes its own options after it (nlcore {cmd} -h); before "
                             f"it only -n NETNS")
        if g.netns is not None:
            from .common import enter_netns

            enter_netns(g.netns)
        return dispatch(cmd, rest)
    if cmd == "help":
        print(USAGE)
        return 0
    if not matches(cmd, "address"):
        raise UsageError(f'object "{cmd}" is unknown (nlcore knows addr, decode, -batch, '
                         f'{", ".join(DISPATCH)})')
    from .addr import addr_main

    return addr_main(g, rest)


def version_line() -> str:
    """``nlcore 0.1.0 (backend native: .../_native.abi3.so, CPython 3.11.7)``."""
    import platform

    from .. import __version__
    from ..codec._backend import BACKEND, native_path

    where = f": {native_path()}" if BACKEND == "native" else ""
    return (f"nlcore {__version__} (backend {BACKEND}{where}; "
            f"{platform.python_implementation()} {platform.python_version()})")


def dispatch(name: str, argv: list[str]) -> int:
    """Run another nlcore module's ``main(argv)``, imported only now."""
    from importlib import import_module
    from importlib.util import resolve_name

    mod_name = DISPATCH[name]
    full = resolve_name(mod_name, __package__ or "nlcore.cli")
    try:
        mod = import_module(mod_name, __package__)
    except ModuleNotFoundError as e:
        if e.name and full.startswith(e.name):
            raise UserError(f"nlcore {name} is not available: module {full} is missing") from None
        raise UserError(f"nlcore {name} is not available: {e}") from None
    fn: Callable[[list[str]], int] | None = getattr(mod, "main", None)
    if fn is None:
        raise UserError(f"nlcore {name} is not available: {full} has no main()")
    try:
        return int(fn(argv) or 0)
    except SystemExit as e:  # argparse's --help and usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
