"""``nlcore [-n NS] [-j] [-4|-6] sync FILE [--dry-run] [options]``: make it so.

FILE (``-``: stdin) lists the desired items in ``ip -batch`` syntax (``addr add 198.51.100.1/24
dev v0``, ``route add ...``, ``neigh add ...``, ``link set dev v0 up mtu 1400``; ``replace``
means the same as ``add``). Every device the file names is in scope: sync removes the
addresses and routes there that the file does not list, except link-local addresses and the
kernel's own routes (see docs/runtime.md). A malformed line stops everything before anything
is sent: a partial desired state would remove what the missing lines meant to keep.

Options: ``--dry-run`` prints the plan; ``--dev NAME`` puts another device in scope (to empty
it); ``--all`` puts every device in scope; ``--label PATTERN`` owns only IPv4 addresses whose
label matches; ``--proto P`` owns only routes of that protocol; ``--link-local`` also owns
link-local and kernel-made addresses; ``--kernel-routes`` also owns proto kernel routes;
``--neigh`` also owns permanent neighbours. ``-4``/``-6`` own only that family.

Exit status: 0 when every change succeeded and the dump after them found nothing different; 1
when a line is malformed, a change failed, or something drifted (another program changed the
namespace meanwhile); 2 for a usage error.
"""

from __future__ import annotations

import json
from typing import Any

from ..codec.batchfile import parse_batch
from ..codec.consts import AF_INET, AF_INET6
from ..ops.sync import Ownership, sync
from .batch import read_input
from .common import Globals, UsageError, UserError, err_line, open_conn

USAGE = ("nlcore [-n NETNS] [-j] [-4|-6] sync FILE|- [--dry-run] [--dev NAME]... [--all] "
         "[--label PATTERN]... [--proto P]... [--link-local] [--kernel-routes] [--neigh]")
_PROTOS = {"kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16}


def _options(g: Globals, args: list[str]) -> tuple[str, bool, Any, Ownership]:
    path: str | None = None
    dry = False
    devices: list[str] = []
    every = False
    labels: list[str] = []
    protos: list[int] = []
    flags = {"--link-local": False, "--kernel-routes": False, "--neigh": False}
    it = iter(args)
    for a in it:
        if a == "--dry-run":
            dry = True
        elif a in flags:
            flags[a] = True
        elif a == "--all":
            every = True
        elif a in ("--dev", "--label", "--proto"):
            v = next(it, None)
            if v is None:
                raise UsageError(f"{a} needs a value")
            if a == "--dev":
                devices.append(v)
            elif a == "--label":
                labels.append(v)
            elif v in _PROTOS or (v.isascii() and v.isdigit() and int(v) < 256):
                protos.append(_PROTOS.get(v) or int(v))
            else:
                raise UsageError(f'invalid --proto "{v}": a number 0..255 or one of '
                                 f'{", ".join(_PROTOS)}')
        elif path is None and (a == "-" or not a.startswith("-")):
            path = a
        else:
            raise UsageError(f'unexpected "{a}": {USAGE}')
    if path is None:
        raise UsageError(f"sync needs a FILE: {USAGE}")
    fams = {AF_INET: [AF_INET], AF_INET6: [AF_INET6]}.get(g.family, [AF_INET, AF_INET6])
    kinds = {"addr", "route"} | ({"neigh"} if flags["--neigh"] else set())
    own = Ownership(families=frozenset(fams), labels=frozenset(labels) if labels else None,
                    route_protos=frozenset(protos) if protos else None,
                    link_local=flags["--link-local"], kernel_routes=flags["--kernel-routes"],
                    kinds=frozenset(kinds))
    return path, dry, "all" if every else (devices or None), own


def desired_specs(data: bytes, src: str, family: int = 0) -> list[Any]:
    """The specs a sync FILE lists; UserError naming every malformed line (nothing is sent)."""
    specs, bad = [], []
    for b in parse_batch(data, family):
        cmd = b.command
        if cmd is None:
            bad.append(f"{src}:{b.lineno}: {b.error}")
            continue
        op = getattr(cmd, "op", "add")
        if op not in ("add", "replace", "set"):
            bad.append(f'{src}:{b.lineno}: "{b.text}": a sync file lists what should be there '
                       f"(add or replace), not {op}")
            continue
        try:
            specs.append(cmd.spec())
        except ValueError as e:
            bad.append(f"{src}:{b.lineno}: {e}")
    if bad:
        for line in bad:
            err_line(line)
        raise UserError(f"{len(bad)} malformed line(s) in {src}: nothing was changed")
    return specs


def main_with(g: Globals, args: list[str]) -> int:
    """``nlcore sync FILE ...``; returns the exit status."""
    path, dry, devices, own = _options(g, args)
    src = "<stdin>" if path == "-" else path
    specs = desired_specs(read_input(path), src, g.family)
    with open_conn(g) as conn:
        try:
            report = sync(specs, conn, devices=devices, ownership=own, dry_run=dry)
        except ValueError as e:  # SpecError: an item the rules would not own, a bad --dev
            raise UserError(str(e)) from None
    if g.json:
        print(json.dumps(report.to_json()))
    else:
        for line in report.lines():
            print(line)
    return 0 if report.ok else 1
