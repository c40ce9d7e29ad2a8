"""``nlcore link set|show``, iproute2-shaped (``ip link``)."""

from __future__ import annotations

import json

from ..codec.iproute_link import link_command, parse_link_args
from ..codec.iproute_words import CommandError
from .common import Globals, UsageError, UserError, open_conn
from .objects import failed, run_spec


def link_main(g: Globals, words: list[str]) -> int:
    """``nlcore link ...``; returns the exit status."""
    try:
        op = link_command(words[0]) if words else "show"
        if op == "show":
            return link_show(g, words[1:])
        cmd = parse_link_args(op, words[1:])
        spec = cmd.spec()
    except CommandError as e:
        return failed(e)
    return run_spec(g, spec)


def link_show(g: Globals, words: list[str]) -> int:
    """``link show [[dev] NAME]``: the link lines of ``ip link`` / ``ip -j link``."""
    import errno as E

    from ..codec.errors import KernelError
    from ..ops.link import get_link, links
    from .show import render

    if words[:1] == ["dev"]:
        words = words[1:]
        if not words:
            raise UsageError('"dev" needs a value: dev NAME')
    if len(words) > 1:
        raise UsageError(f'unexpected "{words[1]}": link show [dev NAME]')
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
    out = render(lks, [], g.json)
    if g.json:
        for obj in out:
            if isinstance(obj, dict):
                obj.pop("addr_info", None)
        print(json.dumps(out))
    else:
        print("\n".join(str(x) for x in out))
    return 0
