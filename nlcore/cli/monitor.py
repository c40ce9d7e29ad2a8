"""``nlcore [-n NS] [-j] monitor [link|addr|route|neigh]... [--count N]``, like ``ip monitor``.

Text: one block per event as ``ip monitor`` prints it (``Deleted`` before a removal);
``-j``: one JSON object per line, ``{"event": "RTM_NEWADDR", "message": {...}}`` with the
decoded message as ``nlcore decode -j`` prints it. An overrun (the kernel dropped events:
ENOBUFS) is printed as ``{"event": "RESYNC", ...}`` / a ``Resync needed`` line, never skipped.
``--count N`` exits after N events (an nlcore extension, for scripts).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..codec.decode import AddrMsg, LinkMsg
from ..codec.text import format_message, to_json
from ..net.events import GROUPS, Event, EventSocket
from .common import Globals, UsageError, UserError
from .show import addr_lines, link_flags

RESYNC_TEXT = "Resync needed: the kernel dropped events (ENOBUFS); re-read the state"


def event_json(ev: Event) -> dict[str, Any]:
    """The JSON object of one event."""
    if ev.resync:
        return {"event": ev.event, "reason": "ENOBUFS", "message": None}
    assert ev.message is not None
    return {"event": ev.event, "kind": ev.kind, "message": to_json(ev.message)}


def event_text(ev: Event, names: dict[int, str]) -> str:
    """The ``ip monitor`` text of one event."""
    if ev.resync:
        return RESYNC_TEXT
    m = ev.message
    pre = "Deleted " if ev.deleted else ""
    if isinstance(m, LinkMsg):
        if m.ifname:
            names[m.index] = m.ifname
        return f"{pre}{m.index}: {m.ifname}: <{','.join(link_flags(m))}> mtu {m.mtu}"
    if isinstance(m, AddrMsg):
        first, *rest = addr_lines(m)
        fam_line = f"{pre}{m.index}: {names.get(m.index, m.index)}    {first.strip()}"
        return "\n".join([fam_line, *rest])
    assert m is not None
    return pre + format_message(m)


def main_with(g: Globals, args: list[str]) -> int:
    """Print events until interrupted (or ``--count N`` of them)."""
    kinds: list[str] = []
    count = -1
    it = iter(args)
    for a in it:
        if a == "--count":
            v = next(it, "")
            if not (v.isascii() and v.isdigit()):
                raise UsageError("--count needs a number")
            count = int(v)
        elif a in GROUPS or a in ("address", "neighbour", "neighbor"):
            kinds.append({"address": "addr", "neighbour": "neigh", "neighbor": "neigh"}
                         .get(a, a))
        elif a == "all":
            kinds += list(GROUPS)
        else:
            raise UsageError(f'unknown monitor object "{a}": expected link, addr, route, neigh')
    try:
        sock = EventSocket(kinds or list(GROUPS), ns=f"/run/netns/{g.netns}" if g.netns
                           else None)
    except OSError as e:
        raise UserError(f'Cannot open network namespace "{g.netns}": {e.strerror or e}') \
            from None
    names: dict[int, str] = {}
    with sock:
        for ev in sock:
            if count == 0:
                break
            print(json.dumps(event_json(ev)) if g.json else event_text(ev, names), flush=True)
            count -= 1
            if count == 0:
                break
    sys.stdout.flush()
    return 0
