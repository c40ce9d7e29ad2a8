"""The ``nlcore`` command: ``decode``, iproute2-shaped ``addr`` and ``-batch``, and dispatch.

Exit status (see docs/cli.md): 0 success; 1 a bad value or input (nothing was sent), a missing
device, namespace or file, or (``-batch``, like ``ip -batch``) any command that failed; 2 a
usage error, or the kernel refused the request (as ``ip`` exits 2 for "RTNETLINK answers").
User errors print one line, never a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from ..codec.batchfile import matches
from ..codec.errors import KernelError, NlcoreError
from .common import Globals, UsageError, UserError, check_netns, err_line, kernel_line

USAGE = """\
usage: nlcore [-n NETNS] [-j] [-4|-6] addr {add|del|replace} ADDR[/PLEN] [peer P[/PLEN]]
                  dev NAME|index N [broadcast B|+|-] [label L] [scope S] [metric N] [proto N]
                  [valid_lft N|forever] [preferred_lft N|forever] [nodad] [noprefixroute]
                  [mngtmpaddr] [optimistic] [home] [autojoin] [--dry-run]
       nlcore [-n NETNS] [-j] [-4|-6] addr show [dev NAME]
       nlcore [-n NETNS] [-j] -batch FILE|-
       nlcore [-n NETNS] [-j] [-4|-6] sync FILE|- [--dry-run] [--dev NAME]... (see docs/runtime.md)
       nlcore [-n NETNS] [-j] monitor [link|addr|route|neigh]...
       nlcore decode [-j] [--errno N] [HEX | '[64, 0, ...]']   (stdin when absent or -)
       nlcore repro|inject|bench ARGS..."""
DISPATCH = {"repro": "..faults.repro", "inject": "..faults.seccomp.inject", "bench": "..bench.job"}


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(args)
    except UsageError as e:
        err_line(f"nlcore: {e}\n{USAGE}")
        return 2
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
        if g.netns or g.family:
            raise UsageError("decode takes only -j")
        from .decode import decode_main

        return decode_main(rest + (["-j"] if g.json else []))
    if cmd in DISPATCH:
        if g.given:
            raise UsageError(f"put options after {cmd!r}: nlcore {cmd} ARGS...")
        return dispatch(cmd, rest)
    if cmd in ("sync", "monitor"):  # take the global options (-n, -j, -4/-6)
        from importlib import import_module

        return int(import_module(f".{cmd}", __package__).main_with(g, rest))
    if cmd == "help":
        print(USAGE)
        return 0
    if not matches(cmd, "address"):
        raise UsageError(f'object "{cmd}" is unknown (nlcore knows addr, decode, -batch, '
                         f'{", ".join(DISPATCH)})')
    from .addr import addr_main

    return addr_main(g, rest)


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
