"""``nlcore -batch FILE``: an ``ip -batch`` file of ``addr`` commands, streamed through the engine.

The file is read a window of lines at a time (65,536; bounded memory for any size): the
common lines are parsed in bulk (codec.bulk_batch), the others line by line, and each window
is one engine call. Malformed lines (and lines naming a device that does not exist) are
reported with their line number and skipped; every good line is still applied, in file order.
"""

from __future__ import annotations

import contextlib
import json
import sys
from array import array
from typing import Any, BinaryIO

from ..codec import bulk_batch as BB
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


class _Names:
    """Device names resolved once per run: name -> index, or the error text."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.known: dict[str, int | str] = {}
        self.fast: dict[bytes, int] = {}  # names good for the fast path -> index

    def get(self, name: str) -> int | str:
        if name not in self.known:
            try:
                self.known[name] = resolve(self.conn, name)
            except UserError as e:
                self.known[name] = str(e)
            except KernelError as e:
                self.known[name] = kernel_line(e)
        where: int | str = self.known[name]
        return where

    def index_column(self, scan: BB.Scan) -> array[int] | None:
        """The index of every fast candidate; None if some name cannot take the fast path."""
        for dev in set(scan.devs) - self.fast.keys():
            try:
                check_ifname(dev.decode())
            except SpecError:
                return None
            where = self.get(dev.decode())
            if not isinstance(where, int):
                return None
            self.fast[dev] = where
        fast = self.fast
        return array("I", [fast[d] for d in scan.devs])


def _demote(scan: BB.Scan, names: _Names) -> None:
    """Send the candidates whose device cannot take the fast path to the slow path."""
    keep = BB.Scan(keys=scan.keys, slow=scan.slow)
    for a, d, k, i in zip(scan.addrs, scan.devs, scan.kinds, scan.lines):
        ok = d in names.fast
        if not ok:
            try:
                check_ifname(d.decode())
                ok = isinstance(names.get(d.decode()), int)
            except SpecError:
                ok = False
            if ok:
                names.fast[d] = int(names.get(d.decode()))
        if ok:
            keep.addrs.append(a)
            keep.devs.append(d)
            keep.kinds.append(k)
            keep.lines.append(i)
        else:
            scan.slow.append(i)
    scan.addrs, scan.devs, scan.kinds, scan.lines = keep.addrs, keep.devs, keep.kinds, keep.lines


def _window(g: Globals, conn: Conn, names: _Names, first: int, lines: list[bytes],
            problems: list[Problem]) -> tuple[int, int]:
    """Parse and apply one window; returns (commands, applied)."""
    scan = BB.scan_window(lines)
    index = names.index_column(scan)
    if index is None:
        _demote(scan, names)
        index = names.index_column(scan)
        assert index is not None
    recs, marks = BB.bulk_records(scan, index)
    fast_lines = scan.lines
    if marks.count(1) or g.family:
        fams = recs[4::BB.SIZE]
        good = [i for i, m in zip(fast_lines, marks) if not m]
        if g.family:
            keep = [j for j, f in enumerate(fams) if f == g.family]
            if len(keep) != len(good):
                recs = b"".join(recs[j * BB.SIZE:(j + 1) * BB.SIZE] for j in keep)
                good_set = {good[j] for j in keep}
                scan.slow += [i for i in good if i not in good_set]
                good = [good[j] for j in keep]
        scan.slow += [i for i, m in zip(fast_lines, marks) if m]
        fast_lines = array("I", good)
    commands = len(fast_lines)
    slow: list[tuple[int, AddrSpec, str]] = []
    for b in BB.slow_commands(first, lines, sorted(scan.slow)):
        commands += 1
        cmd = b.command
        if cmd is None:
            problems.append((b.lineno, "malformed", b.text, b.error))
            continue
        where = cmd.index if cmd.index is not None else names.get(str(cmd.dev))
        try:
            spec = family_checked(g, cmd, where if isinstance(where, int) else 0)
        except ValueError as e:
            problems.append((b.lineno, "malformed", b.text, str(e)))
            continue
        if isinstance(where, str):
            problems.append((b.lineno, "failed", b.text, where))
            continue
        slow.append((b.lineno, spec, b.text))
    specs = BB.WindowSpecs(first, lines, recs, fast_lines, slow)
    if not len(specs):
        return commands, 0
    report = apply(specs, conn)
    failed = 0
    for i, r in report.failures():
        failed += 1
        problems.append((specs.linenos[i], "failed" if r.error else r.status, specs.text(i), r))
    return commands, len(specs) - failed


def run_batch(g: Globals, path: str, window: int = 65536) -> int:
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
        names = _Names(conn)
        for first, lines in BB.iter_windows(f, window):
            problems: list[Problem] = []
            c, a = _window(g, conn, names, first, lines, problems)
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
