"""What ``nlcore route|neigh|link`` share: one modifying command through the engine, with
``ip``'s error lines and exit statuses (255 for a bad word, 1 for a bad address or a missing
device, 2 when the kernel refused), and what every show shares (with ``addr``): its ``[dev]
NAME`` word, the index -> name map, the output."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..codec.iproute_words import CommandError
from .common import Globals, UsageError, UserError, err_line, open_conn, resolve, result_line

if TYPE_CHECKING:
    from ..net.conn import Conn


class CommandFailed(Exception):
    """A bad command line: ``line`` is what ``ip`` prints, ``status`` its exit status."""

    def __init__(self, line: str, status: int) -> None:
        super().__init__(line)
        self.line = line
        self.status = status


def failed(e: CommandError) -> int:
    """Print ``ip``'s line for ``e``; its exit status."""
    err_line(e.line)
    return e.status


def resolve_names(conn: Conn, spec: Any) -> Any:
    """``spec`` with its device names as indexes (``Cannot find device "x"``: UserError)."""
    names = spec.names()
    if not names:
        return spec
    return spec.resolved({n: resolve(conn, n) for n in names})


def run_spec(g: Globals, spec: Any) -> int:
    """Send one spec through apply(); 0, or the failure printed and exit status 2 (1 for a
    result that is not a kernel refusal)."""
    from ..ops.engine import apply

    with open_conn(g) as conn:
        try:
            spec = resolve_names(conn, spec)
        except UserError as e:
            err_line(str(e))
            return 1
        r = apply([spec], conn)[0]
    if r.ok:
        return 0
    err_line(result_line(r))
    return 2 if r.status == "failed" else 1


def names_of(conn: Conn) -> dict[int, str]:
    """index -> interface name (one RTM_GETLINK dump)."""
    from ..ops.link import links

    return {m.index: m.ifname or f"if{m.index}" for m in links(conn)}


def show_dev(conn: Conn, name: str) -> int:
    """``dev NAME`` of a show -> index; UserError as ``ip`` words it."""
    try:
        return resolve(conn, name)
    except UserError:
        raise UserError(f'Cannot find device "{name}"') from None


def dev_word(words: list[str], usage: str) -> str | None:
    """The NAME of a show's ``[dev] NAME`` (None: no words); UsageError for a ``dev``
    without a value, or for a word after NAME (``usage`` is the hint)."""
    if words[:1] == ["dev"]:
        words = words[1:]
        if not words:
            raise UsageError('"dev" needs a value: dev NAME')
    if len(words) > 1:
        raise UsageError(f'unexpected "{words[1]}": {usage}')
    return words[0] if words else None


def dumps(obj: object, pretty: bool) -> str:
    """JSON as ``ip -j`` (compact) or ``ip -j -p`` (indented) prints it."""
    return json.dumps(obj, indent=4) if pretty else json.dumps(obj, separators=(",", ":"))


def print_rows(g: Globals, lines: list[str], rows: list[Any]) -> int:
    """What a show found, as ``ip`` prints it: with ``-j`` the JSON ``rows`` (indented with
    ``-p``), else the text ``lines`` (nothing at all for none). Returns 0."""
    if g.json:
        print(dumps(rows, g.pretty))
    elif lines:
        print("\n".join(lines))
    return 0
