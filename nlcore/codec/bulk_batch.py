"""``-batch`` files at file speed: windows of lines, the common ``addr`` lines in bulk.

:func:`iter_windows` reads a batch file (any binary stream) in windows of whole commands (a
window never ends inside a ``\\`` continuation), so a file of any size is parsed with
bounded memory. :func:`scan_window` splits a window into the lines of the fast form

    ``a[ddress] add|del|replace ADDR[/PLEN] dev NAME [FLAG...]``    (FLAG: nodad, home...)

with nothing else on the line (no comment, quote, backslash or non-ASCII byte), and the
others. The fast lines become records in one backend call (:mod:`nlcore.codec.bulk`); every
other line, and every fast line the bulk call rejects, goes through :func:`parse_batch`'s
path (:func:`slow_commands`), so its error is exactly the per-line error of today.

The ``families`` dispatch for route/neigh/link lines plugs in at :func:`slow_commands`
(lines that are not ``addr`` lines never take the fast path).
"""

from __future__ import annotations

import bisect
import struct
from array import array
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Sequence, overload

from . import bulk as B
from ._pure import ADDR_REC
from .batchfile import (
    ADDR_COMMANDS,
    BatchLine,
    addr_command,
    iter_commands,
    matches,
    parse_command,
    split_words,
)
from .errors import SpecError
from .spec import FLAG_WORDS, AddrSpec

SIZE = _SIZE = ADDR_REC.size
_INDEX = struct.Struct("=I")
#: the first word of a fast line: every abbreviation of "address"
FAST_OBJECTS = frozenset("address"[:k].encode() for k in range(1, 8))


def _fast_ops() -> dict[bytes, str]:
    out: dict[bytes, str] = {}
    for keyword, _ in ADDR_COMMANDS:
        for k in range(1, len(keyword) + 1):
            word = keyword[:k]
            try:
                op = addr_command(word)
            except SpecError:
                continue
            if op in ("add", "del", "replace") and matches(word, keyword):
                out[word.encode()] = op
    return out


#: the second word: every abbreviation ``ip addr`` reads as add, del or replace
FAST_OPS = _fast_ops()
FAST_FLAGS = frozenset(w.encode() for w in FLAG_WORDS)
#: bytes that send a whole window through the careful per-line check
_SPECIAL = (b"#", b"\\", b'"', b"'", b"\x1c", b"\x1d", b"\x1e", b"\x1f")


def continues(raw: bytes) -> bool:
    """Does this raw line continue on the next one (``\\`` at its end, comment removed)?"""
    return raw.split(b"#", 1)[0].rstrip(b"\r").endswith(b"\\")


def iter_windows(stream: BinaryIO, lines: int = 65536,
                 block: int = 1 << 20) -> Iterator[tuple[int, list[bytes]]]:
    """``(number of the first line, raw lines)`` of at least ``lines`` lines each (the last
    may be shorter), never cut inside a continued command."""
    first, carry, held = 1, b"", []
    while True:
        data = stream.read(block)
        if not data:
            break
        parts = (carry + data).split(b"\n")
        carry = parts.pop()
        held += parts
        if len(held) >= lines and not continues(held[-1]):
            yield first, held
            first += len(held)
            held = []
    held.append(carry)
    yield first, held


@dataclass
class Fast:
    """The fast lines of a window: their records (in line order) and where they came from."""

    records: bytes = b""
    lines: array[int] = field(default_factory=lambda: array("I"))  # index in the window


@dataclass
class Scan:
    """A window split: fast candidates (columns for the bulk call) and the other lines."""

    addrs: list[bytes] = field(default_factory=list)
    devs: list[bytes] = field(default_factory=list)
    kinds: bytearray = field(default_factory=bytearray)
    lines: array[int] = field(default_factory=lambda: array("I"))
    slow: list[int] = field(default_factory=list)  # index in the window
    keys: dict[object, int] = field(default_factory=dict)  # (op, flags) -> kind


def _careful(lines: list[bytes]) -> set[int]:
    """Lines of a window that contain a special or non-ASCII byte, or follow a continued one."""
    out: set[int] = set()
    cont = False
    for i, raw in enumerate(lines):
        if cont or not raw.isascii() or any(c in raw for c in _SPECIAL):
            out.add(i)
        cont = continues(raw)
    return out


def scan_window(lines: list[bytes]) -> Scan:
    """Split ``lines`` into fast candidates and the rest (blank lines are neither)."""
    s = Scan()
    joined = b"\n".join(lines)
    careful = _careful(lines) if not joined.isascii() or any(
        c in joined for c in _SPECIAL) else set()
    objs, ops, flags, keys = FAST_OBJECTS, FAST_OPS, FAST_FLAGS, s.keys
    addrs, devs, kinds, where, slow = s.addrs, s.devs, s.kinds, s.lines, s.slow
    for i, raw in enumerate(lines):
        w = raw.split()
        if not w:
            continue
        n = len(w)
        op = ops.get(w[1]) if n >= 5 else None
        if (op is None or w[3] != b"dev" or w[0] not in objs or i in careful
                or not (b"." in w[2] or b":" in w[2])
                or (n > 5 and not flags.issuperset(w[5:]))):
            slow.append(i)
            continue
        key = (op, *w[5:]) if n > 5 else op
        k = keys.get(key)
        if k is None:
            if len(keys) == 256:
                slow.append(i)
                continue
            k = keys[key] = len(keys)
        addrs.append(w[2])
        devs.append(w[4])
        kinds.append(k)
        where.append(i)
    return s


def templates(keys: dict[object, int]) -> bytes:
    """The records the kinds of :class:`Scan` start from (AddrSpec's op and flags)."""
    out = [b""] * len(keys)
    for key, k in keys.items():
        op, *words = key if isinstance(key, tuple) else (key,)
        out[k] = B.template(str(op), flags=b" ".join(words).decode())
    return b"".join(out)


def bulk_records(scan: Scan, index: array[int], backend: str | None = None
                 ) -> tuple[bytes, bytearray]:
    """(records of the good fast lines, marks: 1 for each fast line the bulk call rejected)."""
    n = len(scan.addrs)
    marks = bytearray(n)
    if not n:
        return b"", marks
    recs = B.load(backend).addr_bulk(b"\n".join(scan.addrs), n, templates(scan.keys),
                                     bytes(scan.kinds), index, marks)
    return bytes(recs), marks


def slow_commands(first: int, lines: list[bytes], which: list[int]) -> Iterator[BatchLine]:
    """The commands of the lines ``which`` (indexes in the window, ascending) exactly as
    :func:`parse_batch` reads them: consecutive lines are read together (continuations)."""
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
                yield BatchLine(lineno + base, text, parse_command(split_words(text)))
            except ValueError as e:  # CommandError, SpecError (a bad dev name), UnicodeError
                yield BatchLine(lineno + base, text, error=str(e))
        k = j + 1


class WindowSpecs(Sequence[AddrSpec]):
    """The good commands of a window, in line order, as one input for ``apply()``.

    ``records`` holds every record; ``linenos`` the line of each. Item ``i`` becomes an
    AddrSpec only when asked for (a failure): a slow line's is kept, a fast line's is read
    again from its text, exactly as :func:`parse_batch` would read it.
    """

    kind = "addr"

    def __init__(self, first: int, lines: list[bytes], fast: bytes, fast_lines: array[int],
                 slow: list[tuple[int, AddrSpec, str]]) -> None:
        self.first, self.lines = first, lines
        self.kept: dict[int, tuple[AddrSpec, str]] = {}
        if not slow:
            self.records, self.linenos = fast, array("I", (first + i for i in fast_lines))
            return
        pieces, linenos, at = [], array("I"), 0
        for lineno, spec, text in slow:
            cut = bisect.bisect_left(fast_lines, lineno - first, at)
            pieces.append(fast[at * _SIZE:cut * _SIZE])
            linenos.extend(first + i for i in fast_lines[at:cut])
            self.kept[len(linenos)] = (spec, text)
            pieces.append(spec.record)
            linenos.append(lineno)
            at = cut
        pieces.append(fast[at * _SIZE:])
        linenos.extend(first + i for i in fast_lines[at:])
        self.records, self.linenos = b"".join(pieces), linenos

    def text(self, i: int) -> str:
        """The command text of item ``i`` (as ``FILE:LINE: ...`` prints it)."""
        kept = self.kept.get(i)
        if kept is not None:
            return kept[1]
        return self.lines[self.linenos[i] - self.first].decode().strip()

    def __len__(self) -> int:
        return len(self.records) // _SIZE

    @overload
    def __getitem__(self, i: int) -> AddrSpec: ...
    @overload
    def __getitem__(self, i: slice) -> list[AddrSpec]: ...

    def __getitem__(self, i: int | slice) -> AddrSpec | list[AddrSpec]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("WindowSpecs index out of range")
        kept = self.kept.get(i)
        if kept is not None:
            return kept[0]
        (index,) = _INDEX.unpack_from(self.records, i * _SIZE + 8)
        return parse_command(split_words(self.text(i))).spec(index)

    def __iter__(self) -> Iterator[AddrSpec]:
        return (self[i] for i in range(len(self)))
