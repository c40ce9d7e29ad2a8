"""``-batch`` files at file speed: windows of lines, the common ``addr`` lines in bulk.

:func:`iter_windows` reads a batch file (any binary stream) in windows of whole commands (a
window never ends inside a ``\\`` continuation), so a file of any size is parsed with
bounded memory. :func:`scan` reads a window in one backend call (``nlc_batch_scan``): the
lines of the fast form

    ``a[ddress] add|del|replace ADDR[/PLEN] dev NAME [FLAG...]``    (FLAG: nodad, home...)

with nothing else on the line (no comment, quote, backslash or non-ASCII byte), a valid
address and a known device become records; every other line goes through
:func:`parse_batch`'s path (:func:`slow_commands`), so its error is exactly the per-line
error of today.

The ``families`` dispatch for route/neigh/link lines plugs in at :func:`slow_commands`
(lines that are not ``addr`` lines never take the fast path).
"""

from __future__ import annotations

import bisect
import struct
from array import array
from typing import BinaryIO, Iterator

from . import bulk as B
from ._pure_addr import ADDR_REC
from .batchfile import AddrCommand, BatchLine, iter_commands, parse_command, split_words
from .records import RecordSpecs
from .spec import AddrSpec

SIZE = _SIZE = ADDR_REC.size
_INDEX = struct.Struct("=I")


def continues(raw: bytes) -> bool:
    """Does this raw line continue on the next one (``\\`` at its end, comment removed)?"""
    return raw.split(b"#", 1)[0].rstrip(b"\r").endswith(b"\\")


def iter_windows(stream: BinaryIO, size: int = 1 << 22) -> Iterator[tuple[int, bytes]]:
    """``(number of its first line, text)`` of windows of whole lines of about ``size``
    bytes (lines separated by ``\\n``), never cut inside a continued command."""
    first, carry = 1, b""
    while True:
        data = stream.read(size)
        if not data:
            break
        data = carry + data
        cut = data.rfind(b"\n")
        while cut >= 0 and continues(data[data.rfind(b"\n", 0, cut) + 1:cut]):
            cut = data.rfind(b"\n", 0, cut)
        if cut < 0:
            carry = data
            continue
        yield first, data[:cut]
        first += data.count(b"\n", 0, cut) + 1
        carry = data[cut + 1:]
    yield first, carry


_TEMPLATES: list[bytes] = []


def templates() -> bytes:
    """The records of add, del and replace that fast lines start from (AddrSpec's)."""
    if not _TEMPLATES:
        _TEMPLATES.append(b"".join(B.template(op) for op in ("add", "del", "replace")))
    return _TEMPLATES[0]


def scan(text: bytes, names: list[bytes], index: array[int], family: int = 0,
         backend: str | None = None) -> tuple[bytes, array[int], array[int], int]:
    """One window through the backend's batch scan: (records of the fast lines, their line
    numbers in the window from 0, the other lines (| 0x80000000: only the device name is
    unknown), how many of those)."""
    recs, lines, slow, nname = B.load(backend).batch_scan(text, templates(), names, index,
                                                          family)
    return bytes(recs), lines, slow, nname


def slow_commands(first: int, lines: list[bytes], which: list[int],
                  family: int = 0) -> Iterator[BatchLine]:
    """The commands of the lines ``which`` (indexes in the window, ascending) exactly as
    :func:`parse_batch` reads them (``family``: ``-4``/``-6``): consecutive lines are read
    together (continuations)."""
    k = 0
    while k < len(which):
        j = k
        while j + 1 < len(which) and which[j + 1] == which[j] + 1:
            j += 1
        run = b"\n".join(lines[which[k]:which[j] + 1])
        base = first + which[k] - 1
        for lineno, text, error in iter_commands(run):
            if text is None:
                yield BatchLine(lineno + base, "", error=error)
                continue
            try:
                yield BatchLine(lineno + base, text, parse_command(split_words(text), family))
            except ValueError as e:  # CommandError, SpecError (a bad dev name), UnicodeError
                yield BatchLine(lineno + base, text, error=str(e))
        k = j + 1


class WindowSpecs(RecordSpecs):
    """The good commands of a window, in line order, as one input for ``apply()``.

    ``records`` holds every record; :meth:`lineno` says the line of each. Item ``i`` becomes an
    AddrSpec only when asked for (a failure): a slow line's is kept, a fast line's is read
    again from its text, exactly as :func:`parse_batch` would read it.
    """

    def __init__(self, first: int, text: bytes, fast: bytes, fast_lines: array[int],
                 slow: list[tuple[int, AddrSpec, str]]) -> None:
        self.first, self._text = first, text
        self._lines: list[bytes] | None = None
        self.kept: dict[int, tuple[AddrSpec, str]] = {}
        if not slow:
            self.records, self.rel = fast, fast_lines
            return
        pieces, rel, at = [], array("I"), 0
        for lineno, spec, line_text in slow:
            cut = bisect.bisect_left(fast_lines, lineno - first, at)
            pieces.append(fast[at * _SIZE:cut * _SIZE])
            rel.extend(fast_lines[at:cut])
            self.kept[len(rel)] = (spec, line_text)
            pieces.append(spec.record)
            rel.append(lineno - first)
            at = cut
        pieces.append(fast[at * _SIZE:])
        rel.extend(fast_lines[at:])
        self.records, self.rel = b"".join(pieces), rel

    def lineno(self, i: int) -> int:
        """The line number of item ``i``."""
        return self.first + self.rel[i]

    def text(self, i: int) -> str:
        """The command text of item ``i`` (as ``FILE:LINE: ...`` prints it)."""
        kept = self.kept.get(i)
        if kept is not None:
            return kept[1]
        if self._lines is None:
            self._lines = self._text.split(b"\n")
        return self._lines[self.rel[i]].decode().strip()

    def spec(self, i: int) -> AddrSpec:
        """Item ``i`` as an AddrSpec: a slow line's as kept, a fast line's read again."""
        kept = self.kept.get(i)
        if kept is not None:
            return kept[0]
        (index,) = _INDEX.unpack_from(self.records, i * _SIZE + 8)
        cmd = parse_command(split_words(self.text(i)))
        assert isinstance(cmd, AddrCommand)  # a fast line is always an address command
        return cmd.spec(index)
