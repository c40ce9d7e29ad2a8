"""``nlcore addr add|del|replace|show``, iproute2-shaped."""

from __future__ import annotations

import errno as E
import json
from typing import TYPE_CHECKING

from ..codec.batchfile import AddrCommand, CommandError, addr_command, parse_addr_args
from ..codec.errors import KernelError, SpecError
from .common import Globals, UsageError, UserError, err_line, open_conn, resolve, result_line
from .objects import dev_word, print_rows

if TYPE_CHECKING:
    from ..codec.spec import AddrSpec


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
    from ..ops.engine import apply

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
    from ..codec.text import to_json
    from ..codec.wire import decode, encode_addr

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
    from ..codec.decode import AddrMsg
    from ..codec.wire import encode_getaddr
    from ..ops.link import get_link, links
    from .show import render

    name = dev_word(words, "addr show [dev NAME]")
    with open_conn(g) as conn:
        everything = links(conn)
        if name is not None:
            lks = [lk for lk in everything if lk.ifname == name]
            if not lks:
                try:  # an altname, or a device created since the dump
                    lks = [get_link(conn, name=name)]
                except KernelError as e:
                    if e.errno in (E.ENODEV, E.ENOENT):
                        raise UserError(f'Device "{name}" does not exist.') from None
                    raise
        else:
            lks = everything
        index = lks[0].index if name is not None else 0
        msgs = conn.request(encode_getaddr(g.family, index))
    addrs = [m for m in msgs if isinstance(m, AddrMsg) and (not index or m.index == index)]
    out = render(lks, addrs, g.json, family=g.family, brief=g.brief, all_links=everything)
    return print_rows(g, out, out)
