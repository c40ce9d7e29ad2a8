"""``nlcore -batch FILE``: an ``ip -batch`` file of ``addr`` commands, applied in one engine call.

Malformed lines (and lines naming a device that does not exist) are reported with their line
number and skipped; every good line is still applied, in file order, in large batches.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..codec.batchfile import AddrCommand, parse_batch
from ..codec.errors import KernelError
from ..ops.engine import apply
from .addr import family_checked
from .common import Globals, UserError, err_line, kernel_line, open_conn, resolve, result_line


def read_input(path: str) -> bytes:
    """The bytes of FILE (``-``: stdin); UserError like ``ip``'s if it cannot be read."""
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise UserError(f'Cannot open file "{path}" for reading: {e.strerror or e}') from None


def run_batch(g: Globals, path: str) -> int:
    """``nlcore -batch FILE``: every good line applied in one engine call, every bad one
    reported as ``FILE:LINE: ...``; exit status 1 if any line failed (as ``ip -batch``)."""
    src = "<stdin>" if path == "-" else path
    lines = parse_batch(read_input(path), g.family)
    problems: list[tuple[int, str, str, Any]] = []  # (line, kind, text, error or result)
    specs, owners = [], []
    with open_conn(g) as conn:
        names: dict[str, int | str] = {}
        for b in lines:
            cmd = b.command
            if cmd is None:
                problems.append((b.lineno, "malformed", b.text, b.error))
                continue
            if not isinstance(cmd, AddrCommand):  # route, neigh, link: see other_spec
                got = other_spec(g, conn, cmd, names)
                if isinstance(got, tuple):
                    problems.append((b.lineno, *got))
                else:
                    specs.append(got)
                    owners.append(b)
                continue
            if cmd.index is None and cmd.dev not in names:
                try:
                    names[str(cmd.dev)] = resolve(conn, str(cmd.dev))
                except UserError as e:
                    names[str(cmd.dev)] = str(e)
                except KernelError as e:
                    names[str(cmd.dev)] = kernel_line(e)
            where = cmd.index if cmd.index is not None else names[str(cmd.dev)]
            try:
                spec = family_checked(g, cmd, where if isinstance(where, int) else 0)
            except ValueError as e:
                problems.append((b.lineno, "malformed", b.text, str(e)))
                continue
            if isinstance(where, str):
                problems.append((b.lineno, "failed", b.text, where))
                continue
            specs.append(spec)
            owners.append(b)
        report = apply(specs, conn)
    applied = 0
    for b, r in zip(owners, report):
        if r.ok:
            applied += 1
        else:
            problems.append((b.lineno, "failed" if r.error else r.status, b.text, r))
    problems.sort(key=lambda p: p[0])
    if g.json:
        print(json.dumps({"commands": len(lines), "applied": applied,
                          "failures": [_problem_json(*p) for p in problems]}))
    for lineno, kind, text, what in problems:
        detail = result_line(what) if not isinstance(what, str) else what
        err_line(f"{src}:{lineno}: {kind}: {text + ': ' if kind != 'malformed' else ''}{detail}")
    if problems:
        malformed = sum(p[1] == "malformed" for p in problems)
        err_line(f"nlcore -batch: {applied} of {len(lines)} commands applied, {len(problems)} "
                 f"failed ({malformed} malformed)")
    return 1 if problems else 0


def other_spec(g: Globals, conn: Any, cmd: Any, names: dict[str, int | str]
               ) -> Any | tuple[str, str, str]:
    """The spec of a route/neigh/link line with its device names resolved (through
    ``names``, a cache), or ``(kind, text, error)`` of the problem."""
    try:
        spec = cmd.spec()
        if g.family and cmd.family and cmd.family != g.family:
            raise ValueError(f"not {'IPv4 (-4)' if g.family == 2 else 'IPv6 (-6)'}")
    except ValueError as e:
        return "malformed", spec_text(cmd), str(e)
    idx: dict[str, int] = {}
    for name in spec.names():
        if name not in names:
            try:
                names[name] = resolve(conn, name)
            except UserError as e:
                names[name] = str(e)
            except KernelError as e:
                names[name] = kernel_line(e)
        where = names[name]
        if isinstance(where, str):
            return "failed", spec.text(), where
        idx[name] = where
    return spec.resolved(idx) if idx else spec


def spec_text(cmd: Any) -> str:
    """The command's words as nlcore prints them."""
    return f"{cmd.kind} {cmd.op} " + " ".join(f"{k} {v}" for k, v in cmd.kwargs.items())


def _problem_json(lineno: int, kind: str, text: str, what: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"line": lineno, "kind": kind, "command": text}
    err = getattr(what, "error", None)
    if isinstance(err, KernelError):
        out.update(error=-err.errno, errno=err.errno_name, message=kernel_line(err))
        if err.extack is not None:
            out["extack"] = err.extack.to_json()
    else:
        out["message"] = what if isinstance(what, str) else result_line(what)
    return out
