"""``nlcore link set|show``, iproute2-shaped (``ip link``)."""

from __future__ import annotations

from ..codec.iproute_link import link_command, parse_link_args
from ..codec.iproute_words import CommandError
from .common import Globals, UserError, open_conn
from .objects import dev_word, failed, print_rows, run_spec

IFLA_LINKMODE, IFLA_GROUP = 17, 27
LINK_MODES = {0: "DEFAULT", 1: "DORMANT"}


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
    """``link show [[dev] NAME]``: ``ip link`` / ``ip -j link`` (the link lines of
    ``ip addr`` plus ``mode``)."""
    from ..codec import consts as C
    from ..ops.link import links
    from .show import LinkView, _get

    name = dev_word(words, "link show [dev NAME]")
    with open_conn(g) as conn:
        every = links(conn)
    shown = [lk for lk in every if name is None or lk.ifname == name]
    if name is not None and not shown:
        raise UserError(f'Device "{name}" does not exist.')
    known = {lk.index: lk for lk in every}
    out: list[object] = []
    for lk in shown:
        v = LinkView(lk, known)
        mode = _get(lk, IFLA_LINKMODE)
        group = _get(lk, IFLA_GROUP)
        if isinstance(group, bytes) and len(group) == 4:
            group = int.from_bytes(group, "little")
        extra = {"linkmode": LINK_MODES.get(mode, str(mode)) if isinstance(mode, int) else None,
                 "group": ("default" if group == 0 else str(group))
                 if isinstance(group, int) else None}
        if g.json:
            js = v.json()
            js.update({k: w for k, w in extra.items() if w is not None})
            out.append(js)
        else:
            words = [w for w in v.line().split(" group ")[0].split(" qlen ")[0].split()]
            if extra["linkmode"]:
                words += ["mode", extra["linkmode"]]
            if extra["group"]:
                words += ["group", extra["group"]]
            qlen = _get(lk, C.IFLA_TXQLEN)
            if qlen is not None:
                words += ["qlen", str(qlen)]
            out += [" ".join(words), v.link_layer()]
    return print_rows(g, [str(x) for x in out], out)
