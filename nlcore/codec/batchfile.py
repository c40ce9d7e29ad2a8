"""iproute2's command syntax for addresses: ``ip addr add ...`` arguments and ``ip -batch`` files.

:func:`parse_addr_args` reads the words after ``ip addr add|del|replace`` the way ``ip`` does
(``broadcast``/``b``, ``metric``/``priority``/``pref``, ``valid_lft``/``v``... and flag words),
into an :class:`AddrCommand`; :func:`parse_batch` reads a whole ``ip -batch`` file of ``addr``
commands (``a``/``addr``/``address``; ``#`` comments, blank lines, ``\\`` continuations, quotes)
into :class:`BatchLine` entries that carry their line number and either a command or the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import SpecError
from .iproute import Command, object_of, parse_object_command
from .iproute_words import CommandError as CommandError
from .iproute_words import matches as matches
from .spec import FLAG_WORDS, AddrSpec, check_ifname

#: ``ip addr`` sub-commands nlcore runs; each accepts any prefix, as ``ip`` does, and the first
#: entry whose word starts with the prefix wins (``a`` is add, ``d`` delete, ``r`` replace).
ADDR_COMMANDS = (("add", "add"), ("change", "change"), ("chg", "change"), ("replace", "replace"),
                 ("delete", "del"), ("list", "show"), ("show", "show"), ("lst", "show"),
                 ("flush", "flush"), ("save", "save"), ("restore", "restore"))
ADDR_PROTOS = {"unspec": 0, "kernel_lo": 1, "kernel_ra": 2, "kernel_ll": 3}


def addr_command(word: str) -> str:
    """``"a"`` -> ``"add"``, ``"del"`` -> ``"del"``, ``"sh"`` -> ``"show"``...; CommandError if
    the word is no ``ip addr`` command or one that nlcore does not run."""
    for keyword, op in ADDR_COMMANDS:
        if matches(word, keyword):
            if op in ("change", "flush", "save", "restore"):
                raise CommandError(f'"ip addr {keyword}" is not supported by nlcore '
                                   f'(use add, del, replace or show)')
            return op
    raise CommandError(f'unknown command "{word}": expected add, del, replace or show')


@dataclass
class AddrCommand:
    """One ``addr add|del|replace``: the AddrSpec keywords plus where it goes.

    ``dev`` (a name still to resolve) or ``index`` (``index N``, an nlcore extension) says
    the interface.
    """

    op: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    dev: str | None = None
    index: int | None = None

    def spec(self, index: int | None = None) -> AddrSpec:
        """The AddrSpec on ``index`` (default: this command's ``index``); SpecError if bad."""
        idx = self.index if index is None else index
        return AddrSpec(index=idx or 0, op=self.op, dev=self.dev,  # type: ignore[arg-type]
                        **self.kwargs)


def _number(word: str, what: str, top: int) -> int:
    if not (word.isascii() and word.isdigit()) or int(word) > top:
        raise SpecError(f'invalid {what} "{word}": expected an integer 0..{top}')
    return int(word)


def parse_addr_args(op: str, args: list[str]) -> AddrCommand:
    """The words after ``ip addr OP`` (``198.51.100.1/24 dev v0 label v0:1 nodad``...).

    Raises CommandError naming the word that is wrong; the values themselves are checked
    when the AddrSpec is built (:meth:`AddrCommand.spec`).
    """
    cmd = AddrCommand(op)
    kw = cmd.kwargs
    flags: list[str] = []
    it = iter(range(len(args)))

    def value(i: int, key: str) -> str:
        if i + 1 >= len(args):
            raise CommandError(f'"{args[i]}" needs a value: {key} VALUE')
        next(it)
        return args[i + 1]

    def put(key: str, v: object, word: str) -> None:
        if key in kw:
            raise CommandError(f'duplicate "{word}": "{v}" is the second value')
        kw[key] = v

    for i in it:
        w = args[i]
        if w in ("peer", "remote"):
            put("peer", value(i, w), w)
            if "address" not in kw:
                kw["address_first"] = True
        elif w == "brd" or matches(w, "broadcast"):
            put("broadcast", value(i, "broadcast"), w)
        elif w == "scope":
            put("scope", value(i, w), w)
        elif w == "dev":
            v = value(i, w)
            if cmd.dev is not None or cmd.index is not None:
                raise CommandError(f'duplicate "dev": "{v}" is the second interface')
            cmd.dev = v
            check_ifname(cmd.dev)
        elif w == "index":
            v = value(i, w)
            if cmd.dev is not None or cmd.index is not None:
                raise CommandError(f'duplicate "index": "{v}" is the second interface')
            cmd.index = _number(v, "interface index", 0x7FFFFFFF)
        elif w == "label":
            put("label", value(i, w), w)
        elif matches(w, "metric") or matches(w, "priority") or matches(w, "preference"):
            put("metric", _number(value(i, "metric"), "metric", 0xFFFFFFFF), w)
        elif matches(w, "valid_lft"):
            put("valid_lft", value(i, "valid_lft"), w)
        elif matches(w, "preferred_lft"):
            put("preferred_lft", value(i, "preferred_lft"), w)
        elif w == "proto":
            v = value(i, w)
            put("proto", ADDR_PROTOS[v] if v in ADDR_PROTOS else _number(v, "proto", 255), w)
        elif w in FLAG_WORDS:
            flags.append(w)
        elif w == "anycast":
            raise CommandError('"anycast" is not supported by nlcore')
        elif w == "local":
            put("address", value(i, w), w)
        elif "address" not in kw:
            kw["address"] = w
        else:
            raise SpecError(f'either "local" is duplicate, or "{w}" is a garbage')
    if "address" not in kw:
        raise CommandError("no address given: expected ADDR[/PLEN]")
    if cmd.dev is None and cmd.index is None:
        raise CommandError('"dev NAME" (or "index N") is required')
    if flags:
        kw["flags"] = " ".join(flags)
    return cmd


# ---------------------------------------------------------------------------- batch files
def split_words(line: str) -> list[str]:
    """Split one command line like iproute2: white space separates words, ``"..."`` and
    ``'...'`` quote one word (the quote must be followed by white space)."""
    if '"' not in line and "'" not in line:
        return line.split()
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        q = line[i]
        if q in "\"'":
            end = line.find(q, i + 1)
            if end < 0:
                raise CommandError(f"unterminated quoted string {line[i:]!r}")
            if end + 1 < n and not line[end + 1].isspace():
                raise CommandError(f"quoted string {line[i:end + 1]} is not followed by "
                                   f"white space")
            words.append(line[i + 1:end])
            i = end + 1
        else:
            j = i
            while j < n and not line[j].isspace():
                j += 1
            words.append(line[i:j])
            i = j
    return words


def iter_commands(data: bytes) -> Iterator[tuple[int, str | None, str]]:
    """``(first line number, command text or None, error)`` for every non-empty command.

    ``#`` starts a comment anywhere (as in ``ip -batch``); a line ending in ``\\`` continues
    on the next one; a line that is not UTF-8 is an error.
    """
    pending: list[str] = []
    start = 0
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode()
        except UnicodeDecodeError as e:
            pending = []
            yield lineno, None, f"not valid UTF-8 (byte {raw[e.start]:#04x} at column " \
                                f"{e.start + 1})"
            continue
        line = line.split("#", 1)[0].rstrip("\r")
        if not pending:
            start = lineno
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        text = " ".join(p.strip() for p in [*pending, line] if p.strip())
        pending = []
        if text:
            yield start, text, ""
    text = " ".join(p.strip() for p in pending if p.strip())
    if text:
        yield start, text, ""


@dataclass
class BatchLine:
    """One command of a batch file: its line number, its text, and the parsed command or
    the error that makes it malformed."""

    lineno: int
    text: str
    command: AddrCommand | Command | None = None
    error: str | None = None


def parse_command(words: list[str], family: int = 0) -> AddrCommand | Command:
    """``["addr", "add", "198.51.100.1/24", "dev", "v0"]`` -> AddrCommand (add/del/replace);
    ``route``/``neigh``/``link`` lines -> their commands (see :mod:`.iproute`)."""
    obj = object_of(words[0]) if words else None
    if obj in ("route", "neigh", "link"):
        return parse_object_command(str(obj), words[1:], family)
    if not words or not matches(words[0], "address"):
        obj = words[0] if words else ""
        raise CommandError(f'unknown object "{obj}": nlcore -batch runs only "addr" commands')
    if len(words) < 2:
        raise CommandError("missing command after \"addr\": expected add, del or replace")
    op = addr_command(words[1])
    if op == "show":
        raise CommandError('"addr show" cannot be batched: expected add, del or replace')
    return parse_addr_args(op, words[2:])


def parse_batch(data: bytes, family: int = 0) -> list[BatchLine]:
    """Every command of an ``ip -batch`` file, in order (``family``: ``-4``/``-6``)."""
    out: list[BatchLine] = []
    for lineno, text, error in iter_commands(data):
        if text is None:
            out.append(BatchLine(lineno, "", error=error))
            continue
        try:
            out.append(BatchLine(lineno, text, parse_command(split_words(text), family)))
        except ValueError as e:  # CommandError, SpecError (a bad dev name), UnicodeError
            out.append(BatchLine(lineno, text, error=str(e)))
    return out

