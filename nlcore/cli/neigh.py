"""``nlcore neigh add|del|replace|change|show``, iproute2-shaped (``ip neigh``)."""

from __future__ import annotations

from typing import Any

from ..codec import consts as C
from ..codec.iproute_neigh import neigh_command, parse_neigh_args
from ..codec.iproute_words import CommandError, Words, get_addr
from .common import Globals, open_conn
from .objects import failed, names_of, print_rows, run_spec, show_dev

#: NUD bits in print_neigh_state's order
NUD_NAMES = ((0x01, "INCOMPLETE"), (0x02, "REACHABLE"), (0x04, "STALE"), (0x08, "DELAY"),
             (0x10, "PROBE"), (0x20, "FAILED"), (0x40, "NOARP"), (0x80, "PERMANENT"))
NTF_ROUTER, NTF_PROXY = 0x80, 0x08


def neigh_main(g: Globals, words: list[str]) -> int:
    """``nlcore neigh ...``; returns the exit status."""
    try:
        op = neigh_command(words[0]) if words else "show"
        if op == "show":
            return neigh_show(g, words[1:])
        spec = parse_neigh_args(op, words[1:], g.family).spec()
    except CommandError as e:
        return failed(e)
    return run_spec(g, spec)


def neigh_entry(m: Any, names: dict[int, str], hide_dev: bool = False
                ) -> tuple[str, dict[str, Any]]:
    """(the ``ip neigh`` line, the ``ip -j neigh`` object) of one NeighMsg."""
    text: list[str] = []
    js: dict[str, Any] = {}
    if m.dst is not None:
        js["dst"] = m.dst
        text.append(m.dst)
    if m.index and not hide_dev:
        js["dev"] = names.get(m.index, f"if{m.index}")
        text += ["dev", js["dev"]]
    if m.lladdr is not None:
        js["lladdr"] = m.lladdr
        text += ["lladdr", m.lladdr]
    for bit, word in ((NTF_ROUTER, "router"), (NTF_PROXY, "proxy")):
        if m.ndm_flags & bit:
            js[word] = None
            text.append(word)
    if m.state:
        js["state"] = [name for bit, name in NUD_NAMES if m.state & bit]
        text += js["state"]
    return " ".join(text) + " ", js


def neigh_show(g: Globals, words: list[str]) -> int:
    """``neigh show [dev D] [proxy] [ADDR]``."""
    from ..codec.decode import NeighMsg
    from ..codec.neigh import encode_getneigh

    dev = addr = None
    proxy = False
    w = Words(words)
    for word in w:
        if word == "dev":
            dev = w.next()
        elif word == "proxy":
            proxy = True
        else:
            if word == "to":
                word = w.next()
            addr = get_addr(word, g.family)[1]
    with open_conn(g) as conn:
        index = show_dev(conn, dev) if dev else 0
        msgs = conn.request(encode_getneigh(g.family, index, proxy=proxy))
        names = names_of(conn)
    lines, out = [], []
    for m in msgs:
        if not isinstance(m, NeighMsg) or (g.family and m.family != g.family):
            continue
        if m.family not in (C.AF_INET, C.AF_INET6) or (index and m.index != index):
            continue
        if bool(m.ndm_flags & NTF_PROXY) != proxy or (addr is not None and m.dst != addr):
            continue
        if not proxy and m.state in (0, 0x40):  # ip hides NONE and NOARP entries by default
            continue
        line, js = neigh_entry(m, names, bool(index))
        lines.append(line)
        out.append(js)
    return print_rows(g, lines, out)
