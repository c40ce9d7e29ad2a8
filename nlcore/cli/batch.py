"""``nlcore -batch FILE``: an ``ip -batch`` file of ``addr`` commands, streamed through the engine.

The file is read a window of lines at a time (about 4 MiB; bounded memory for any size): the
common lines are parsed in bulk (codec.bulk_batch), the others line by line, and each window
is one engine call. Malformed lines (and lines naming a device that does not exist) are
reported with their line number and skipped; every good line is still applied, in file order.
"""

from __future__ import annotations

import contextlib
import json
import sys
from array import array
from functools import partial
from typing import Any, BinaryIO, Callable

from ..codec import bulk_batch as BB
from ..codec.batchfile import BatchLine
from ..codec.errors import KernelError, SpecError
from ..codec.spec import AddrSpec, check_ifname
from ..net.conn import Conn
from ..ops.engine import apply
from .addr import family_checked
from .common import Globals, UserError, err_line, kernel_line, open_conn, resolve, result_line


def open_input(path: str) -> BinaryIO:
    """FILE (``-``: stdin) opened for reading bytes; UserError like ``ip``'s if it cannot be."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as e:
        raise UserError(f'Cannot open file "{path}" for reading: {e.strerror or e}') from None


def read_input(path: str) -> bytes:
    """The bytes of FILE (``-``: stdin); UserError like ``ip``'s if it cannot be read."""
    with contextlib.ExitStack() as stack:
        f = open_input(path)
        if f is not sys.stdin.buffer:
            stack.enter_context(f)
        return f.read()


Problem = tuple[int, str, str, Any]  # (line, kind, text, error text or result)


class Names:
    """Device names resolved once per run: name -> index, or the error text; the good ones
    also in the table the batch scan looks names up in."""

    def __init__(self, lookup: Callable[[str], int]) -> None:
        self.lookup = lookup  # name -> index; UserError or KernelError if there is none
        self.known: dict[str, int | str] = {}
        self.table: list[bytes] = []
        self.index = array("I")

    def get(self, name: str) -> int | str:
        if name not in self.known:
            try:
                self.known[name] = self.lookup(name)
            except UserError as e:
                self.known[name] = str(e)
            except KernelError as e:
                self.known[name] = kernel_line(e)
        where: int | str = self.known[name]
        return where

    def learn(self, raw: bytes) -> bool:
        """Add a fast line's device to the table if it is a good name; True if added."""
        dev = raw.split()[4]
        if dev in self.table:
            return False
        try:
            name = dev.decode()
            check_ifname(name)
        except (SpecError, UnicodeDecodeError):
            return False
        where = self.get(name)
        if not isinstance(where, int):
            return False
        self.table.append(dev)
        self.index.append(where)
        return True


def parse_window(g: Globals, names: Names, first: int, text: bytes,
                 problems: list[Problem]) -> tuple[int, BB.WindowSpecs]:
    """(commands, the good ones in line order) of one window; its bad lines in problems."""
    family = g.family or 0
    recs, rec_lines, slow, nname = BB.scan(text, names.table, names.index, family)
    lines: list[bytes] | None = None
    if nname:
        lines = text.split(b"\n")
        unknown = [lines[i & 0x7FFFFFFF] for i in slow if i & 0x80000000]
        if sum([names.learn(raw) for raw in unknown]):
            recs, rec_lines, slow, nname = BB.scan(text, names.table, names.index, family)
    commands = len(rec_lines)
    goods: list[tuple[int, AddrSpec, str]] = []
    if slow:
        lines = text.split(b"\n") if lines is None else lines
        for b in BB.slow_commands(first, lines, sorted(i & 0x7FFFFFFF for i in slow)):
            commands += 1
            spec = _slow_spec(g, names, b, problems)
            if spec is not None:
                goods.append((b.lineno, spec, b.text))
    return commands, BB.WindowSpecs(first, text, recs, rec_lines, goods)


def _window(g: Globals, conn: Conn, names: Names, first: int, text: bytes,
            problems: list[Problem]) -> tuple[int, int]:
    """Parse and apply one window; returns (commands, applied)."""
    commands, specs = parse_window(g, names, first, text, problems)
    if not len(specs):
        return commands, 0
    report = apply(specs, conn)
    failed = 0
    for i, r in report.failures():
        failed += 1
        problems.append((specs.lineno(i), "failed" if r.error else r.status, specs.text(i), r))
    return commands, len(specs) - failed


def _slow_spec(g: Globals, names: Names, b: BatchLine, problems: list[Problem]
               ) -> AddrSpec | None:
    """The spec of a line read the careful way, or None with its problem noted."""
    cmd = b.command
    if cmd is None:
        problems.append((b.lineno, "malformed", b.text, b.error))
        return None
    where = cmd.index if cmd.index is not None else names.get(str(cmd.dev))
    try:
        spec = family_checked(g, cmd, where if isinstance(where, int) else 0)
    except ValueError as e:
        problems.append((b.lineno, "malformed", b.text, str(e)))
        return None
    if isinstance(where, str):
        problems.append((b.lineno, "failed", b.text, where))
        return None
    return spec


def run_batch(g: Globals, path: str, window: int = 1 << 22) -> int:
    """``nlcore -batch FILE``: the file read and applied a window of lines at a time, every
    good line applied in file order, every bad one reported as ``FILE:LINE: ...``; exit
    status 1 if any line failed (as ``ip -batch``)."""
    src = "<stdin>" if path == "-" else path
    commands = applied = nproblems = malformed = 0
    kept: list[Problem] = []
    with contextlib.ExitStack() as stack:
        f = open_input(path)
        if f is not sys.stdin.buffer:
            stack.enter_context(f)
        conn = stack.enter_context(open_conn(g))
        names = Names(partial(resolve, conn))
        for first, text in BB.iter_windows(f, window):
            problems: list[Problem] = []
            c, a = _window(g, conn, names, first, text, problems)
            commands, applied = commands + c, applied + a
            problems.sort(key=lambda p: p[0])
            nproblems += len(problems)
            malformed += sum(p[1] == "malformed" for p in problems)
            if g.json:
                kept += problems  # printed after the JSON summary, as before
            else:
                _print(src, problems)
    if g.json:
        print(json.dumps({"commands": commands, "applied": applied,
                          "failures": [_problem_json(*p) for p in kept]}))
        _print(src, kept)
    if nproblems:
        err_line(f"nlcore -batch: {applied} of {commands} commands applied, {nproblems} "
                 f"failed ({malformed} malformed)")
    return 1 if nproblems else 0


def _print(src: str, problems: list[Problem]) -> None:
    for lineno, kind, text, what in problems:
        detail = result_line(what) if not isinstance(what, str) else what
        err_line(f"{src}:{lineno}: {kind}: {text + ': ' if kind != 'malformed' else ''}{detail}")


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
