"""The ``nlcore`` command: ``decode``, iproute2-shaped ``addr`` and ``-batch``, and dispatch.

Exit status (see docs/cli.md): 0 success; 1 a bad value or input (nothing was sent), a missing
device, namespace or file, or (``-batch``, like ``ip -batch``) any command that failed; 2 a
usage error, or the kernel refused the request (as ``ip`` exits 2 for "RTNETLINK answers").
User errors print one line, never a traceback.
"""

from __future__ import annotations

import errno as E
import json
import os
import sys
from typing import TYPE_CHECKING, Callable

from .batchfile import AddrCommand, CommandError, addr_command, matches, parse_addr_args
from .errors import KernelError, NlcoreError, SpecError

if TYPE_CHECKING:
    from .conn import Conn
    from .engine import Result
    from .spec import AddrSpec

USAGE = """\
usage: nlcore [-n NETNS] [-j] [-4|-6] addr {add|del|replace} ADDR[/PLEN] [peer P[/PLEN]]
                  dev NAME|index N [broadcast B|+|-] [label L] [scope S] [metric N] [proto N]
                  [valid_lft N|forever] [preferred_lft N|forever] [nodad] [noprefixroute]
                  [mngtmpaddr] [optimistic] [home] [autojoin] [--dry-run]
       nlcore [-n NETNS] [-j] [-4|-6] addr show [dev NAME]
       nlcore [-n NETNS] [-j] -batch FILE|-
       nlcore decode [-j] [--errno N] [HEX | '[64, 0, ...]']   (stdin when absent or -)
       nlcore repro|inject|bench ARGS..."""
DISPATCH = {"repro": ".faults.repro", "inject": ".faults.inject", "bench": ".benchjob"}


class UsageError(Exception):
    """Wrong command-line shape: exit status 2, with the usage."""


class UserError(Exception):
    """A value, file, device or namespace that is wrong or missing: exit status 1."""


def err_line(text: str) -> None:
    """Print one line on stderr."""
    print(text, file=sys.stderr)


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


class Globals:
    """The options before the object: ``-n NETNS``, ``-j``, ``-4``/``-6``, ``-batch FILE``."""

    def __init__(self) -> None:
        self.netns: str | None = None
        self.json = False
        self.family = 0
        self.batch: str | None = None
        self.given: list[str] = []


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
        from .cli_batch import run_batch

        return run_batch(g, g.batch)
    if not args:
        raise UsageError("missing command")
    cmd, rest = args[0], args[1:]
    if cmd == "decode":
        if g.netns or g.family:
            raise UsageError("decode takes only -j")
        from .cli_decode import decode_main

        return decode_main(rest + (["-j"] if g.json else []))
    if cmd in DISPATCH:
        if g.given:
            raise UsageError(f"put options after {cmd!r}: nlcore {cmd} ARGS...")
        return dispatch(cmd, rest)
    if cmd == "help":
        print(USAGE)
        return 0
    if not matches(cmd, "address"):
        raise UsageError(f'object "{cmd}" is unknown (nlcore knows addr, decode, -batch, '
                         f'{", ".join(DISPATCH)})')
    return addr_main(g, rest)


def dispatch(name: str, argv: list[str]) -> int:
    """Run another nlcore module's ``main(argv)``, imported only now."""
    from importlib import import_module

    mod_name = DISPATCH[name]
    full = (__package__ or "nlcore") + mod_name
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


def check_netns(name: str) -> str:
    """A network namespace name as ``ip -n`` takes it: no ``/``, no ``..``, no NUL."""
    if not name or "/" in name or ".." in name or "\0" in name or name == "." \
            or len(name.encode()) > 255:
        raise UserError(f"invalid network namespace name {name!r}: a name under /run/netns, "
                        f"without '/' or '..'")
    return name


# ---------------------------------------------------------------------------- sockets
def open_conn(g: Globals) -> Conn:
    """A Conn in this namespace, or in ``/run/netns/NETNS`` for ``-n NETNS``."""
    from .conn import Conn

    if g.netns is None:
        return Conn()
    try:
        return Conn(ns=g.netns)
    except OSError as e:
        raise UserError(f'Cannot open network namespace "{g.netns}": '
                        f"{e.strerror or e}") from None


def resolve(conn: Conn, name: str) -> int:
    """``dev NAME`` -> ifindex; UserError like ``ip``'s when there is no such device."""
    from .link import index_of

    try:
        return index_of(conn, name)
    except KernelError as e:
        if e.errno in (E.ENODEV, E.ENOENT):
            raise UserError(f'Cannot find device "{name}"') from None
        raise


def kernel_line(e: KernelError) -> str:
    """``RTNETLINK answers: Permission denied (EACCES): ipv6: IPv6 is disabled on this
    device (at IFA_LOCAL); <hint>`` — iproute2's words plus errno name, extack and hint."""
    text = f"RTNETLINK answers: {e.strerror} ({e.errno_name})"
    if e.msg:
        text += f": {e.msg}"
    if e.attr:
        text += f" (at {e.attr})"
    elif e.offset is not None:
        text += f" (at offset {e.offset})"
    return text + (f"; {e.hint}" if e.hint else "")


def result_line(r: Result) -> str:
    """The one-line reason a Result is not ok."""
    if r.error is not None:
        return kernel_line(r.error)
    return f"{r.status}: {r.reason or 'no reason given'}"


# ---------------------------------------------------------------------------- addr
def addr_main(g: Globals, words: list[str]) -> int:
    """``nlcore addr add|del|replace|show ...``."""
    if not words:
        words = ["show"]
    try:
        op = addr_command(words[0])
    except CommandError as e:
        raise UsageError(str(e)) from None
    rest = words[1:]
    if op == "show":
        return addr_show(g, rest)
    dry = "--dry-run" in rest
    rest = [w for w in rest if w != "--dry-run"]
    try:
        cmd = parse_addr_args(op, rest)
    except CommandError as e:
        raise UsageError(str(e)) from None
    family_checked(g, cmd, 0)  # every value is checked before any socket is opened
    if dry:
        return dry_run(g, cmd)
    from .engine import apply

    with open_conn(g) as conn:
        index = cmd.index if cmd.index is not None else resolve(conn, str(cmd.dev))
        r = apply([cmd.spec(index)], conn)[0]
    if r.ok:
        return 0
    err_line(result_line(r))
    return 2 if r.status == "failed" else 1


def family_checked(g: Globals, cmd: AddrCommand, index: int) -> AddrSpec:
    """The command's AddrSpec; SpecError if it is not of the family ``-4``/``-6`` asked."""
    spec = cmd.spec(index)
    if g.family and spec.family != g.family:
        want = "IPv4 (-4)" if g.family == 2 else "IPv6 (-6)"
        raise SpecError(f"address {cmd.kwargs['address']!r} is not {want}")
    return spec


def dry_run(g: Globals, cmd: AddrCommand) -> int:
    """Print the request as hex (seq 0, pid 0) instead of sending it."""
    from .text import to_json
    from .wire import decode, encode_addr

    index = cmd.index
    if index is None:  # resolving a name sends one read-only RTM_GETLINK
        with open_conn(g) as conn:
            index = resolve(conn, str(cmd.dev))
    raw = encode_addr(family_checked(g, cmd, index), seq=0, pid=0)
    if g.json:
        print(json.dumps({"hex": raw.hex(), "message": to_json(decode(raw)[0])}))
    else:
        print(raw.hex())
    return 0


def addr_show(g: Globals, words: list[str]) -> int:
    """``addr show [dev NAME]``: links and their addresses, like ``ip addr``."""
    from .cli_show import render
    from .decode import AddrMsg
    from .link import get_link, links
    from .wire import encode_getaddr

    if words[:1] == ["dev"]:
        words = words[1:]
        if not words:
            raise UsageError('"dev" needs a value: dev NAME')
    if len(words) > 1:
        raise UsageError(f'unexpected "{words[1]}": addr show [dev NAME]')
    with open_conn(g) as conn:
        if words:
            try:
                lks = [get_link(conn, name=words[0])]
            except KernelError as e:
                if e.errno in (E.ENODEV, E.ENOENT):
                    raise UserError(f'Device "{words[0]}" does not exist.') from None
                raise
        else:
            lks = links(conn)
        index = lks[0].index if words else 0
        msgs = conn.request(encode_getaddr(g.family, index))
    addrs = [m for m in msgs if isinstance(m, AddrMsg) and (not index or m.index == index)]
    out = render(lks, addrs, g.json)
    print(json.dumps(out) if g.json else "\n".join(out))
    return 0

